"""Fetch from the public internet, and only from there: Sala's one way out over HTTP.

Feeds, shared links and article images all come through `fetch`. Anyone who can type a URL
into Sala could otherwise make the server request it for them (server-side request
forgery): its own admin ports, the cloud metadata service, the office network. So every
URL, and every redirect, is checked before a connection is made, and the connection is
made to the address that was checked.

This module is longer than Sala's 600-line rule on purpose: it is the whole guard, every
step from a URL to a socket (checking the address, resolving it, pinning the connection,
following redirects, capping time and size, decoding), so that it can be reviewed in one
reading, and so that no other module can import a lower step that skips the checks.
"""

import contextlib
import functools
import ipaddress
import logging
import os
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any, Final, Literal, Self

import certifi
import httpx
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.http import parse_header_parameters
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

type Kind = Literal["feed", "page", "image"]
type RefusalCode = Literal[
    "url",  # not a web address, or one carrying a user name, a password or no host
    "scheme",  # not http: or https:
    "dns",  # the host name does not resolve
    "address",  # the host resolves to an address that is not on the public internet
    "port",  # a port other than the web's own (80, 443) or SALA_FETCH_PORTS
    "connect",  # no connection, or it broke off mid-answer
    "tls",  # the HTTPS handshake or certificate check failed
    "timeout",  # the whole fetch took longer than its time limit
    "redirects",  # too many redirects, or a loop
    "status",  # an answer other than 2xx, 304 or a redirect
    "content_type",  # not the kind of content the caller asked for
    "too_large",  # declared, sent or inflated past the size limit
    "decompression",  # an unknown or broken Content-Encoding
]
type IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Seconds one fetch may take in all (DNS, connections, redirects, body) unless the
#: caller passes `timeout`.
TIMEOUT_SECONDS: Final = 10.0
#: Bytes a body may have, on the wire and once inflated, unless the caller passes
#: `max_bytes`.
MAX_BYTES: Final = 5 * 1024 * 1024
#: Redirects followed before the fetch is refused.
MAX_REDIRECTS: Final = 5
#: How Sala names itself to the sites it fetches from.
USER_AGENT: Final = f"Sala/{version('sala')} (community forum; news fetcher)"

#: Media types accepted for each kind of fetch. Feeds also take text/plain, which static
#: hosts often send for .rss files; the feed parser judges what the bytes really are.
ACCEPTED_TYPES: Final[dict[Kind, frozenset[str]]] = {
    "feed": frozenset(
        {
            "application/rss+xml",
            "application/atom+xml",
            "application/rdf+xml",
            "application/xml",
            "text/xml",
            "application/feed+json",
            "application/json",
            "text/plain",
        }
    ),
    "page": frozenset({"text/html", "application/xhtml+xml"}),
    "image": frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"}),
}

_REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
_METADATA_ADDRESSES: Final = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
# IPv6 forms that carry an IPv4 address and reach it: judged by the address they carry.
# (IPv4-mapped addresses are found by ipaddress itself; 6to4 and Teredo are refused as
# non-global whatever they carry.)
_IPV4_CARRIERS: Final = (
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated (SIIT)
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64, as DNS64 answers on IPv6-only hosts
)


class FetchRefused(Exception):
    """Refuse a fetch: `code` is stable, for programs; `message` says what to do, for people."""

    def __init__(self, code: RefusalCode, message: str) -> None:
        super().__init__(message)
        self.code: RefusalCode = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Fetched:
    """What a fetch brought back, and what is needed to ask again only if it changed."""

    url: str  # where the body came from, after redirects
    status: int
    content_type: str  # lower-case media type without parameters; "" for a bare 304
    charset: str | None
    body: bytes  # inflated; empty when not modified
    etag: str | None
    last_modified: str | None
    not_modified: bool


@dataclass(frozen=True, slots=True)
class _Limits:
    seconds: float
    max_bytes: int
    deadline: float

    def time_left(self, url: httpx.URL) -> float:
        """Return the seconds left for this fetch; raise FetchRefused once none are."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self.timed_out(url)
        return left

    def timed_out(self, url: httpx.URL) -> FetchRefused:
        return FetchRefused(
            "timeout",
            _(
                "%(host)s did not answer within %(seconds)g seconds. The site may be slow "
                "or down; try again later."
            )
            % {"host": url.host, "seconds": self.seconds},
        )


class _Watchdog:
    """Cut the fetch's connection at its deadline, whatever it is waiting for then.

    httpx's timeouts bound each network wait, not a whole answer: a server that sends a
    byte just before each wait runs out could hold a fetch for hours, in its headers as
    well as its body. httpcore reports each connection it opens through the "trace"
    request extension; at the deadline a timer shuts that socket down, which wakes any
    read blocked on it, and the fetch is refused as timed out.
    """

    def __init__(self, limits: _Limits) -> None:
        self._socket: socket.socket | None = None
        self._timer = threading.Timer(limits.deadline - time.monotonic(), self._cut)
        self._timer.daemon = True

    def __enter__(self) -> Self:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """Note each connection's socket as it opens, and again once TLS wraps it."""
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            self._socket = info["return_value"].get_extra_info("socket")

    def _cut(self) -> None:
        # socket.socket's own shutdown even for an SSLSocket, whose override would also
        # pull the TLS state from under the reading thread. OSError: closed already, or
        # detached mid-handshake (the TLS handshake has a total timeout of its own).
        with contextlib.suppress(OSError):
            if self._socket is not None:
                socket.socket.shutdown(self._socket, socket.SHUT_RDWR)


def fetch(
    url: str,
    *,
    kind: Kind,
    etag: str | None = None,
    last_modified: str | None = None,
    timeout: float = TIMEOUT_SECONDS,
    max_bytes: int = MAX_BYTES,
) -> Fetched:
    """GET `url` from the public internet as content of `kind` and return what came back.

    Pass the `etag` and `last_modified` of an earlier fetch to ask only for a change: a
    304 returns a result with `not_modified` set and an empty body. Follow at most
    MAX_REDIRECTS redirects, checking each hop as if it were the first.

    Raise FetchRefused, and log it, for a URL that is not http(s), a host that resolves
    to any non-public address (loopback is let through only when
    SALA_FETCH_ALLOW_LOOPBACK is on), an answer that is not 2xx or 304, content not of
    `kind`, a body past `max_bytes`, or a fetch taking longer than `timeout` seconds.
    """
    limits = _Limits(seconds=timeout, max_bytes=max_bytes, deadline=time.monotonic() + timeout)
    try:
        return _fetch(url, kind=kind, etag=etag, last_modified=last_modified, limits=limits)
    except FetchRefused as refusal:
        logger.warning(
            "Refused to fetch %r (%s): %s", _without_credentials(url), refusal.code, refusal.message
        )
        raise


def _fetch(
    url: str, *, kind: Kind, etag: str | None, last_modified: str | None, limits: _Limits
) -> Fetched:
    allow_loopback = bool(settings.SALA_FETCH_ALLOW_LOOPBACK)
    headers = {
        "User-Agent": USER_AGENT,
        "Accept": ", ".join(sorted(ACCEPTED_TYPES[kind])),
        # Only gzip, which _read_body inflates under the size limit itself.
        "Accept-Encoding": "gzip",
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified

    target = _checked_url(url)
    seen = {str(target)}
    redirects = 0
    # trust_env=False: no proxy from the environment, which would connect by name and undo
    # the address check. No keep-alive: a TLS connection verified for one name must never
    # carry a request for another name that resolved to the same address.
    with (
        _Watchdog(limits) as watchdog,
        httpx.Client(
            verify=_tls_context(os.environ.get("SSL_CERT_FILE") or certifi.where()),
            trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        ) as client,
    ):
        while True:
            addresses = _public_addresses(target, allow_loopback=allow_loopback, limits=limits)
            with (
                _network_errors_refused(target, limits),
                contextlib.closing(
                    _send(
                        client,
                        target,
                        addresses,
                        headers=headers,
                        extensions={"trace": watchdog.trace},
                        limits=limits,
                    )
                ) as response,
            ):
                location = response.headers.get("location")
                if response.status_code not in _REDIRECT_STATUSES or location is None:
                    return _result(
                        response,
                        target,
                        kind=kind,
                        etag=etag,
                        last_modified=last_modified,
                        limits=limits,
                    )
            if redirects == MAX_REDIRECTS:
                raise FetchRefused(
                    "redirects",
                    _(
                        "%(url)s redirects more than %(count)s times. Use the address it "
                        "finally leads to, as a browser shows it."
                    )
                    % {"url": url, "count": MAX_REDIRECTS},
                )
            target = _redirect_target(target, location)
            if str(target) in seen:
                raise FetchRefused(
                    "redirects",
                    _(
                        "%(url)s redirects in a loop (back to %(target)s). The site is "
                        "misconfigured; try again later."
                    )
                    % {"url": url, "target": target},
                )
            seen.add(str(target))
            redirects += 1


def _checked_url(url: str) -> httpx.URL:
    """Return `url` parsed; refuse anything but an http(s) URL with a host and no credentials."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise FetchRefused(
            "url", _("“%(url)s” is not a valid web address.") % {"url": url}
        ) from None
    if not parsed.scheme:
        raise FetchRefused(
            "scheme",
            _("“%(url)s” is not a full web address: start it with https:// or http://.")
            % {"url": url},
        )
    if parsed.scheme not in ("http", "https"):
        raise FetchRefused(
            "scheme",
            _(
                "Only web addresses starting with https:// or http:// can be fetched, "
                "not %(scheme)s: addresses."
            )
            % {"scheme": parsed.scheme},
        )
    if parsed.userinfo:
        raise FetchRefused(
            "url",
            _(
                "The address contains a user name or password (before an @). Remove "
                "them: Sala does not send credentials."
            ),
        )
    if not parsed.host:
        raise FetchRefused(
            "url", _("“%(url)s” has no host name. Check the address.") % {"url": url}
        )
    return parsed


def _redirect_target(url: httpx.URL, location: str) -> httpx.URL:
    """Return where a redirect from `url` to `location` leads, checked like a first URL."""
    try:
        joined = url.join(location)
    except httpx.InvalidURL:
        raise FetchRefused(
            "url",
            _("%(url)s redirects to “%(location)s”, which is not a valid web address.")
            % {"url": url, "location": location},
        ) from None
    return _checked_url(str(joined))


def _public_addresses(url: httpx.URL, *, allow_loopback: bool, limits: _Limits) -> list[IPAddress]:
    """Return the addresses `url`'s host resolves to; refuse if any is not public.

    One bad address among good ones is enough: a connection could go to any of them, and
    a name that mixes both is a trick, not an accident.
    """
    host = url.raw_host.decode("ascii")
    addresses = _resolve(url, limits=limits)
    for address in addresses:
        reason = _why_not_public(address, allow_loopback=allow_loopback)
        if reason is not None:
            raise FetchRefused(
                "address",
                _(
                    "Sala does not fetch %(url)s: %(host)s leads to %(address)s, %(reason)s. "
                    "Only addresses on the public internet can be fetched."
                )
                % {"url": url, "host": host, "address": address, "reason": reason},
            )
    port = url.port or (443 if url.scheme == "https" else 80)
    on_loopback = allow_loopback and all(address.is_loopback for address in addresses)
    # Other ports would let a member map which services a public host runs (this
    # server's own public address included) from the errors they get back.
    if not on_loopback and port not in {80, 443, *settings.SALA_FETCH_PORTS}:
        raise FetchRefused(
            "port",
            _(
                "Sala fetches web addresses on the usual ports (80 and 443) only, not "
                "%(port)d. Use the site's ordinary address."
            )
            % {"port": port},
        )
    return addresses


def _resolve(url: httpx.URL, *, limits: _Limits) -> list[IPAddress]:
    """Return the addresses `url`'s host resolves to, in the resolver's order, once each.

    getaddrinfo cannot be cancelled or given a timeout, so it runs in a daemon thread that
    the fetch stops waiting for at its deadline: a hung resolver costs that thread until
    the resolver gives up, never the caller's time limit.
    """
    host = url.raw_host.decode("ascii")
    port = url.port or (443 if url.scheme == "https" else 80)
    answer: Future[list[str]] = Future()

    def look_up() -> None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            answer.set_result([str(info[4][0]) for info in infos])
        except OSError as error:
            answer.set_exception(error)

    threading.Thread(target=look_up, name=f"sala-fetcher-dns {host}", daemon=True).start()
    try:
        found = answer.result(timeout=limits.time_left(url))
    except TimeoutError:
        raise limits.timed_out(url) from None
    except OSError:
        raise FetchRefused(
            "dns",
            _("The name %(host)s could not be found. Check the address for typos.")
            % {"host": url.host},
        ) from None
    return list(dict.fromkeys(ipaddress.ip_address(text) for text in found))


def _why_not_public(address: IPAddress, *, allow_loopback: bool) -> str | None:
    """Return why `address` may not be fetched from, in words for people; None if it may."""
    if isinstance(address, ipaddress.IPv6Address) and not address.is_loopback:
        carried = address.ipv4_mapped or next(
            (
                ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
                for network in _IPV4_CARRIERS
                if address in network
            ),
            None,
        )
        address = carried or address
    if address.is_loopback:
        return None if allow_loopback else _("this server itself (a loopback address)")
    if address in _METADATA_ADDRESSES:
        return _("the cloud metadata service")
    # is_global alone lets multicast and IPv4-compatible IPv6 (::a.b.c.d) through.
    site_local = isinstance(address, ipaddress.IPv6Address) and address.is_site_local
    if not address.is_global or address.is_multicast or address.is_reserved or site_local:
        return _("a private, internal or reserved address")
    return None


def _send(
    client: httpx.Client,
    url: httpx.URL,
    addresses: list[IPAddress],
    *,
    headers: dict[str, str],
    extensions: dict[str, Any],
    limits: _Limits,
) -> httpx.Response:
    """Send GET `url` to the first of `addresses` that answers; return the response unread.

    The request goes to the checked address itself, never to the name, so DNS cannot
    answer differently between the check and the connection (rebinding). The name still
    goes where servers expect it: in the Host header, and as the TLS server name (SNI),
    which httpcore also verifies the certificate against.
    """

    def request(address: IPAddress) -> httpx.Request:
        return client.build_request(
            "GET",
            url.copy_with(host=str(address)),
            headers={**headers, "Host": url.netloc.decode("ascii")},
            extensions={**extensions, "sni_hostname": url.raw_host.decode("ascii")},
            timeout=limits.time_left(url),
        )

    *fallbacks, last = addresses
    for address in fallbacks:
        try:
            return client.send(request(address), stream=True)
        except httpx.ConnectError as error:
            # A host with an IPv6 address this server cannot route to still answers on its
            # IPv4 one; a certificate refused on one address would be refused on all.
            if _tls_error(error) is not None:
                raise
    return client.send(request(last), stream=True)


@contextlib.contextmanager
def _network_errors_refused(url: httpx.URL, limits: _Limits) -> Iterator[None]:
    """Turn httpx's network errors into FetchRefused with words for people."""
    try:
        yield
    except httpx.TimeoutException:
        raise limits.timed_out(url) from None
    except httpx.TransportError as error:
        if time.monotonic() >= limits.deadline:  # the watchdog cut the connection
            raise limits.timed_out(url) from error
        tls_error = _tls_error(error)
        if tls_error is not None:
            raise FetchRefused(
                "tls",
                _(
                    "Sala could not make a secure connection to %(host)s (%(detail)s). "
                    "Check the address; if it is right, the site's certificate is at fault."
                )
                % {"host": url.host, "detail": _tls_detail(tls_error)},
            ) from error
        if isinstance(error, httpx.ConnectError):
            message = _(
                "Sala could not connect to %(host)s. The site may be down; try again later."
            )
        else:
            message = _(
                "The connection to %(host)s broke off before the answer was complete. "
                "Try again later."
            )
        raise FetchRefused("connect", message % {"host": url.host}) from error


def _result(
    response: httpx.Response,
    url: httpx.URL,
    *,
    kind: Kind,
    etag: str | None,
    last_modified: str | None,
    limits: _Limits,
) -> Fetched:
    """Return the final answer as Fetched; refuse a bad status or content type."""
    status = response.status_code
    content_type, parameters = parse_header_parameters(response.headers.get("content-type", ""))
    if status == 304:
        return Fetched(
            url=str(url),
            status=304,
            content_type=content_type,
            charset=None,
            body=b"",
            # A 304 need not repeat the validators; the caller's still hold then.
            etag=response.headers.get("etag", etag),
            last_modified=response.headers.get("last-modified", last_modified),
            not_modified=True,
        )
    if not 200 <= status < 300:
        raise FetchRefused(
            "status",
            _(
                "%(url)s answered %(status)s. Check that the address is still right, or try "
                "again later."
            )
            # The standard phrase, not the server's: its words are not for our messages.
            % {"url": url, "status": f"{status} {httpx.codes.get_reason_phrase(status)}".rstrip()},
        )
    if content_type not in ACCEPTED_TYPES[kind]:
        wanted = _describe(kind)
        raise FetchRefused(
            "content_type",
            _(
                "%(url)s sent %(actual)s where %(wanted)s was expected. Check that the "
                "address leads to %(wanted)s."
            )
            % {
                "url": url,
                "actual": f"“{content_type}”" if content_type else _("content of no stated type"),
                "wanted": wanted,
            },
        )
    return Fetched(
        url=str(url),
        status=status,
        content_type=content_type,
        charset=parameters.get("charset"),
        body=_read_body(response, url, limits=limits),
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
        not_modified=False,
    )


def _read_body(response: httpx.Response, url: httpx.URL, *, limits: _Limits) -> bytes:
    """Return the body, inflated; refuse it as soon as it passes `limits.max_bytes`.

    A declared Content-Length over the limit is refused before a byte is read. Then both
    the bytes on the wire and the inflated bytes are counted, and inflating never makes
    more than one byte past the limit, so a gzip bomb costs max_bytes of work and memory
    however far it would inflate.
    """
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise _too_large(url, limits, declared=int(declared))
    inflater = _inflater(response, url)
    received = 0
    body = bytearray()
    for chunk in response.iter_raw():
        received += len(chunk)
        if inflater is None:
            body += chunk
        else:
            try:
                # max_length is at least 1 (0 would mean "no limit"), since the body is
                # never over the limit here. Input held back by max_length is dropped,
                # which is fine: it is only held back once the limit is passed.
                body += inflater.decompress(chunk, limits.max_bytes + 1 - len(body))
            except zlib.error as error:
                raise FetchRefused(
                    "decompression",
                    _("%(url)s was sent with broken compression. Try again later.") % {"url": url},
                ) from error
        if received > limits.max_bytes or len(body) > limits.max_bytes:
            raise _too_large(url, limits)
        limits.time_left(url)
    # An unsized body, cut by the watchdog, ends just like a complete one.
    limits.time_left(url)
    return bytes(body)


def _inflater(response: httpx.Response, url: httpx.URL) -> "zlib._Decompress | None":
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    raise FetchRefused(
        "decompression",
        _("%(url)s was sent compressed as “%(encoding)s”, which Sala cannot read.")
        % {"url": url, "encoding": encoding},
    )


def _too_large(url: httpx.URL, limits: _Limits, *, declared: int | None = None) -> FetchRefused:
    limit = filesizeformat(limits.max_bytes)
    if declared is None:
        message = _("%(url)s is larger than the %(limit)s Sala accepts.") % {
            "url": url,
            "limit": limit,
        }
    else:
        message = _("%(url)s is %(size)s, larger than the %(limit)s Sala accepts.") % {
            "url": url,
            "size": filesizeformat(declared),
            "limit": limit,
        }
    return FetchRefused("too_large", message)


def _describe(kind: Kind) -> str:
    return {
        "feed": _("a news feed (RSS, Atom or JSON Feed)"),
        "page": _("a web page"),
        "image": _("a JPEG, PNG, GIF or WebP image"),
    }[kind]


def _tls_error(error: BaseException) -> ssl.SSLError | None:
    """Return the ssl.SSLError behind `error`, if one is."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return cause
        cause = cause.__cause__ or cause.__context__
    return None


def _tls_detail(error: ssl.SSLError) -> str:
    verify_message = getattr(error, "verify_message", None)
    return str(verify_message or error.reason or error)


@functools.cache
def _tls_context(cafile: str) -> ssl.SSLContext:
    """Return a certificate-verifying TLS client context trusting `cafile`.

    The file is OpenSSL's SSL_CERT_FILE when set (a private CA, or the test suite's),
    certifi's bundle otherwise, as httpx would choose.
    """
    return ssl.create_default_context(cafile=cafile)


def _without_credentials(url: str) -> str:
    """Return `url` without user name and password, for logs."""
    try:
        return str(httpx.URL(url).copy_with(userinfo=b""))
    except httpx.InvalidURL:
        return url
