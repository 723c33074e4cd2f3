"""Web addresses found in what publishers send, made safe to link to and to compare.

A feed or an article page names its links and images with whatever it likes: relative
paths, javascript: and data: URLs, hosts in Unicode, a user:password@ in front of the
host, campaign parameters. `web_url` keeps only absolute http(s) addresses, in a form a
Markdown link destination holds as it is; `canonical_web_url` also drops the utm_*
parameters, so one article is recognised however it was linked.
"""

import re
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

# What browsers ignore in a URL, as sala.text.cooking checks it: tabs and newlines anywhere,
# control characters and spaces in front.
_URL_IGNORED = re.compile(r"[\t\n\r]")
_URL_LEADING_IGNORED = "".join(chr(code) for code in range(0x21))
# Characters left as they are in a Markdown link destination; everything else (spaces,
# parentheses, angle brackets, quotes, backslashes, non-ASCII) is percent-encoded, so the
# destination can never end early or carry a title.
_URL_SAFE = "/:?#[]@!$&'*+,;=%~-._"


def web_url(url: str | None, *, base: str | None = None) -> str | None:
    """Return `url` made absolute against `base`, if it is an http(s) address with a host.

    Return None for anything else: javascript:, data:, mailto:, a relative URL with no
    usable base, or garbage. Characters a Markdown link destination cannot hold as they
    are (spaces, parentheses, non-ASCII) come back percent-encoded.
    """
    if not url:
        return None
    cleaned = _URL_IGNORED.sub("", url).strip(_URL_LEADING_IGNORED)
    if base:
        try:
            cleaned = urljoin(base, cleaned)
        except ValueError:
            return None
    try:
        parts = urlsplit(cleaned)
        port = parts.port  # validated on reading: "http://host:99999/" is refused here
        host = parts.hostname
        if host is not None and not host.isascii():
            host = host.encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    # The host is rebuilt without any user:password@ in front, a trick to make
    # https://bank.example@elsewhere.example/ read as the bank's address.
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    address = urlunsplit(parts._replace(scheme=parts.scheme.lower(), netloc=netloc))
    return quote(address, safe=_URL_SAFE, encoding="utf-8")


def canonical_web_url(url: str | None, *, base: str | None = None) -> str | None:
    """Return `web_url(url, base=base)` without utm_* tracking parameters.

    Feeds often tag the same article's address with campaign parameters; leaving them out
    lets Sala recognise an article it already has whichever way it was linked.
    """
    absolute = web_url(url, base=base)
    if absolute is None:
        return None
    parts = urlsplit(absolute)
    if "utm_" not in parts.query:
        return absolute
    kept = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if not name.lower().startswith("utm_")
    ]
    return urlunsplit(parts._replace(query=urlencode(kept, safe=_URL_SAFE)))


def site_or_web_url(url: str) -> str | None:
    """Return `url` ready for a Markdown link or image: an http(s) address or a site path."""
    if url.startswith("/") and not url.startswith(("//", "/\\")):
        return quote(url, safe=_URL_SAFE, encoding="utf-8")
    return web_url(url)
