"""Read a news feed's bytes (RSS 2.0, RSS 1.0, Atom or JSON Feed) into items Sala can post.

Parsing is pure: bytes in, `ParsedFeed` out, nothing fetched. XML goes through defusedxml
first, which refuses any document type declaration, so no entity can expand (the "billion
laughs") and no external entity or DTD can be loaded; only then does feedparser read it,
from memory, for its tolerance of the broken feeds publishers serve. feedparser 6 does
not read JSON Feed, so that is read here with `json`. One bad item does not lose the
others: it is reported in `ParsedFeed.errors` with a reason an admin can act on.
"""

import io
import json
import re
import time
import xml.sax
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree
import feedparser
from defusedxml.common import DefusedXmlException

from sala.news.addresses import canonical_web_url, web_url
from sala.news.markdown import (
    LeadImage,
    find_lead_image,
    html_to_markdown,
    parse_html_fragment,
    plain_text,
    text_to_markdown,
)


class FeedError(Exception):
    """The document is not a feed Sala can read; the message says why, for the admin."""


@dataclass(frozen=True)
class FeedItem:
    """One story from a feed, ready to become a topic draft."""

    #: The publisher's identifier for the item (RSS guid, Atom id, JSON Feed id), if any.
    guid: str | None
    #: Plain text, whitespace collapsed; never markup.
    title: str
    #: The article's absolute http(s) address, utm_* parameters removed.
    link: str
    #: When the item was published (or else last updated), in UTC.
    published: datetime | None
    #: Plain text.
    author: str | None
    #: Markdown source for `sala.text.cooking.cook`, without the lead image.
    body: str
    #: The picture the item leads with, to be copied and placed by `draft_markdown`.
    image: LeadImage | None

    @property
    def dedupe_keys(self) -> tuple[str, ...]:
        """Return what identifies this story across polls: its guid and its link."""
        return (self.guid, self.link) if self.guid else (self.link,)


@dataclass(frozen=True)
class ItemError:
    """An item left out of a feed, with the reason."""

    #: 1 for the feed's first item, in the feed's own order.
    position: int
    title: str | None
    guid: str | None
    #: A sentence for the admin.
    reason: str

    def __str__(self) -> str:
        name = f" ({self.title})" if self.title else ""
        return f"Item {self.position}{name} was skipped: {self.reason}"


@dataclass(frozen=True)
class ParsedFeed:
    """A feed's readable items, and the items that were not."""

    title: str
    #: The publisher's home page, when the feed names one.
    link: str | None
    items: tuple[FeedItem, ...]
    errors: tuple[ItemError, ...]


def parse_feed(content: bytes, *, url: str) -> ParsedFeed:
    """Return the items of the RSS, RDF, Atom or JSON feed in `content`, fetched from `url`.

    Relative addresses in the feed are resolved against `url`. An item without a title, or
    without an http(s) link, is left out and reported in `errors`. Raise FeedError when
    `content` is not a feed at all: empty, an HTML page, broken XML or JSON from which no
    item can be read, or XML declaring a DTD, which is refused unread.
    """
    start = _without_bom(content).lstrip()
    if not start:
        raise FeedError(f"This address returned an empty response, not a feed: {url}")
    if start.startswith(b"{"):
        return _parse_json_feed(content, url=url)
    if _looks_like_html(start):
        raise FeedError(_html_message(url))
    tree = _parse_safely(content, url=url)
    parsed = feedparser.parse(
        # A file object, never bytes or a string: feedparser opens a string that looks
        # like a URL or a path, and even tries bytes as a file name.
        io.BytesIO(content),
        response_headers={
            # The base for relative links; the type lets the XML declaration decide the
            # encoding, as it should without a charset from the server.
            "content-location": url,
            "content-type": "application/xml",
        },
        resolve_relative_uris=True,
        sanitize_html=True,
    )
    broken = parsed.get("bozo_exception")
    broken_xml = isinstance(broken, xml.sax.SAXException)
    entries: list[Any] = list(parsed.get("entries", []))
    if not parsed.get("version") and not entries:
        if tree is not None:
            raise FeedError(
                "This address returned XML that is not RSS or Atom "
                f"(its root element is <{_local_name(tree.tag)}>): {url}"
            )
        if _looks_like_html(start[:4096].lower(), anywhere=True):
            raise FeedError(_html_message(url))
        raise FeedError(_broken_message(url, broken))

    captions = _media_captions(tree, count=len(entries), base=url)
    items: list[FeedItem] = []
    errors: list[ItemError] = []
    for position, entry in enumerate(entries, start=1):
        item_or_error = _read_entry(
            entry, position=position, base=url, captions=captions[position - 1]
        )
        if isinstance(item_or_error, FeedItem):
            items.append(item_or_error)
        else:
            errors.append(item_or_error)
    if broken_xml and not items:
        raise FeedError(_broken_message(url, broken))
    feed: Mapping[str, Any] = parsed.get("feed", {})
    return ParsedFeed(
        title=_text(feed.get("title_detail", {}).get("value") or feed.get("title")),
        link=web_url(_string(feed.get("link")), base=url),
        items=tuple(items),
        errors=tuple(errors),
    )


# -- Refusing what is not a feed -----------------------------------------------------------

_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff", b"\xff\xfe", b"\xfe\xff")
_XML_PREAMBLE = re.compile(rb"^\s*(?:<\?xml[^>]*\?>|<!--.*?-->)", re.DOTALL)


def _without_bom(content: bytes) -> bytes:
    for bom in _BOMS:
        if content.startswith(bom):
            return content[len(bom) :]
    return content


def _looks_like_html(start: bytes, *, anywhere: bool = False) -> bool:
    """Return whether a document beginning with `start` is an HTML page.

    With `anywhere`, an <html> element anywhere in `start` is enough.
    """
    head = start[:4096].lower()
    if anywhere:
        return b"<html" in head
    while True:
        preamble = _XML_PREAMBLE.match(head)
        if preamble is None:
            break
        head = head[preamble.end() :]
    head = head.lstrip()
    return head.startswith((b"<!doctype html", b"<html"))


def _html_message(url: str) -> str:
    return (
        f"This address returned an HTML page, not a feed: {url}. Open the page and look for "
        "its RSS or Atom link (often in the footer, or at /feed/), and use that address."
    )


def _broken_message(url: str, error: object) -> str:
    reason = f" ({error})" if error else ""
    return (
        f"This address returned a feed whose XML is broken{reason}, and no item could be "
        f"read from it: {url}. It may have been cut off on the way; if it stays broken, "
        "tell the publisher."
    )


def _dtd_message(url: str) -> str:
    return (
        "This feed declares a document type (<!DOCTYPE ...>), which Sala refuses to read: "
        f"{url}. A DTD can define entities that expand to gigabytes or load other files; "
        "ask the publisher to serve the feed without one."
    )


def _parse_safely(content: bytes, *, url: str) -> Element | None:
    """Return `content` parsed as XML, or None when it is not well-formed.

    Raise FeedError for any document type declaration: nothing in it is expanded or
    loaded. A document too broken to parse is searched for one as text, because
    feedparser's tolerant parser would read it.
    """
    try:
        tree: Element = defusedxml.ElementTree.fromstring(
            content, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException:
        raise FeedError(_dtd_message(url)) from None
    except ParseError:
        if _mentions_dtd(content):
            raise FeedError(_dtd_message(url)) from None
        return None
    return tree


def _mentions_dtd(content: bytes) -> bool:
    """Return whether `content` holds "<!DOCTYPE" or "<!ENTITY", in any common encoding."""
    texts = [content.decode("latin-1")]
    if b"\x00" in content[:1024]:
        texts += [
            content.decode(encoding, errors="ignore")
            for encoding in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
        ]
    return any("<!doctype" in text.lower() or "<!entity" in text.lower() for text in texts)


# -- Reading items -------------------------------------------------------------------------

_MEDIA = "{http://search.yahoo.com/mrss/}"
_ITEM_NAMESPACES = frozenset(
    {
        "",
        "http://purl.org/rss/1.0/",
        "http://my.netscape.com/rdf/simple/0.9/",
        "http://backend.userland.com/rss2",
        "http://backend.userland.com/rss",
        "http://www.w3.org/2005/Atom",
        "http://purl.org/atom/ns#",
    }
)
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})
# Tags or character references: text that is HTML, whatever type the feed declared.
_MARKUP = re.compile(r"<[A-Za-z/!?]|&#?[0-9A-Za-z]+;")
_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _media_captions(tree: Element | None, *, count: int, base: str) -> list[dict[str, str]]:
    """Return, for each of `count` items, the captions Media RSS gives its pictures, by URL.

    feedparser reads media:description into the item's own summary, so captions are read
    from the XML here, matched to feedparser's items by position when both found as many.
    """
    empty: list[dict[str, str]] = [{} for _ in range(count)]
    if tree is None:
        return empty
    elements = [
        element
        for element in tree.iter()
        if isinstance(element.tag, str)
        and _local_name(element.tag) in ("item", "entry")
        and _namespace(element.tag) in _ITEM_NAMESPACES
    ]
    if len(elements) != count:
        return empty
    return [_captions_of(element, base=base) for element in elements]


def _captions_of(item: Element, *, base: str) -> dict[str, str]:
    def description(element: Element) -> str | None:
        found = element.find(f"{_MEDIA}description")
        if found is None or not found.text:
            return None
        return _text(found.text, html=found.get("type") == "html") or None

    item_caption = description(item)
    captions: dict[str, str] = {}
    for group in [item, *item.iter(f"{_MEDIA}group")]:
        group_caption = description(group) if group is not item else item_caption
        for media in group.findall(f"{_MEDIA}content") + group.findall(f"{_MEDIA}thumbnail"):
            url = web_url(media.get("url"), base=base)
            caption = description(media) or group_caption or item_caption
            if url is not None and caption:
                captions.setdefault(url, caption)
    return captions


def _read_entry(
    entry: Mapping[str, Any], *, position: int, base: str, captions: Mapping[str, str]
) -> FeedItem | ItemError:
    title_detail: Mapping[str, Any] = entry.get("title_detail") or {}
    title = _text(
        _string(title_detail.get("value")) or _string(entry.get("title")),
        html=title_detail.get("type") in _HTML_TYPES,
    )
    guid = _string(entry.get("id")) or None
    raw_link = _string(entry.get("link")).strip()
    link = canonical_web_url(raw_link, base=base)
    if link is None or not title:
        reason = _why_rejected(title=title, raw_link=raw_link, link=link)
        return ItemError(position=position, title=title or None, guid=guid, reason=reason)

    body, figure = _body_of(entry, base=base)
    image = _lead_image(entry, figure=figure, captions=captions, base=base)
    author_detail: Mapping[str, Any] = entry.get("author_detail") or {}
    author = _text(_string(author_detail.get("name")) or _string(entry.get("author")))
    return FeedItem(
        guid=guid,
        title=title,
        link=link,
        published=_parsed_time(entry.get("published_parsed") or entry.get("updated_parsed")),
        author=author or None,
        body=body,
        image=image,
    )


def _why_rejected(*, title: str, raw_link: str, link: str | None) -> str:
    """Return why an item lacking a title or a usable link cannot become a topic."""
    if not title and not raw_link:
        return "it has neither a title nor a link."
    if not raw_link:
        return "it has no link to its article."
    if link is None:
        shown = raw_link if len(raw_link) <= 80 else raw_link[:79] + "…"
        return f"its link is not a web address (http or https): {shown}"
    return "it has no title."


def _body_of(entry: Mapping[str, Any], *, base: str) -> tuple[str, LeadImage | None]:
    """Return the entry's full text (else its summary) as Markdown, and its first figure."""
    contents = [content for content in entry.get("content") or [] if content.get("value")]
    chosen = next((c for c in contents if c.get("type") in _HTML_TYPES), None)
    if chosen is None and contents:
        chosen = contents[0]
    if chosen is not None:
        value, content_type = _string(chosen.get("value")), chosen.get("type")
        content_base = _string(chosen.get("base")) or base
    else:
        # feedparser lets a media:description overwrite summary_detail but not summary,
        # so the type is trusted only when both agree.
        value = _string(entry.get("summary"))
        detail: Mapping[str, Any] = entry.get("summary_detail") or {}
        content_type = detail.get("type") if detail.get("value") == value else None
        content_base = base
    if content_type in _HTML_TYPES or (content_type is None and _MARKUP.search(value)):
        root = parse_html_fragment(value)
        return html_to_markdown(root, base_url=content_base), find_lead_image(
            root, base=content_base
        )
    return text_to_markdown(value), None


def _lead_image(
    entry: Mapping[str, Any],
    *,
    figure: LeadImage | None,
    captions: Mapping[str, str],
    base: str,
) -> LeadImage | None:
    """Return the entry's lead picture: Media RSS, else an image enclosure, else a figure."""
    candidates: list[str | None] = []
    for media in entry.get("media_content") or []:
        medium, kind = media.get("medium"), _string(media.get("type"))
        url = _string(media.get("url"))
        if (
            medium == "image"
            or kind.startswith("image/")
            or (not medium and not kind and url.lower().endswith(_IMAGE_EXTENSIONS))
        ):
            candidates.append(url)
    candidates += [media.get("url") for media in entry.get("media_thumbnail") or []]
    candidates += [
        enclosure.get("href")
        for enclosure in entry.get("enclosures") or []
        if _string(enclosure.get("type")).startswith("image/")
    ]
    for candidate in candidates:
        address = web_url(_string(candidate), base=base)
        if address is None:
            continue
        url = address
        if figure is not None and figure.url == url:
            return LeadImage(url=url, caption=captions.get(url) or figure.caption, alt=figure.alt)
        return LeadImage(url=url, caption=captions.get(url))
    return figure


def _string(value: object) -> str:
    return value if isinstance(value, str) else ""


def _text(value: str | None, *, html: bool = False) -> str:
    """Return `value` as plain text on one line; HTML, declared or apparent, is read as HTML."""
    if not value:
        return ""
    if html or _MARKUP.search(value):
        return plain_text(value)
    return " ".join(value.split())


def _parsed_time(value: object) -> datetime | None:
    """Return feedparser's UTC time tuple as an aware datetime, or None."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime(
            value.tm_year,
            value.tm_mon,
            value.tm_mday,
            value.tm_hour,
            value.tm_min,
            min(value.tm_sec, 59),  # a leap second, 60, is the last second of its minute
            tzinfo=UTC,
        )
    except ValueError:
        return None


# -- JSON Feed -----------------------------------------------------------------------------

_JSON_FEED_VERSION = "https://jsonfeed.org/version/1"


def _parse_json_feed(content: bytes, *, url: str) -> ParsedFeed:
    """Return the items of a JSON Feed 1.0 or 1.1 document."""
    try:
        document = json.loads(content)
    except (ValueError, RecursionError) as error:
        raise FeedError(f"This address returned broken JSON, not a feed ({error}): {url}") from None
    if not isinstance(document, dict) or not _string(document.get("version")).startswith(
        _JSON_FEED_VERSION
    ):
        raise FeedError(
            f"This address returned JSON, but not a JSON Feed (its version is not "
            f"{_JSON_FEED_VERSION} or 1.1): {url}"
        )
    entries = document.get("items")
    if not isinstance(entries, list):
        raise FeedError(f'This JSON Feed has no "items" list: {url}')
    items: list[FeedItem] = []
    errors: list[ItemError] = []
    for position, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            errors.append(
                ItemError(position=position, title=None, guid=None, reason="it is not an object.")
            )
            continue
        item_or_error = _read_json_item(entry, position=position, base=url)
        if isinstance(item_or_error, FeedItem):
            items.append(item_or_error)
        else:
            errors.append(item_or_error)
    return ParsedFeed(
        title=_text(_string(document.get("title"))),
        link=web_url(_string(document.get("home_page_url")), base=url),
        items=tuple(items),
        errors=tuple(errors),
    )


def _read_json_item(entry: Mapping[str, Any], *, position: int, base: str) -> FeedItem | ItemError:
    identifier = entry.get("id")
    guid = str(identifier).strip() if isinstance(identifier, str | int) else ""
    title = _text(_string(entry.get("title")))
    raw_link = (_string(entry.get("url")) or _string(entry.get("external_url"))).strip()
    link = canonical_web_url(raw_link, base=base)
    if link is None or not title:
        reason = _why_rejected(title=title, raw_link=raw_link, link=link)
        return ItemError(position=position, title=title or None, guid=guid or None, reason=reason)

    figure = None
    if html := _string(entry.get("content_html")):
        root = parse_html_fragment(html)
        body, figure = html_to_markdown(root, base_url=base), find_lead_image(root, base=base)
    else:
        body = text_to_markdown(_string(entry.get("content_text")) or _string(entry.get("summary")))
    image_url = web_url(_string(entry.get("image")), base=base)
    if image_url is None:
        image_url = next(
            (
                web_url(_string(attachment.get("url")), base=base)
                for attachment in entry.get("attachments") or []
                if isinstance(attachment, dict)
                and _string(attachment.get("mime_type")).startswith("image/")
            ),
            None,
        )
    if image_url is not None and (figure is None or figure.url != image_url):
        image: LeadImage | None = LeadImage(url=image_url)
    else:
        image = figure

    authors = entry.get("authors") or [entry.get("author")]
    author = next(
        (
            _text(_string(person.get("name")))
            for person in authors
            if isinstance(person, dict) and _string(person.get("name")).strip()
        ),
        None,
    )
    return FeedItem(
        guid=guid or None,
        title=title,
        link=link,
        published=parse_iso_time(entry.get("date_published") or entry.get("date_modified")),
        author=author,
        body=body,
        image=image,
    )


def parse_iso_time(value: object) -> datetime | None:
    """Return an ISO 8601 / RFC 3339 time as an aware UTC datetime, or None if it is not one.

    A time without an offset is taken as UTC; a date alone as midnight UTC.
    """
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
