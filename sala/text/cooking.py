"""Cook members' Markdown into sanitised HTML once, at write time, and excerpt it for listings.

Pages show the stored HTML as it is; nothing on the read path parses Markdown. Two layers
keep the HTML safe: the Markdown renderer emits only the markup Sala allows (raw HTML in
the text is shown as text, and unsafe URLs are never made into links or images), and nh3
then sanitises the result against an allow-list anyway, so a mistake in the first layer
is not enough for script to reach a page.
"""

import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict


@dataclass(frozen=True)
class CookedText:
    """The result of cooking one text; store all three beside the source."""

    #: Sanitised HTML, safe to output with ``|safe``.
    html: str
    #: Members mentioned and found, as first written, once each, in order of appearance.
    mentions: tuple[str, ...]
    #: Absolute http(s) URLs the text links to, once each, in order of appearance.
    links: tuple[str, ...]


def cook(text: str, *, profile_url: Callable[[str], str | None]) -> CookedText:
    """Return `text` (Markdown) as sanitised HTML, with the members it mentions and its links.

    `profile_url` is called once per distinct name written as ``@name``, whatever its
    case; it returns the member's profile URL, or None when there is no such member, and
    then the name stays plain text and is not collected. Nothing is refused: any text
    cooks into safe HTML, in time proportional to its length (limits on length belong
    to the forms).
    """
    env: EnvType = {"profile_url": profile_url, "mentions": {}}
    tokens = _markdown.parse(text, env)
    html = _cleaner.clean(_markdown.renderer.render(tokens, _markdown.options, env))
    mentions: dict[str, str] = env["mentions"]
    return CookedText(
        html=html,
        mentions=tuple(mentions.values()),
        links=_collect_links(tokens),
    )


def excerpt(html_or_text: str, length: int = 200) -> str:
    """Return the plain text of cooked HTML, whitespace collapsed, in at most `length` characters.

    A longer text is cut at a word boundary where there is one and ends with "…". The
    result is text, not HTML: templates escape it like any other string.
    """
    parser = _TextCollector()
    parser.feed(html_or_text)
    parser.close()
    plain = " ".join("".join(parser.parts).split())
    if len(plain) <= length:
        return plain
    if length < 1:
        return ""
    cut = plain[: length - 1]
    # Cut at the last space, unless that would throw away most of the excerpt (one very
    # long word, a URL): then cutting mid-word reads better than a stub.
    space = cut.rfind(" ")
    if space > length // 2:
        cut = cut[:space]
    return cut.rstrip(" .,;:") + "…"


# -- URLs --------------------------------------------------------------------------------

# Browsers drop tabs and newlines anywhere in a URL and strip leading control characters
# and spaces, so "java\tscript:" is "javascript:"; check URLs as the browser will read them.
_URL_IGNORED = re.compile(r"[\t\n\r]")
_URL_LEADING_IGNORED = "".join(chr(code) for code in range(0x21))  # C0 controls and space
_LINK_SCHEMES = ("http:", "https:", "mailto:")
_IMAGE_SCHEMES = ("http:", "https:")


def _browser_view(url: str) -> str:
    """Return `url` lowercased and with what browsers ignore in a URL removed."""
    return _URL_IGNORED.sub("", url).lstrip(_URL_LEADING_IGNORED).lower()


def _is_site_path(url: str) -> bool:
    # "//host" and "/\host" are protocol-relative, that is, on another site.
    return url.startswith("/") and not url.startswith(("//", "/\\"))


def _is_link_target(url: str) -> bool:
    """Return whether a link may point at `url`: http(s), mailto, a site path or a fragment."""
    seen = _browser_view(url)
    return seen.startswith(_LINK_SCHEMES) or _is_site_path(seen) or seen.startswith("#")


def _is_image_source(url: str) -> bool:
    """Return whether an image may load from `url`: http(s) or a site path, nothing else."""
    seen = _browser_view(url)
    return seen.startswith(_IMAGE_SCHEMES) or _is_site_path(seen)


def _is_absolute_web_url(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


# -- Markdown ----------------------------------------------------------------------------


class _SalaMarkdown(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        # Called for links, images, <autolinks> and linkified URLs alike: an invalid one is
        # left as the text the member typed. Images are narrowed further when rendered.
        return _is_link_target(url)


# "@" followed by a letter, digit or "_" may start a mention; _find_mentions decides.
_MENTION_START = re.compile(r"@(?=\w)")
_NAME_PUNCTUATION = "_.-"


def _is_name_character(character: str) -> bool:
    """Return whether `character` may be part of a username.

    sala.accounts allows letters and digits of any script and "_ . -"; combining marks are
    accepted here too, so a name in a script written with them (Khmer, Devanagari) is
    never cut in the middle of a letter.
    """
    return (
        character.isalnum()
        or character in _NAME_PUNCTUATION
        or unicodedata.category(character).startswith("M")
    )


def _find_mentions(text: str) -> Iterator[tuple[int, str]]:
    """Yield the position of each "@name" in `text`, with the name.

    An "@" right after a name character or "@" or "/" is not a mention, so addresses such
    as marta@example.com and paths such as /@marta are left alone. A name does not end
    with a full stop: in "thanks, @marta." the stop ends the sentence.
    """
    for match in _MENTION_START.finditer(text):
        start = match.start()
        if start > 0 and (_is_name_character(text[start - 1]) or text[start - 1] in "@/"):
            continue
        end = start + 1
        while end < len(text) and _is_name_character(text[end]):
            end += 1
        name = text[start + 1 : end].rstrip(".")
        if name:
            yield start, name


def _demote_h1(state: StateCore) -> None:
    """Turn h1 into h2: the page's title is its only h1."""
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close") and token.tag == "h1":
            token.tag = "h2"


def _align_table_cells(state: StateCore) -> None:
    """Replace markdown-it's style="text-align:x" on table cells with align="x".

    Sanitising allows no style attribute at all, so alignment travels as `align`.
    """
    for token in state.tokens:
        if token.type in ("th_open", "td_open"):
            style = str(token.attrGet("style") or "")
            token.attrs.pop("style", None)
            if style.startswith("text-align:"):
                token.attrSet("align", style.removeprefix("text-align:"))


def _mark_figures(state: StateCore) -> None:
    """Mark each paragraph holding only a titled image: it renders as a captioned figure."""
    tokens = state.tokens
    for index in range(len(tokens) - 2):
        opening, inline, closing = tokens[index : index + 3]
        if (
            opening.type == "paragraph_open"
            and not opening.hidden
            and inline.type == "inline"
            and closing.type == "paragraph_close"
            and inline.children is not None
            and len(inline.children) == 1
            and inline.children[0].type == "image"
            and inline.children[0].attrGet("title")
        ):
            opening.meta["figure"] = True
            closing.meta["figure"] = True
            inline.children[0].meta["figure"] = True


def _link_mentions(state: StateCore) -> None:
    """Make each ``@name`` of a known member a link to their profile, outside code and links.

    Code spans are their own tokens and code blocks are not inline at all, so only text
    outside links is searched.
    """
    profile_url: Callable[[str], str | None] = state.env["profile_url"]
    mentions: dict[str, str] = state.env["mentions"]
    # Known answers per name, whatever its case, so each name is looked up once.
    urls: dict[str, str | None] = {}
    for block in state.tokens:
        if block.type != "inline" or not block.children or "@" not in block.content:
            continue
        children: list[Token] = []
        link_depth = 0
        for token in block.children:
            if token.type == "link_open":
                link_depth += 1
            elif token.type == "link_close":
                link_depth -= 1
            if token.type != "text" or link_depth > 0 or "@" not in token.content:
                children.append(token)
                continue
            position = 0
            for start, name in _find_mentions(token.content):
                key = name.casefold()
                if key not in urls:
                    urls[key] = profile_url(name)
                url = urls[key]
                if url is None or not _is_link_target(url):
                    continue
                mentions.setdefault(key, name)
                if start > position:
                    children.append(_text(token, token.content[position:start]))
                link = Token("link_open", "a", 1, level=token.level, markup="mention")
                link.attrs = {"href": url, "class": "mention"}
                children.append(link)
                children.append(_text(token, "@" + name, level=token.level + 1))
                children.append(Token("link_close", "a", -1, level=token.level, markup="mention"))
                position = start + 1 + len(name)
            if position < len(token.content):
                children.append(_text(token, token.content[position:]))
        block.children = children


def _text(like: Token, content: str, *, level: int | None = None) -> Token:
    return Token("text", "", 0, content=content, level=like.level if level is None else level)


def _render_paragraph_open(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    if tokens[idx].meta.get("figure"):
        return "<figure>"
    return renderer.renderToken(tokens, idx, options, env)


def _render_paragraph_close(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    if tokens[idx].meta.get("figure"):
        return "</figure>\n"
    return renderer.renderToken(tokens, idx, options, env)


def _render_image(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = renderer.renderInlineAsText(token.children, options, env)
    if not _is_image_source(src):
        # A mailto: or "#" source passed validateLink, which also serves links; show the
        # description instead of an image that cannot load.
        return escapeHtml(alt)
    title = str(token.attrGet("title") or "")
    attributes = f'src="{escapeHtml(src)}" alt="{escapeHtml(alt)}"'
    if token.meta.get("figure"):
        return (
            f'<img {attributes} loading="lazy" decoding="async">'
            f"<figcaption>{escapeHtml(title)}</figcaption>"
        )
    if title:
        attributes += f' title="{escapeHtml(title)}"'
    return f'<img {attributes} loading="lazy" decoding="async">'


def _build_markdown() -> MarkdownIt:
    markdown = _SalaMarkdown(
        "commonmark",
        {
            # Raw HTML in a post is shown as the text it is, never interpreted.
            "html": False,
            "linkify": True,
            "xhtmlOut": False,
            # Forum members expect a new line to show as one, as on GitHub and Discourse;
            # strict CommonMark would join the lines into one.
            "breaks": True,
            # markdown-it's guard against deep recursion: blocks and inline markup nested
            # deeper are left out, so ">" * 5000 cooks as fast as ">" * 20.
            "maxNesting": 20,
        },
    )
    markdown.enable(["table", "strikethrough", "linkify"])
    # With "html" off these rules only return early; out of the chain they cost nothing on
    # each "<" of a long text.
    markdown.disable(["html_inline", "html_block"])
    # Link only URLs written out with their scheme: "example.com" in a sentence stays text,
    # and so do addresses, which would otherwise hand every e-mail in a post to scrapers.
    linkify = markdown.linkify
    if linkify is None:  # markdown-it-py leaves it out when linkify-it-py is missing.
        raise ImportError("Cooking needs linkify-it-py to autolink URLs.")
    linkify.set({"fuzzy_link": False, "fuzzy_email": False})
    linkify.add("ftp:", None)
    linkify.add("//", None)
    markdown.core.ruler.push("sala_demote_h1", _demote_h1)
    markdown.core.ruler.push("sala_align_table_cells", _align_table_cells)
    markdown.core.ruler.push("sala_figures", _mark_figures)
    markdown.core.ruler.push("sala_mentions", _link_mentions)
    markdown.add_render_rule("paragraph_open", _render_paragraph_open)
    markdown.add_render_rule("paragraph_close", _render_paragraph_close)
    markdown.add_render_rule("image", _render_image)
    return markdown


_markdown = _build_markdown()


# -- Sanitising --------------------------------------------------------------------------

_LANGUAGE_CLASS = re.compile(r"language-[\w+#.\-]{1,40}")
_DIMENSION = re.compile(r"[0-9]{1,5}")
_LIST_START = re.compile(r"[0-9]{1,9}")  # CommonMark's limit for a list item's number
_ATTRIBUTE_VALUES: dict[str, Callable[[str], bool]] = {
    "align": lambda value: value in ("left", "center", "right"),
    "loading": lambda value: value == "lazy",
    "decoding": lambda value: value == "async",
    "width": lambda value: _DIMENSION.fullmatch(value) is not None,
    "height": lambda value: _DIMENSION.fullmatch(value) is not None,
    "start": lambda value: _LIST_START.fullmatch(value) is not None,
}


def _filter_attribute(element: str, attribute: str, value: str) -> str | None:
    """Return `value` if it is allowed for `attribute` on `element`, else None to drop it."""
    if attribute == "href":
        return value if _is_link_target(value) else None
    if attribute == "src":
        return value if _is_image_source(value) else None
    if attribute == "class":
        if element == "a":
            return value if value == "mention" else None
        return value if _LANGUAGE_CLASS.fullmatch(value) else None
    check = _ATTRIBUTE_VALUES.get(attribute)
    if check is not None:
        return value if check(value) else None
    return value


_cleaner = nh3.Cleaner(
    # h1 is left out: headings in posts start at h2, under the page's title.
    tags={
        *("p", "br", "hr", "h2", "h3", "h4", "h5", "h6"),
        *("strong", "em", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li"),
        *("a", "img", "figure", "figcaption"),
        *("table", "thead", "tbody", "tr", "th", "td"),
    },
    attributes={
        # Not nh3's default of lang and title on every element: only what is listed here.
        "*": set(),
        "a": {"href", "title", "class"},
        "img": {"src", "alt", "title", "loading", "decoding", "width", "height"},
        "code": {"class"},
        # A list written from "3." starts at 3.
        "ol": {"start"},
        "th": {"align"},
        "td": {"align"},
    },
    attribute_filter=_filter_attribute,
    # Every link gets these, mentions and links within Sala too: nh3 cannot tell them
    # apart, and having it add rel itself means no link can be left without it.
    link_rel="nofollow ugc noopener",
    url_schemes={"http", "https", "mailto"},
)


def _collect_links(tokens: Sequence[Token]) -> tuple[str, ...]:
    links: dict[str, None] = {}
    for block in tokens:
        for token in block.children or ():
            if token.type == "link_open" and token.markup != "mention":
                href = str(token.attrGet("href") or "")
                if _is_absolute_web_url(href):
                    links.setdefault(href, None)
    return tuple(links)


# -- Excerpts ----------------------------------------------------------------------------

# Elements that end a line of text: their text must not run into the next element's.
_BLOCK_ELEMENTS = frozenset(
    {
        *("p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote"),
        *("ul", "ol", "li", "figure", "figcaption", "table", "tr", "th", "td", "div"),
    }
)


# Elements whose content is not text a reader sees; cooked HTML has none, other HTML may.
_HIDDEN_ELEMENTS = frozenset({"script", "style", "template"})


class _TextCollector(HTMLParser):
    """Collect the text of an HTML fragment, a space where a block starts or ends."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_ELEMENTS:
            self.parts.append(" ")
        elif tag in _HIDDEN_ELEMENTS:
            self.hidden_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK_ELEMENTS:
            self.parts.append(" ")
        elif tag in _HIDDEN_ELEMENTS and self.hidden_depth:
            self.hidden_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden_depth:
            self.parts.append(data)
