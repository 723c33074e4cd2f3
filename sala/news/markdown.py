"""Turn the HTML of feed items and article pages into the Markdown Sala cooks for its members.

A news topic is cooked through `sala.text.cooking.cook`, like any post, so whatever a
publisher sends arrives as Markdown source: paragraphs, quotations, links, emphasis,
lists and headings are kept, everything else (scripts, frames, forms, styles, images)
is dropped, and every character of the publisher's text that Markdown would read as
syntax is escaped, so a feed can neither smuggle markup nor turn its words into links,
lists or headings. The lead image is set apart as a `LeadImage`, for the caller to copy
and put back with `draft_markdown` in the form Sala's editor writes a captioned image.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import lxml.etree
import lxml.html
from django.utils.translation import gettext

from sala.news.addresses import site_or_web_url, web_url


@dataclass(frozen=True)
class LeadImage:
    """The picture a story leads with, as the publisher serves it."""

    #: Absolute http(s) URL on the publisher's side; the caller copies it to Sala.
    url: str
    #: The caption shown under it, plain text; None when the publisher gave none.
    caption: str | None = None
    #: What the picture shows, for readers who cannot see it; plain text, may be empty.
    alt: str = ""


# -- URLs ----------------------------------------------------------------------------------

# -- Escaping ------------------------------------------------------------------------------

# Characters that mean something anywhere in a line: emphasis, code, links and images,
# raw HTML and autolinks, strikethrough, table cells, and the escape itself.
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<>~|])")
# "&copy;" or "&#169;" would be read as the character; "AT&T" is left alone.
_ENTITY_LIKE = re.compile(r"&(?=#?[0-9A-Za-z]+;)")
# What makes a line a heading, quotation, list item, thematic break or setext underline.
_LINE_START_SPECIAL = re.compile(r"^([#>+=-])")
_ORDERED_MARKER = re.compile(r"^([0-9]{1,9})([.)])")
_WHITESPACE = re.compile(r"[ \t\n\r\f]+")
_BARE_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_URL_TRAILING_PUNCTUATION = ".,;:!?)]}"


def escape_markdown(text: str, *, line_start: bool = True) -> str:
    """Return `text` escaped so that Markdown shows it exactly, as text.

    `line_start` says whether the text begins a line, where "#", ">", "-", "+", "=" and
    "1." would start a block. Escaping a line start needs `text` to be on one line; text
    with new lines is escaped line by line.
    """
    if "\n" in text:
        return "\n".join(
            escape_markdown(line, line_start=line_start or index > 0)
            for index, line in enumerate(text.split("\n"))
        )
    escaped = _ENTITY_LIKE.sub(r"\\&", _INLINE_SPECIAL.sub(r"\\\1", text))
    if line_start:
        escaped = _ORDERED_MARKER.sub(r"\1\\\2", _LINE_START_SPECIAL.sub(r"\\\1", escaped))
    return escaped


def _escape_heading_text(text: str) -> str:
    # After "## " nothing starts a block, but a "#" ending the line would be taken for
    # the heading's closing sequence and disappear.
    return escape_markdown(text, line_start=False).replace("#", "\\#")


def text_to_markdown(text: str) -> str:
    """Return plain `text` as Markdown paragraphs: blank lines part them, each line kept."""
    paragraphs = []
    for paragraph in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = [" ".join(line.split()) for line in paragraph.split("\n")]
        lines = [line for line in lines if line]
        if lines:
            paragraphs.append(
                "\n".join(_inline_text_with_links(line, line_start=True) for line in lines)
            )
    return "\n\n".join(paragraphs)


def _inline_text_with_links(line: str, *, line_start: bool) -> str:
    """Escape one line of text, its bare web addresses written as links.

    Escaped, an address such as https://example.org/a_b would be linked only up to the
    backslash, so each address is a link of its own, its text escaped and its target
    percent-encoded.
    """
    parts: list[str] = []
    position = 0
    for match in _BARE_URL.finditer(line):
        address = match.group().rstrip(_URL_TRAILING_PUNCTUATION)
        target = web_url(address)
        if target is None:
            continue
        before = line[position : match.start()]
        parts.append(escape_markdown(before, line_start=line_start and not parts))
        parts.append(f"[{escape_markdown(address, line_start=False)}]({target})")
        position = match.start() + len(address)
    parts.append(escape_markdown(line[position:], line_start=line_start and not parts))
    return "".join(parts)


# -- Reading HTML --------------------------------------------------------------------------

# Elements dropped with everything inside them: active content, embeds, media, forms,
# page furniture. Images go too: the lead one travels separately as a LeadImage.
_DROPPED = frozenset(
    {
        *("script", "noscript", "style", "template", "head", "title", "meta", "link", "base"),
        *("iframe", "frame", "frameset", "object", "embed", "applet", "portal", "svg", "math"),
        *("img", "picture", "source", "video", "audio", "track", "canvas", "map", "area"),
        *("form", "input", "button", "select", "option", "textarea", "label", "fieldset"),
        *("nav", "aside", "dialog", "menu", "hr"),
    }
)
# Elements whose presence in a <figure> makes it a picture, dropped whole with its caption.
_MEDIA = ("img", "picture", "video", "audio", "iframe", "svg", "object", "embed", "canvas")
# Elements that hold blocks; their own text and inline children form paragraphs.
_CONTAINERS = frozenset(
    {
        *("html", "body", "div", "section", "article", "main", "header", "footer"),
        *("address", "center", "details", "summary", "hgroup", "search", "figure"),
        *("figcaption", "dl", "dt", "dd", "table", "caption", "thead", "tbody", "tfoot"),
        *("tr", "th", "td", "li", "p"),
    }
)
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_EMPHASIS = {"em": "*", "i": "*", "cite": "*", "strong": "**", "b": "**"}
_STRIKE = frozenset({"del", "s", "strike"})
_CODE = frozenset({"code", "kbd", "samp", "tt"})
_LIST_START = re.compile(r"[0-9]{1,9}")
# Deeper than this, an element's text is kept and its structure is not: recursion over
# hostile nesting stays well inside Python's limit.
_MAX_DEPTH = 60


# lxml refuses strings holding these; browsers show nothing for them anyway.
_UNPARSABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def parse_html_fragment(html: str) -> Any:
    """Return `html` parsed as a fragment inside one <div> element (lxml).

    A whole document is accepted too: the text of its <body> is what counts.
    """
    html = _UNPARSABLE.sub("", html)
    if not html.strip():
        return lxml.html.fragment_fromstring("", create_parent="div")
    try:
        return lxml.html.fragment_fromstring(html, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return lxml.html.fragment_fromstring("", create_parent="div")


def _tag(element: Any) -> str | None:
    """Return the lowercase local name of `element`, or None for comments and the like."""
    tag = element.tag
    if not isinstance(tag, str):
        return None
    return tag.rsplit("}", 1)[-1].lower()


def plain_text(html: str) -> str:
    """Return the text a browser would show for `html`, whitespace collapsed.

    Script, style and other dropped elements contribute nothing. The result is text, not
    HTML: "<b>" in it is four characters, to be escaped wherever it is shown.
    """
    if "<" not in html and "&" not in html:
        return " ".join(_WHITESPACE.split(html)).strip()
    return visible_text(parse_html_fragment(html))


def visible_text(element: Any) -> str:
    """Return the text of `element` (lxml) a browser shows, whitespace collapsed."""
    parts: list[str] = []
    _collect_text(element, parts, depth=0)
    return " ".join(_WHITESPACE.split("".join(parts))).strip()


def _collect_text(element: Any, parts: list[str], *, depth: int) -> None:
    tag = _tag(element)
    if tag is not None and tag not in _DROPPED:
        parts.append(element.text or "")
        for child in element:
            if depth < _MAX_DEPTH:
                _collect_text(child, parts, depth=depth + 1)
            parts.append(child.tail or "")
        if tag in _CONTAINERS or tag in _HEADINGS or tag == "br":
            parts.append(" ")


def _image_source(image: Any, *, base: str | None) -> str | None:
    """Return the absolute http(s) address `image` loads, lazy-loading attributes included."""
    candidates = [image.get(name) for name in ("src", "data-src", "data-lazy-src", "data-original")]
    srcset = image.get("srcset") or image.get("data-srcset")
    if srcset:
        candidates.append(srcset.strip().split(",")[0].split()[0] if srcset.strip() else None)
    for candidate in candidates:
        url = web_url(candidate, base=base)
        if url is not None:
            return url
    return None


def find_lead_image(root: Any, *, base: str | None) -> LeadImage | None:
    """Return the first picture in a <figure> under `root` (lxml), with its caption.

    Only a figure counts: a bare <img> is as likely an icon or a tracking pixel.
    """
    for figure in root.iter():
        if _tag(figure) != "figure":
            continue
        for image in figure.iter():
            if _tag(image) != "img":
                continue
            url = _image_source(image, base=base)
            if url is None:
                continue
            caption = None
            for child in figure.iter():
                if _tag(child) == "figcaption":
                    caption = visible_text(child) or None
                    break
            return LeadImage(
                url=url, caption=caption, alt=" ".join((image.get("alt") or "").split())
            )
    return None


# -- Writing Markdown ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Text:
    text: str


@dataclass(frozen=True)
class _Open:
    markup: str
    closing: str


@dataclass(frozen=True)
class _Close:
    pass


@dataclass(frozen=True)
class _Break:
    pass


@dataclass(frozen=True)
class _Code:
    text: str


type _Inline = _Text | _Open | _Close | _Break | _Code


def html_to_markdown(html: str | Any, *, base_url: str | None) -> str:
    """Return `html` as Markdown: its paragraphs, quotations, links, emphasis, lists, headings.

    `html` is a fragment as a string, or an lxml element. Relative links are resolved
    against `base_url`; links that are not http(s) keep their text and lose their target.
    Images, figures with pictures, scripts, styles, frames, forms, navigation and asides
    are dropped whole; the publisher's text is escaped, so it shows as written.
    """
    root = parse_html_fragment(html) if isinstance(html, str) else html
    return "\n\n".join(_Writer(base_url).blocks(root, depth=0))


class _Writer:
    """Write Markdown blocks for an lxml tree, one element at a time."""

    def __init__(self, base_url: str | None) -> None:
        self.base_url = base_url

    def blocks(self, element: Any, *, depth: int) -> list[str]:
        """Return the Markdown blocks for what `element` contains."""
        blocks: list[str] = []
        run: list[_Inline] = []

        def end_paragraph() -> None:
            paragraph = _write_inline(run)
            if paragraph:
                blocks.append(paragraph)
            run.clear()

        if element.text:
            run.append(_Text(element.text))
        for child in element:
            tag = _tag(child)
            if tag is None or tag in _DROPPED:
                pass
            elif depth >= _MAX_DEPTH:
                run.append(_Text(f" {visible_text(child)} "))
            elif tag in _CONTAINERS or tag in _HEADINGS or tag in ("blockquote", "ul", "ol", "pre"):
                end_paragraph()
                blocks.extend(self.block(child, tag, depth=depth + 1))
            else:
                run.extend(self.inline(child, tag, depth=depth + 1, within=frozenset()))
            if child.tail:
                run.append(_Text(child.tail))
        end_paragraph()
        return blocks

    def block(self, element: Any, tag: str, *, depth: int) -> list[str]:
        """Return the Markdown blocks `element`, a block-level element, stands for."""
        if tag in _HEADINGS:
            run = list(self.inline_children(element, depth=depth, within=frozenset()))
            text = _write_inline(run, heading=True)
            return [f"{'#' * _HEADINGS[tag]} {text}"] if text else []
        if tag == "blockquote":
            inner = "\n\n".join(self.blocks(element, depth=depth))
            if not inner:
                return []
            return ["\n".join(f"> {line}" if line else ">" for line in inner.split("\n"))]
        if tag in ("ul", "ol"):
            return self.list_block(element, ordered=tag == "ol", depth=depth)
        if tag == "pre":
            return _code_block(element.text_content())
        if tag == "figure" and any(_tag(node) in _MEDIA for node in element.iter()):
            return []
        return self.blocks(element, depth=depth)

    def list_block(self, element: Any, *, ordered: bool, depth: int) -> list[str]:
        start = element.get("start", "1").strip() if ordered else "1"
        number = int(start) if _LIST_START.fullmatch(start) else 1
        items: list[str] = []
        for child in element:
            if _tag(child) != "li":
                continue
            inner = "\n\n".join(self.blocks(child, depth=depth + 1))
            if not inner:
                continue
            marker = f"{number}. " if ordered else "- "
            number += 1
            indent = " " * len(marker)
            lines = inner.split("\n")
            items.append(
                "\n".join(
                    [marker + lines[0], *(indent + line if line else "" for line in lines[1:])]
                )
            )
        return ["\n".join(items)] if items else []

    def inline_children(
        self, element: Any, *, depth: int, within: frozenset[str]
    ) -> Iterator[_Inline]:
        if element.text:
            yield _Text(element.text)
        for child in element:
            tag = _tag(child)
            if tag is not None and tag not in _DROPPED:
                if depth >= _MAX_DEPTH:
                    yield _Text(f" {visible_text(child)} ")
                else:
                    yield from self.inline(child, tag, depth=depth + 1, within=within)
            if child.tail:
                yield _Text(child.tail)

    def inline(
        self, element: Any, tag: str, *, depth: int, within: frozenset[str]
    ) -> Iterator[_Inline]:
        """Yield the inline pieces of `element`: text, markup opening and closing, breaks."""
        if tag == "br":
            yield _Break()
            return
        if tag in _CODE:
            yield _Code(element.text_content())
            return
        if tag in _EMPHASIS or tag in _STRIKE or tag == "a":
            if tag == "a":
                kind, target = "a", web_url(element.get("href"), base=self.base_url)
            else:
                kind, target = ("~~" if tag in _STRIKE else _EMPHASIS[tag]), None
            # Nested alike (<b><strong>), the inner one adds nothing: "****" would not parse.
            if kind not in within and (kind != "a" or target is not None):
                opening, closing = ("[", f"]({target})") if kind == "a" else (kind, kind)
                yield _Open(opening, closing)
                yield from self.inline_children(element, depth=depth, within=within | {kind})
                yield _Close()
                return
        if tag in _CONTAINERS or tag in _HEADINGS or tag in ("blockquote", "ul", "ol", "pre"):
            # A block inside inline markup (<a><div>…</div></a>): keep its words apart.
            yield _Text(" ")
            yield from self.inline_children(element, depth=depth, within=within)
            yield _Text(" ")
            return
        yield from self.inline_children(element, depth=depth, within=within)


class _Markup:
    """An opening of emphasis, strikethrough or a link, while its content is written."""

    def __init__(self, opening: _Open) -> None:
        self.opening = opening
        self.written = False


def _write_inline(pieces: list[_Inline], *, heading: bool = False) -> str:
    """Return the Markdown for a paragraph's (or heading's) inline pieces.

    Whitespace is collapsed as a browser would; spaces just inside emphasis or a link are
    moved outside, where CommonMark needs them; markup left with nothing inside is dropped,
    so an image-only link or an empty <b> leaves no stray brackets or stars.
    """
    out: list[str] = []
    stack: list[_Markup] = []
    space = False
    line_start = True

    def write(content: str) -> None:
        nonlocal space, line_start
        if space and not line_start:
            out.append(" ")
        space = False
        # Openings wait for content, so one that turns out empty writes nothing.
        for markup in stack:
            if not markup.written:
                out.append(markup.opening.markup)
                markup.written = True
        out.append(content)
        line_start = False

    for piece in pieces:
        if isinstance(piece, _Text):
            text = _WHITESPACE.sub(" ", piece.text)
            core = text.strip(" ")
            if text.startswith(" "):
                space = True
            if core:
                # Text right at the start of a line must not begin a block; after markup
                # written on the same line it cannot.
                at_start = line_start and all(markup.written for markup in stack)
                in_link = any(markup.opening.markup == "[" for markup in stack)
                if heading:
                    escaped = _escape_heading_text(core)
                elif in_link:
                    escaped = escape_markdown(core, line_start=at_start)
                else:
                    escaped = _inline_text_with_links(core, line_start=at_start)
                write(escaped)
                space = text.endswith(" ")
        elif isinstance(piece, _Open):
            stack.append(_Markup(piece))
        elif isinstance(piece, _Close):
            markup = stack.pop()
            if markup.written:
                out.append(markup.opening.closing)
        elif isinstance(piece, _Break):
            if heading:
                space = True
            elif not line_start:
                out.append("\n")
                line_start = True
                space = False
        elif piece.text.strip():
            write(_code_span(piece.text))
        elif piece.text:
            space = True
    return "".join(out).strip()


def _code_span(text: str) -> str:
    """Return `text` as a code span, fenced by more backticks than it holds in a row."""
    text = _WHITESPACE.sub(" ", text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    if text.startswith("`") or text.endswith("`"):
        text = f" {text} "
    return f"{fence}{text}{fence}"


def _code_block(text: str) -> list[str]:
    """Return `text` (from a <pre>) as a fenced code block, or nothing when it is blank."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return []
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}\n" + "\n".join(line.rstrip() for line in lines) + f"\n{fence}"]


# -- Drafts --------------------------------------------------------------------------------


def image_markdown(image: LeadImage) -> str:
    """Return the Markdown for `image` as Sala's editor writes it: ``![alt](url "caption")``.

    Alone in its paragraph with a caption, it cooks into a <figure> with a <figcaption>.
    Return "" when the image's address is neither http(s) nor a path on this site.
    """
    address = site_or_web_url(image.url)
    if address is None:
        return ""
    alt = escape_markdown(" ".join(image.alt.split()), line_start=False)
    caption = " ".join((image.caption or "").split())
    if not caption:
        return f"![{alt}]({address})"
    title = _ENTITY_LIKE.sub(r"\\&", caption.replace("\\", "\\\\").replace('"', '\\"'))
    return f'![{alt}]({address} "{title}")'


def draft_markdown(
    body: str, *, image: LeadImage | None = None, source_url: str | None = None
) -> str:
    """Return a news topic's first post: the lead image, the body, and a link to the source.

    `body` is Markdown from `html_to_markdown` or `text_to_markdown`. `image.url` may be
    replaced beforehand (`dataclasses.replace`) by the address of Sala's own copy; a path
    on this site such as /media/… is accepted. The source link is left out unless
    `source_url` is an http(s) address.
    """
    blocks = []
    if image is not None and (figure := image_markdown(image)):
        blocks.append(figure)
    if body.strip():
        blocks.append(body.strip())
    source = web_url(source_url)
    if source is not None:
        blocks.append(f"[{escape_markdown(gettext('read more'), line_start=False)}]({source})")
    return "\n\n".join(blocks)
