"""Odd input through the forum's pages and forms: garbled query strings, malformed
Markdown, a form sent twice, script in titles and posts.

Nothing odd breaks a page: a garbled page number or cursor gives the page a reader
expects, malformed Markdown posts and renders, a form sent twice writes once, and script
in a title or a post comes out of every page inert.
"""

from urllib.parse import unquote

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from sala.accounts.models import User
from sala.core.tests.html_pages import (
    Page,
    assert_only_errors_at,
    page_of,
)
from sala.forums.models import Post, Topic
from sala.forums.tests.posting import (
    NEW_TOPIC,
    NOT_A_WEB_ADDRESS,
    World,
    good_reply,
    good_topic,
    world_fixture,  # noqa: F401 (the world fixture)
)

pytestmark = pytest.mark.django_db


# --- Bad query strings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "page",
    ["abc", "0", "-1", "99999", "1.5", "", "9" * 30, "²", "\u0661"],
    ids=[
        "letters",
        "zero",
        "negative",
        "past the end",
        "a fraction",
        "empty",
        "30 digits",
        "superscript two",
        "Arabic-Indic one",
    ],
)
def test_a_topic_page_that_is_not_a_page_number_is_not_found(
    client: Client, world: World, page: str
) -> None:
    response = client.get(world.topic.get_absolute_url(), {"page": page})

    page_of(response, 404)


@pytest.mark.parametrize(
    "quote",
    ["abc", "-1", "99", "²", "9" * 30],
    ids=["letters", "negative", "no such post", "superscript two", "30 digits"],
)
def test_quoting_a_post_that_is_not_there_opens_an_empty_reply_box(
    client: Client, world: World, quote: str
) -> None:
    response = client.get(world.topic.get_absolute_url(), {"quote": quote})

    assert page_of(response).value_of("text") == ""


@pytest.mark.parametrize(
    "forum",
    ["abc", "999999", "²", "9" * 30],
    ids=["letters", "no such forum", "superscript two", "30 digits"],
)
def test_starting_a_topic_in_a_forum_that_is_not_there_offers_every_forum(
    client: Client, world: World, forum: str
) -> None:
    response = client.get(NEW_TOPIC, {"forum": forum})

    assert page_of(response).selected("forum") in ([], [""])


@pytest.mark.parametrize(
    "after",
    ["abc", "_", "2026-01-01T00:00:00+00:00_abc", "2026-01-01T00:00:00+00:00_²"],
    ids=["letters", "separator only", "topic id of letters", "topic id of superscript two"],
)
def test_a_forum_page_with_a_garbled_cursor_shows_the_first_page(
    client: Client, world: World, after: str
) -> None:
    response = client.get(world.forum.get_absolute_url(), {"after": after})

    assert world.topic.title in page_of(response).main.text


# --- Odd text that must still post and render -------------------------------------------------

MALFORMED_MARKDOWN = [
    pytest.param("```python\nprint('never closed')\n\nmore text", id="unclosed code fence"),
    pytest.param("~~~\n" * 3 + "`" * 5000, id="5000 backticks"),
    pytest.param(">" * 5000 + " deep", id="5000 nested quotes on one line"),
    pytest.param("\n".join(">" * n + " level" for n in range(1, 200)), id="199 deepening quotes"),
    pytest.param("- " * 2000 + "nested list", id="2000 nested list markers"),
    pytest.param("[" * 5000 + "x" + "]" * 5000, id="5000 nested brackets"),
    pytest.param("*" * 10_000 + "a" + "_" * 10_000, id="20,000 emphasis markers"),
    pytest.param(
        "[a long link](https://example.org/" + "a" * 10_000 + ")", id="link of 10,000 characters"
    ),
    pytest.param(
        "[" + "long words " * 1000 + "](https://example.org/)", id="link text of 11,000 characters"
    ),
    pytest.param("<" * 5000 + "&" * 5000, id="5000 angle brackets and ampersands"),
    pytest.param("| a | b |\n|---|\n| 1 | 2 | 3 |", id="table with mismatched columns"),
    pytest.param("\u202eevil\u200b text\x0b\x0c with controls", id="control and bidi characters"),
]


@pytest.mark.parametrize("text", MALFORMED_MARKDOWN)
def test_malformed_markdown_is_accepted_and_renders(
    client: Client, world: World, text: str
) -> None:
    before = Post.objects.count()

    posted = client.post(world.url("reply"), {**good_reply(world), "text": text})
    assert posted.status_code == 302, "the reply was refused"
    shown = client.get(posted["Location"], follow=True)

    page = page_of(shown)
    assert Post.objects.count() == before + 1
    assert len(page.with_class("post")) == 3
    preview = client.post(
        world.url("reply"), {**good_reply(world), "text": text, "action": "preview"}
    )
    assert page_of(preview).with_class("preview")


# --- Submitting twice -------------------------------------------------------------------------


def test_posting_the_same_reply_form_twice_gives_one_reply_and_both_land_on_it(
    client: Client, world: World
) -> None:
    posts_before = Post.objects.count()
    data = good_reply(world)

    first = client.post(world.url("reply"), data)
    second = client.post(world.url("reply"), data)

    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == f"{world.url('topic')}#post-3"
    assert Post.objects.count() == posts_before + 1
    world.refresh()
    assert world.topic.reply_count == 2
    assert User.objects.get(pk=world.alice.pk).post_count == 2


def test_posting_the_same_new_topic_twice_gives_one_topic_and_both_land_on_it(
    client: Client, world: World
) -> None:
    data = good_topic(world)
    topics_before = Topic.objects.count()

    first = client.post(NEW_TOPIC, data)
    second = client.post(NEW_TOPIC, data)

    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Topic.objects.count() == topics_before + 1
    world.forum.refresh_from_db()
    assert world.forum.topic_count == 2
    assert world.forum.post_count == 3


# --- Script in titles and posts ---------------------------------------------------------------

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    '"><script>alert(1)</script>',
    "'><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "</textarea><script>alert(1)</script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<img src=x onerror=alert(1)>",
    '<img src="x" onerror="alert(1)">',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text y="20">x</text></a></svg>',
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<p style="background:url(javascript:alert(1))">styled</p>',
    "<style>*{background:url(javascript:alert(1))}</style>",
    '<a href="javascript:alert(1)">click</a>',
    '<a href="https://example.org" onclick="alert(1)">click</a>',
    "<details open ontoggle=alert(1)>",
    "<body onload=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    '<form action="javascript:alert(1)"><button>go</button></form>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<!--<img src=x onerror=alert(1)>-->",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](java&#x09;script:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    "![x](data:image/svg+xml,<svg onload=alert(1)>)",
    '![x](https://example.org/x.png "a" onerror="alert(1)")',
    '[x](https://example.org/ "title" onmouseover="alert(1)")',
    "<javascript:alert(1)>",
    '<https://example.org/"onmouseover="alert(1)>',
    'https://example.org/?q="><script>alert(1)</script>',
    "[x]: javascript:alert(1)\n\n[click][x]",
    "`<script>alert(1)</script>`",
    "```html\n<script>alert(1)</script>\n```",
    "@<script>alert(1)</script>",
]

#: Attributes that a browser follows or loads as a URL.
URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background", "cite"}
)
DANGEROUS_SCHEMES = ("javascript:", "data:", "vbscript:")


def as_browser_reads(url: str) -> str:
    """Return `url` as a browser reads its scheme: no tabs or newlines, no leading junk."""
    for ignored in "\t\n\r":
        url = url.replace(ignored, "")
    return url.lstrip("".join(map(chr, range(0x21)))).lower()


def assert_inert(page: Page) -> None:
    """Fail if the page holds anything a member's text could make a browser run."""
    for element in page.elements:
        in_main = page.main in element.ancestors()
        if element.tag == "script":
            assert "src" in element.attrs and not in_main, f"script in the page: {element}"
        assert element.tag not in {"iframe", "object", "embed", "base", "frame"}, element
        if in_main:
            assert element.tag not in {"style", "meta", "link"}, element
        for name, value in element.attrs.items():
            assert not name.startswith("on"), f"event handler {name}={value!r} on <{element.tag}>"
            if name in URL_ATTRIBUTES or name == "srcset":
                assert not as_browser_reads(value).startswith(DANGEROUS_SCHEMES), (
                    f"<{element.tag} {name}={value!r}>"
                )
        if any("post__body" in e.classes for e in [element, *element.ancestors()]):
            assert "style" not in element.attrs, f"style in a post: {element}"
            assert element.tag not in {"form", "input", "button", "textarea", "select"}, element


def assert_title_escaped(page: Page, title: str) -> None:
    assert escape(title) in page.html
    if "<" in title:
        assert title not in page.html, "the title came back unescaped"


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_script_posted_as_title_and_body_never_runs_on_any_page(
    client: Client, world: World, payload: str
) -> None:
    data = {**good_topic(world), "title": payload, "text": payload}
    title = " ".join(payload.split())

    preview = page_of(client.post(NEW_TOPIC, {**data, "action": "preview"}))
    assert_inert(preview)
    posted = client.post(NEW_TOPIC, data)

    if posted.status_code == 200:  # refused: the form comes back, still inert
        refused = page_of(posted)
        assert_inert(refused)
        assert_title_escaped(refused, payload)
        return
    assert posted.status_code == 302
    topic_page = page_of(client.get(posted["Location"]))
    assert_inert(topic_page)
    assert_title_escaped(topic_page, title)
    (heading,) = [e for e in topic_page.elements if e.tag == "h1"]
    assert heading.text == title
    for listing in (world.forum.get_absolute_url(), reverse("forums:index")):
        listing_page = page_of(client.get(listing))
        assert_inert(listing_page)
        assert_title_escaped(listing_page, title)


@pytest.mark.parametrize(
    "source_url",
    [
        'https://example.org/"onmouseover="alert(1)',
        'https://example.org/"><script>alert(1)</script>',
        "https://example.org/'><img src=x onerror=alert(1)>",
        "https://example.org/#javascript:alert(1)",
    ],
)
def test_an_accepted_source_address_comes_out_as_an_inert_link(
    client: Client, world: World, source_url: str
) -> None:
    posted = client.post(NEW_TOPIC, {**good_topic(world), "source_url": source_url})

    if posted.status_code == 200:
        assert_only_errors_at(page_of(posted), {"source_url": NOT_A_WEB_ADDRESS})
        return
    page = page_of(client.get(posted["Location"]))
    assert_inert(page)
    (read_more,) = [e for e in page.elements if e.tag == "a" and e.text == "read more"]
    assert unquote(read_more.attrs["href"]) == source_url
