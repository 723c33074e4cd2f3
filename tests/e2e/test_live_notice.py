"""The live notice of topic and forum pages (sala/static/sala/live_notice.js): its `n`
shortcut acts on a bare key only, never on a Ctrl, Alt or Meta chord the browser owns,
nor on an `n` typed into a form field."""

import pytest
from playwright.sync_api import Browser, Page, expect

from conftest import LiveSala
from sala.accounts.tests.factories import DEFAULT_PASSWORD, make_member
from sala.forums.tests.factories import make_forum, make_topic
from tests.e2e.pages import SignInPage
from tests.e2e.topic_pages import ForumPage, TopicPage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHORDS = ["Control+n", "Alt+n", "Meta+n"]


def signed_in(browser: Browser, server: LiveSala, username: str) -> Page:
    """Return a page of a new browser context in which `username` has signed in."""
    page = browser.new_context().new_page()
    sign_in = SignInPage(page, server.url).open()
    sign_in.sign_in(login=username, password=DEFAULT_PASSWORD)
    expect(sign_in.member_menu(username)).to_be_visible()
    return page


def record_fetches(page: Page) -> None:
    """Keep the address of every fetch the page makes from now on (it still goes out).

    A key handler starts its fetch before it returns, so what the list holds right
    after a key press is all that key did: no waiting for what did not happen.
    """
    page.evaluate(
        """() => {
          window.__fetched = [];
          const send = window.fetch;
          window.fetch = (...request) => {
            window.__fetched.push(String(request[0]));
            return send(...request);
          };
        }"""
    )


def fetched(page: Page) -> list[str]:
    return list(page.evaluate("window.__fetched"))


def test_the_topic_notice_shows_new_replies_on_a_bare_n_only(
    asgi_server: LiveSala, browser: Browser
) -> None:
    topic = make_topic(title="Tram vote", text="Opening post.")
    for username in ("ines", "marta"):
        make_member(username=username)
    reader = TopicPage(
        signed_in(browser, asgi_server, "ines"), asgi_server.url, topic.get_absolute_url()
    )
    reader.open()
    writer = TopicPage(
        signed_in(browser, asgi_server, "marta"), asgi_server.url, topic.get_absolute_url()
    )
    writer.open().reply("Moved to Friday.")
    writer.page.wait_for_url("**#post-2")

    new_replies = reader.main.get_by_role("button", name="1 new reply")
    expect(new_replies).to_be_visible(timeout=2_000)
    record_fetches(reader.page)
    for chord in CHORDS:
        reader.page.keyboard.press(chord)
    reader.reply_box.text.press("n")  # typing a reply

    assert fetched(reader.page) == []
    expect(reader.reply_box.text).to_have_value("n")
    expect(reader.post(2)).to_have_count(0)
    expect(new_replies).to_be_visible()

    reader.reply_box.text.blur()
    reader.page.keyboard.press("n")
    expect(reader.post(2)).to_contain_text("Moved to Friday.")
    expect(new_replies).to_be_hidden()
    assert [url.rsplit("/", 1)[1] for url in fetched(reader.page)] == ["?after=1"]

    reader.page.context.close()
    writer.page.context.close()


def test_the_forum_notice_refreshes_the_list_on_a_bare_n_only(
    asgi_server: LiveSala, browser: Browser
) -> None:
    forum = make_forum(name="City news")
    author = make_member(username="ines")
    quiet = make_topic(forum=forum, author=author, title="Council minutes")
    replied = make_topic(forum=forum, author=author, title="Tram vote")
    make_member(username="marta")
    reader = ForumPage(browser.new_context().new_page(), asgi_server.url, forum.get_absolute_url())
    reader.open()
    writer = TopicPage(
        signed_in(browser, asgi_server, "marta"), asgi_server.url, quiet.get_absolute_url()
    )
    writer.open().reply("The minutes leave out the tram vote.")
    writer.page.wait_for_url("**#post-2")

    expect(reader.new_activity).to_have_text("1 topic has new activity", timeout=2_000)
    record_fetches(reader.page)
    for chord in CHORDS:
        reader.page.keyboard.press(chord)

    assert fetched(reader.page) == []
    assert reader.titles() == [replied.title, quiet.title]
    expect(reader.new_activity).to_be_visible()

    reader.page.keyboard.press("n")
    expect(reader.new_activity).to_be_hidden()
    assert reader.titles() == [quiet.title, replied.title]
    assert len(fetched(reader.page)) == 1

    reader.page.context.close()
    writer.page.context.close()
