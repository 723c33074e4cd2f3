"""Browser stories of topics: the news topic as a guest reads it, posting with an image and a
source, quoting, who is browsing, stored script that must never run, and post permalinks.
"""

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.template.defaultfilters import date as format_date
from django.utils import timezone, translation
from PIL import Image
from playwright.sync_api import Page, expect

from conftest import LiveSala, PageChecker
from sala.accounts.tests.factories import DEFAULT_PASSWORD, make_member
from sala.forums import services
from sala.forums.models import Post, Topic
from sala.forums.tests.factories import make_forum, make_replies, make_topic
from sala.sample.community import (
    NEWS_CAPTION,
    NEWS_LEAD,
    NEWS_SOURCE,
    NEWS_TITLE,
    load_sample_community,
)
from tests.e2e.pages import SalaPage, SignInPage
from tests.e2e.topic_pages import NewTopicPage, TopicPage
from tests.e2e.visitors import MemberPage, OpenPage, member_page_fixture, open_page_fixture  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def assert_in_order(text: str, expected: list[str]) -> None:
    """Fail unless each of `expected` occurs in `text`, each after the one before it."""
    position = 0
    for part in expected:
        found = text.find(part, position)
        assert found >= 0, f"{part!r} is missing after position {position} in:\n{text}"
        position = found + len(part)


def first_paragraph(markdown: str) -> str:
    """Return the first paragraph of `markdown` on one line, as the page shows it."""
    return " ".join(markdown.split("\n\n")[0].split())


def quotation(markdown: str) -> str:
    """Return the text of the first blockquote in `markdown`, without the quotation marks."""
    quoted = next(block for block in markdown.split("\n\n") if block.startswith("> "))
    return " ".join(quoted.removeprefix("> ").split()).strip('"').split('," said')[0]


# --- (a) The seed page, as a guest sees it --------------------------------------------------


def test_a_guest_sees_the_sample_news_topic_laid_out_like_the_seed_page(
    sala_server: LiveSala, page: Page, page_checker: PageChecker, settings: Any, tmp_path: Path
) -> None:
    # The sample's photo goes where the server serves uploads from.
    settings.MEDIA_ROOT = Path(sala_server.env["SALA_DATA_DIR"]) / "media"
    load_sample_community(tmp_path)
    topic = Topic.objects.get(title=NEWS_TITLE)
    topic_page = TopicPage(page, sala_server.url, topic.get_absolute_url()).open()
    page_checker.check(page)

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Jump to content"

    body = page.inner_text("body")
    assert_in_order(
        body,
        [
            "Jump to content",
            NEWS_TITLE,
            "Recommended Posts",
            "Posted",
            first_paragraph(NEWS_LEAD),
            quotation(NEWS_LEAD),
            NEWS_CAPTION,
            "read more",
            "Create an account or sign in to comment",
            "You need to be a member in order to leave a comment",
            "Create an account",
            "Sign up for a new account in our community. It's easy!",
            "Register a new account",
            "Sign in",
            "Already have an account? Sign in here.",
            "Sign In Now",
            "Recently Browsing",
            "0 members",
            "No registered users viewing this page.",
        ],
    )
    assert "Create New..." in body
    assert "Sign In Now" in topic_page.guest_panel_text()
    assert topic_page.recently_browsing_text().startswith("Recently Browsing 0 members")

    first = topic_page.post_body(1)
    figure_image = first.locator("figure > img")
    expect(figure_image).to_have_attribute("loading", "lazy")
    expect(first.locator("figure > figcaption")).to_have_text(NEWS_CAPTION)
    figure_image.scroll_into_view_if_needed()
    expect(figure_image).to_have_js_property("complete", True)
    assert figure_image.evaluate("image => image.naturalWidth") > 0, "the photo did not load"
    expect(first.locator("blockquote")).to_contain_text(quotation(NEWS_LEAD))

    posts = Post.objects.filter(topic=topic).order_by("number")
    expect(topic_page.posts()).to_have_count(len(posts))
    with translation.override("en"):
        for post in posts:
            moment = topic_page.post(post.number).locator(".post__meta time[datetime]")
            shown = datetime.fromisoformat(moment.get_attribute("datetime") or "")
            assert shown == post.created_at.replace(microsecond=0)
            exact = format_date(timezone.localtime(post.created_at), "DATETIME_FORMAT")
            expect(moment).to_have_attribute("title", exact)
            expect(moment).to_have_text(re.compile(r"\bago$"))

    expect(topic_page.read_more).to_have_attribute("href", NEWS_SOURCE)
    rel = (topic_page.read_more.get_attribute("rel") or "").split()
    assert {"noopener", "nofollow", "ugc"} <= set(rel)


# --- (b) Posting with an image and a source; quoting it -------------------------------------


def test_a_member_posts_a_topic_with_an_image_and_source_and_another_quotes_it(
    sala_server: LiveSala,
    page: Page,
    page_checker: PageChecker,
    member_page: MemberPage,
    open_page: OpenPage,
    tmp_path: Path,
) -> None:
    forum = make_forum(name="Transport news")
    amara = make_member(username="amara", display_name="Amara Okafor")
    bruno = make_member(username="bruno", display_name="Bruno Keller")
    picture = tmp_path / "tram.png"
    Image.new("RGB", (320, 200), "#c8553d").save(picture)
    title = "The Porto Lume tram runs again"
    source = "https://news.example.org/2026/03/porto-lume-tram-runs-again"
    lead = "The first tram in forty years left the fish market at seven this morning."
    caption = "Car 12 waiting at the depot before its first run"

    # Amara signs in through the form and starts the topic from the Create New... menu.
    amara_page = open_page()
    sign_in = SignInPage(amara_page, sala_server.url).open()
    page_checker.check(amara_page)
    sign_in.sign_in(login="amara", password=DEFAULT_PASSWORD)
    expect(SalaPage(amara_page, sala_server.url).member_menu("Amara Okafor")).to_be_visible()
    new_topic = NewTopicPage(amara_page, sala_server.url).open_from_menu()
    page_checker.check(amara_page)
    new_topic.fill(forum="Transport news", title=title, text=lead, source_url=source)
    new_topic.attach_image(picture, caption)
    page_checker.check(amara_page)
    figure_line = new_topic.text.input_value().strip().splitlines()[-1]
    assert re.fullmatch(rf'!\[{caption}\]\(/media/uploads/\S+\.webp "{caption}"\)', figure_line)
    expect(new_topic.field("Title")).to_have_value(title)
    expect(new_topic.field("Source")).to_have_value(source)
    new_topic.preview()
    page_checker.check(amara_page)
    expect(new_topic.preview_region.locator("figure figcaption")).to_have_text(caption)
    expect(new_topic.preview_region).to_contain_text(lead)
    new_topic.submit()

    expect(amara_page).to_have_url(re.compile(r"/t/\d+-[\w-]+/$"))
    topic = Topic.objects.get(title=title)
    assert (topic.forum, topic.author, topic.source_url) == (forum, amara, source)
    path = topic.get_absolute_url()

    # Bruno quotes Amara's post.
    bruno_topic = TopicPage(member_page(bruno), sala_server.url, path).open()
    reply_box = bruno_topic.quote(1)
    page_checker.check(bruno_topic.page)
    quoted = reply_box.text.input_value()
    assert quoted.startswith("@amara wrote:")
    assert f"> {lead}" in quoted and f"> {figure_line}" in quoted
    answer = "Good news, but will it still run once the summer crowds arrive?"
    reply_box.add_text(answer)
    reply_box.submit()
    expect(bruno_topic.page).to_have_url(re.compile(rf"{re.escape(path)}#post-2$"))
    expect(bruno_topic.post_body(2)).to_contain_text(answer)

    # A guest reads both.
    guest = TopicPage(page, sala_server.url, path).open()
    page_checker.check(page)
    expect(guest.posts()).to_have_count(2)
    expect(guest.post(1)).to_contain_text("Amara Okafor")
    expect(guest.post(2)).to_contain_text("Bruno Keller")
    expect(guest.post_body(1).locator("figure > figcaption")).to_have_text(caption)
    image = guest.post_body(1).locator("figure > img")
    image.scroll_into_view_if_needed()
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("image => image.naturalWidth") == 320
    quote = guest.post_body(2).locator("blockquote")
    expect(quote).to_contain_text(lead)
    expect(quote.locator("figcaption")).to_have_text(caption)
    expect(guest.post_body(2)).to_contain_text("@amara wrote:")
    expect(guest.post_body(2).locator("blockquote + p")).to_have_text(answer)
    expect(guest.read_more).to_have_attribute("href", source)
    expect(guest.guest_panel).to_be_visible()


# --- (c) Recently Browsing ------------------------------------------------------------------


def test_a_member_viewing_a_topic_appears_in_recently_browsing_for_another_visitor(
    sala_server: LiveSala, page: Page, page_checker: PageChecker, member_page: MemberPage
) -> None:
    topic = make_topic(title="Ferry timetable changes for the winter")
    reader = make_member(username="chidi", display_name="Chidi Anagonye")

    member = TopicPage(member_page(reader), sala_server.url, topic.get_absolute_url()).open()
    expect(member.reply_box.text).to_be_visible()
    page_checker.check(member.page)

    guest = TopicPage(page, sala_server.url, topic.get_absolute_url()).open()
    assert guest.recently_browsing_text().startswith("Recently Browsing 1 member ")
    link = guest.recently_browsing.get_by_role("link", name="Chidi Anagonye")
    expect(link).to_have_attribute("href", reader.get_absolute_url())
    expect(guest.recently_browsing).not_to_contain_text("No registered users viewing this page.")


# --- (d) Stored XSS -------------------------------------------------------------------------

#: What every payload tries to run: each effect is checked for.
JS = "alert(1);document.title='XSS';window.__xss=1"

BODY_PAYLOADS = [
    f"<script>{JS}</script>",
    f'<img src=x onerror="{JS}">',
    f'"><script>{JS}</script>',
    f"</textarea><script>{JS}</script>",
    f"<<script>{JS}//<</script>",
    f"[a javascript link](javascript:{JS})",
    f"[mixed case](JaVaScRiPt:{JS})",
    f"[entity encoded](javascript&#58;{JS})",
    f"[tab inside](<java\tscript:{JS}>)",
    f"[reference link][evil]\n\n[evil]: javascript:{JS}",
    f"<javascript:{JS}>",
    f"![image](javascript:{JS})",
    f'<svg onload="{JS}"></svg>',
    f"<svg><script>{JS}</script></svg>",
    '<iframe srcdoc="&lt;script&gt;parent.alert(1)&lt;/script&gt;"></iframe>',
    "[data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![data image](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9ImFsZXJ0KDEpIi8+)",
    f'<style>body{{background:url("javascript:{JS}")}}</style>',
    f'<a href="javascript:{JS}">raw anchor</a>',
    f'<details open ontoggle="{JS}">x</details>',
    f'<math><mtext><table><mglyph><style><img src=x onerror="{JS}">',
    f'![alt" onerror="{JS}](/x.png "title\\" onerror=\\"{JS}")',
    f'<object data="javascript:{JS}"></object>',
    f'<meta http-equiv="refresh" content="0;url=javascript:{JS}">',
    "[back to the first post](#post-1) and [who is browsing](#browsing-heading)",
]

TITLE_PAYLOADS = [
    f"<script>{JS}</script>",
    f'"><img src=x onerror="{JS}">',
    f"</title><script>{JS}</script>",
]

#: Source addresses the new-topic form must refuse, each with a field error.
BAD_SOURCES = [
    f"javascript:{JS}",
    "JaVaScRiPt:alert(1)",
    f"java\tscript:{JS}",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "//evil.example/steal",
    "ftp://example.org/article",
    "https://",
]

#: A source stored through the service, trying to break out of the href attribute.
TRICKY_SOURCE = f'https://example.org/article?q="><script>{JS}</script>'
#: A source the form accepts, trying to break out of a script string instead. (The form
#: accepts TRICKY_SOURCE too, but then shows it back in an invalid <input type=url>.)
FORM_SOURCE = "https://example.org/article?q=');alert(1);//&lang=en"

# Record what the page's own CSP caught: anything here got past the sanitiser.
WATCH_SCRIPT = """
window.__cspViolations = [];
window.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""

#: The elements cooked posts may hold (sala.text.cooking's allow-list).
ALLOWED_IN_POSTS = [
    *("p", "br", "hr", "h2", "h3", "h4", "h5", "h6"),
    *("strong", "em", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li"),
    *("a", "img", "figure", "figcaption"),
    *("table", "thead", "tbody", "tr", "th", "td"),
]


class XssWatch:
    """Dialogs, CSP violations, document.title and window.__xss, checked after every step."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.dialogs: list[str] = []
        page.on("dialog", self._dismiss)
        page.add_init_script(WATCH_SCRIPT)

    def _dismiss(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def assert_nothing_ran(self, title: str) -> None:
        assert self.dialogs == []
        assert self.page.title().startswith(" ".join(title.split())), self.page.title()
        assert self.page.evaluate("typeof window.__xss") == "undefined"
        assert self.page.evaluate("window.__cspViolations") == []

    def assert_posts_hold_only_safe_markup(self) -> None:
        problems = self.page.evaluate(
            """allowed => {
              const problems = [];
              for (const body of document.querySelectorAll("article.post .post__body")) {
                for (const element of body.querySelectorAll("*")) {
                  const tag = element.localName;
                  if (!allowed.includes(tag)) problems.push(`<${tag}>`);
                  for (const attribute of element.attributes) {
                    if (attribute.name.startsWith("on") || attribute.name === "style") {
                      problems.push(`${tag} ${attribute.name}`);
                    }
                  }
                  const url = element.getAttribute("href") ?? element.getAttribute("src");
                  if (url !== null && !/^(https?:|mailto:|\\/(?![\\/\\\\])|#|\\?)/i.test(url)) {
                    problems.push(`${tag} ${url}`);
                  }
                }
              }
              for (const element of document.querySelectorAll("script:not([src])")) {
                problems.push(`inline script ${element.textContent.slice(0, 40)}`);
              }
              return problems;
            }""",
            ALLOWED_IN_POSTS,
        )
        assert problems == []

    def click_links_that_stay_on_the_page(self, topic_page: TopicPage, title: str) -> int:
        """Click every link in the posts that leads back to this page; return how many."""
        here = urlsplit(self.page.url)
        links = topic_page.post_bodies().locator("a")
        clicked = 0
        for index in range(links.count()):
            link = links.nth(index)
            target = urlsplit(link.evaluate("link => link.href"))
            if (target.scheme, target.netloc, target.path) != (here.scheme, here.netloc, here.path):
                continue
            link.click()
            self.page.wait_for_load_state()
            clicked += 1
            self.assert_nothing_ran(title)
        return clicked


def check_topic_for_xss(
    page: Page, watch: XssWatch, sala: LiveSala, topic: Topic, checker: PageChecker
) -> TopicPage:
    topic_page = TopicPage(page, sala.url, topic.get_absolute_url()).open()
    watch.assert_nothing_ran(topic.title)
    watch.assert_posts_hold_only_safe_markup()
    expect(topic_page.heading).to_have_text(" ".join(topic.title.split()))
    checker.check(page)
    return topic_page


def test_stored_xss_payloads_never_execute_in_the_browser(
    sala_server: LiveSala,
    page: Page,
    page_checker: PageChecker,
    member_page: MemberPage,
) -> None:
    mallory = make_member(username="mallory")
    forum = make_forum(name="Sandbox")
    # Two payloads a post keeps every post on the topic's first page.
    first, *replies = [
        "\n\n".join(BODY_PAYLOADS[i : i + 2]) for i in range(0, len(BODY_PAYLOADS), 2)
    ]
    topics = [
        make_topic(forum=forum, author=mallory, title=title, text=first, source_url=TRICKY_SOURCE)
        for title in TITLE_PAYLOADS[:2]
    ]
    for payload in replies:
        services.reply(topic=topics[0], author=mallory, text=payload)

    # A guest reads the topics and clicks every link in them that stays on the page.
    watch = XssWatch(page)
    for topic in topics:
        topic_page = check_topic_for_xss(page, watch, sala_server, topic, page_checker)
        expect(topic_page.read_more).to_have_js_property(
            "href", page.evaluate("url => new URL(url).href", TRICKY_SOURCE)
        )
    topic_page = TopicPage(page, sala_server.url, topics[0].get_absolute_url()).open()
    expect(topic_page.posts()).to_have_count(len(replies) + 1)
    assert watch.click_links_that_stay_on_the_page(topic_page, topics[0].title) >= 2

    # Mallory tries the same through the form; the source field refuses every bad address.
    mallory_page = member_page(mallory)
    mallory_watch = XssWatch(mallory_page)
    new_topic = NewTopicPage(mallory_page, sala_server.url).open()
    title = TITLE_PAYLOADS[2]
    text = "\n\n".join(BODY_PAYLOADS)
    new_topic.fill(forum="Sandbox", title=title, text=text)
    for index, bad_source in enumerate(BAD_SOURCES):
        new_topic.field("Source").fill(bad_source)
        new_topic.submit()
        expect(new_topic.field_errors("Source")).to_have_text(
            "Enter the article's web address, starting with http:// or https://."
        )
        expect(new_topic.field("Source")).to_have_attribute("aria-invalid", "true")
        expect(new_topic.field("Title")).to_have_value(title)
        if index == 0:
            page_checker.check(mallory_page)
        mallory_watch.assert_nothing_ran("Start a topic")
    assert not Topic.objects.filter(title=title).exists()

    new_topic.field("Source").fill(FORM_SOURCE)
    new_topic.preview()
    page_checker.check(mallory_page)
    mallory_watch.assert_nothing_ran("Start a topic")
    new_topic.submit()
    expect(mallory_page).to_have_url(re.compile(r"/t/\d+-[\w-]*/$"))
    posted = Topic.objects.get(title=title)
    assert posted.source_url == FORM_SOURCE

    topic_page = check_topic_for_xss(page, watch, sala_server, posted, page_checker)
    expect(topic_page.read_more).to_have_attribute("href", FORM_SOURCE)
    assert watch.click_links_that_stay_on_the_page(topic_page, posted.title) >= 2
    mallory_topic = TopicPage(mallory_page, sala_server.url, posted.get_absolute_url()).open()
    mallory_watch.assert_nothing_ran(posted.title)
    mallory_topic.quote(1)
    page_checker.check(mallory_page)
    mallory_watch.assert_nothing_ran(posted.title)


# --- (e) Permalinks -------------------------------------------------------------------------


def test_a_post_permalink_lands_on_its_page_scrolled_to_the_post(
    sala_server: LiveSala, page: Page, page_checker: PageChecker
) -> None:
    topic = make_topic(title="Council publishes the tram timetable")
    make_replies(topic, 44)

    page.goto(f"{sala_server.url}{topic.get_absolute_url()}post/42/")

    expect(page).to_have_url(f"{sala_server.url}{topic.get_absolute_url()}?page=3#post-42")
    page_checker.check(page)
    topic_page = TopicPage(page, sala_server.url, topic.get_absolute_url())
    expect(topic_page.posts()).to_have_count(5)
    expect(topic_page.post(42)).to_be_in_viewport()
    # Scrolled to it, not merely somewhere on screen: the post is at the top of the window.
    box = topic_page.post(42).bounding_box()
    assert box is not None and 0 <= box["y"] < 40, box


def test_every_forum_page_a_moderator_visits_is_valid_and_accessible(
    sala_server: LiveSala, member_page: MemberPage, page_checker: PageChecker
) -> None:
    from sala.forums.tests.factories import make_moderator

    moderator = make_moderator()
    topic = make_topic(author=moderator, title="Pages to check", text="First **post**.")
    (reply,) = make_replies(topic, 1)
    services.edit_post(post=topic.posts.get(number=1), editor=moderator, text="Edited post.")
    services.recommend_post(post=reply, moderator=moderator)
    base = topic.get_absolute_url()
    page = member_page(moderator)
    for path in [
        "/",
        Topic.objects.get(pk=topic.pk).forum.get_absolute_url(),
        base,
        f"{base}?quote=2",
        f"{base}reply/",
        f"{base}post/1/edit/",
        f"{base}post/2/delete/",
        f"{base}post/1/revisions/",
        f"{base}post/2/hide/",
        f"{base}post/2/report/",
        f"{base}move/",
        "/moderation/queue/",
        "/moderation/queue/?closed=1",
        "/new/topic/",
        moderator.get_absolute_url(),
    ]:
        response = page.goto(sala_server.url + path)
        assert response is not None and response.status == 200, path
        page_checker.check(page)
    # This server is WSGI only: the live stream answers 204 and the page must not claim
    # that updates are "paused" (they never started).
    page.goto(sala_server.url + base)
    with page.expect_response(lambda response: "/live/" in response.url) as stream:
        page.reload()
    assert stream.value.status == 204
    page.wait_for_timeout(500)
    expect(page.locator(".live-notice__status")).to_have_text("")
    page.goto(sala_server.url + f"{base}reply/")
    page.get_by_role("button", name="Submit Reply").click()
    expect(page.locator(".field__errors")).to_contain_text("Write something first.")
    page_checker.check(page)
