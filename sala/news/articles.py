"""Read a news article out of its web page: title, text as Markdown, lead picture, byline.

trafilatura finds the article among the page's navigation, advertising and comments;
its own Markdown is not used, because it loses quotations and does not escape the page's
text, so its cleaned tree is written out by `sala.news.markdown` like a feed item's HTML.
The lead picture, the canonical address and a precise publication time are read from
the page itself, where trafilatura keeps only an og:image and a date without a time.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.translation import gettext
from trafilatura import bare_extraction, load_html
from trafilatura.htmlprocessing import convert_to_html

from sala.news.addresses import canonical_web_url, web_url
from sala.news.feeds import parse_iso_time
from sala.news.markdown import (
    LeadImage,
    find_lead_image,
    html_to_markdown,
    plain_text,
    visible_text,
)

#: Fewer characters of text than this is not an article: a stub, a teaser, a wall.
MIN_ARTICLE_LENGTH = 300
#: A page that asks for a password or says it is not free must yield at least this much,
#: else what came through is taken for the teaser in front of a login or a paywall.
MIN_WALLED_ARTICLE_LENGTH = 1000


class ExtractionFailed(Exception):
    """No article could be read from the page; the message is for the member who asked."""


@dataclass(frozen=True)
class Article:
    """A news article as read from its page."""

    #: Plain text; "" when the page has no title at all.
    title: str
    #: Markdown source for `sala.text.cooking.cook`, without the title and the lead image.
    body: str
    #: The picture the article leads with, to be copied and placed by `draft_markdown`.
    image: LeadImage | None
    #: Plain text.
    author: str | None
    #: In UTC; midnight when the page gives a date without a time.
    published: datetime | None
    #: The article's own address (rel=canonical, else og:url, else the address fetched),
    #: absolute http(s), without utm_* parameters.
    url: str


def extract_article(html: bytes | str, *, url: str) -> Article:
    """Return the article in the web page `html`, fetched from `url`.

    Raise ExtractionFailed when the page holds no article text: empty, not an article,
    or only the teaser in front of a login or a paywall.
    """
    # trafilatura logs an empty document as an error; it is only a page with no article.
    page = load_html(html) if html.strip() else None
    if page is None:
        raise ExtractionFailed(_no_article_message())
    canonical = _canonical_url(page, url=url)
    document = bare_extraction(
        page,
        url=canonical,
        with_metadata=True,
        include_comments=False,
        include_formatting=True,
        include_links=True,
        # Pictures are set apart as the lead image, found in the page below.
        include_images=False,
        include_tables=True,
    )
    if document is None or isinstance(document, dict) or document.body is None:
        raise ExtractionFailed(_no_article_message())

    title = plain_text(document.title or "")
    image = _lead_image(page, base=canonical)
    body = convert_to_html(document.body).find("body")
    if body is None:
        raise ExtractionFailed(_no_article_message())
    _remove_repeats(body, title=title, caption=image.caption if image else None)
    length = len(visible_text(body))
    if length < MIN_ARTICLE_LENGTH:
        raise ExtractionFailed(_walled_message() if _is_walled(page) else _no_article_message())
    if length < MIN_WALLED_ARTICLE_LENGTH and _is_walled(page):
        raise ExtractionFailed(_walled_message())

    return Article(
        title=title,
        body=html_to_markdown(body, base_url=canonical),
        image=image,
        author=plain_text(document.author or "") or None,
        published=_published(page) or parse_iso_time(document.date),
        url=canonical,
    )


def _no_article_message() -> str:
    return gettext(
        "We couldn't find an article on that page. If there is one, paste its text into "
        "the topic yourself."
    )


def _walled_message() -> str:
    return gettext(
        "That page asks readers to sign in or subscribe, so we couldn't read the article. "
        "Paste its text into the topic yourself, or link to a version anyone can read."
    )


def _meta(page: Any, *names: str) -> Iterator[str]:
    """Yield the content of each <meta> whose property, name or itemprop is in `names`."""
    for meta in page.iter("meta"):
        key = meta.get("property") or meta.get("name") or meta.get("itemprop") or ""
        content = meta.get("content")
        if key.strip().lower() in names and content and content.strip():
            yield content.strip()


def _canonical_url(page: Any, *, url: str) -> str:
    """Return the page's own address: rel=canonical, else og:url, else `url`."""
    candidates = [
        link.get("href")
        for link in page.iter("link")
        if "canonical" in (link.get("rel") or "").lower().split()
    ]
    candidates += list(_meta(page, "og:url"))
    for candidate in [*candidates, url]:
        address = canonical_web_url(candidate, base=url)
        if address is not None:
            return address
    return url


def _lead_image(page: Any, *, base: str) -> LeadImage | None:
    """Return the article's first figure, else the page's og:image (with no caption)."""
    for root in [*page.iter("article"), *page.iter("main"), page]:
        for figure in root.iter("figure"):
            if any(
                ancestor.tag in ("nav", "aside", "footer") for ancestor in figure.iterancestors()
            ):
                continue
            image = find_lead_image(figure, base=base)
            if image is not None:
                return image
    for candidate in _meta(
        page, "og:image", "og:image:url", "og:image:secure_url", "twitter:image"
    ):
        url = web_url(candidate, base=base)
        if url is not None:
            alt = next(_meta(page, "og:image:alt", "twitter:image:alt"), "")
            return LeadImage(url=url, alt=" ".join(alt.split()))
    return None


def _remove_repeats(body: Any, *, title: str, caption: str | None) -> None:
    """Remove from the extracted `body` the headline and the lead caption, shown apart."""
    repeated = {text.casefold() for text in (title, caption) if text}
    for element in list(body):
        if element.tag in ("h1", "h2", "p"):
            text = visible_text(element).casefold()
            if text in repeated:
                body.remove(element)


def _is_walled(page: Any) -> bool:
    """Return whether the page asks for a password or says its article is not free."""
    if any((field.get("type") or "").lower() == "password" for field in page.iter("input")):
        return True
    return any(
        value is False or (isinstance(value, str) and value.strip().lower() == "false")
        for data in _structured_data(page)
        for value in _values(data, "isAccessibleForFree")
    )


def _published(page: Any) -> datetime | None:
    """Return when the page says the article was published, to the minute where it can."""
    names = ("article:published_time", "og:published_time", "datepublished", "pubdate")
    for candidate in _meta(page, *names):
        if (moment := parse_iso_time(candidate)) is not None:
            return moment
    for data in _structured_data(page):
        for value in _values(data, "datePublished"):
            if (moment := parse_iso_time(value)) is not None:
                return moment
    for time in page.iter("time"):
        says_published = (time.get("itemprop") or "").lower() == "datepublished" or (
            "published" in (time.get("class") or "")
        )
        if says_published and (moment := parse_iso_time(time.get("datetime"))) is not None:
            return moment
    return None


def _structured_data(page: Any) -> Iterator[Any]:
    """Yield each JSON-LD document in the page that parses."""
    for script in page.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        try:
            yield json.loads(script.text or "")
        except (ValueError, RecursionError):
            continue


def _values(data: Any, key: str, *, depth: int = 0) -> Iterator[Any]:
    """Yield every value of `key` in JSON `data`, outermost first, at most 8 levels down."""
    if depth > 8:
        return
    if isinstance(data, dict):
        if key in data:
            yield data[key]
        children = list(data.values())
    elif isinstance(data, list):
        children = data
    else:
        return
    for child in children:
        yield from _values(child, key, depth=depth + 1)
