"""A live forum page on the embedded default (one ASGI process): new topics and replies
are announced while the page is open, and one click brings them into the list in place."""

import pytest
from playwright.sync_api import Browser, expect

from conftest import LiveSala, PageChecker
from sala.accounts.tests.factories import DEFAULT_PASSWORD, make_member
from sala.forums.tests.factories import make_forum, make_topic
from tests.e2e.pages import SignInPage
from tests.e2e.topic_pages import ForumPage, NewTopicPage, TopicPage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_new_activity_is_announced_in_an_open_forum_page_and_shown_in_place(
    asgi_server: LiveSala, browser: Browser, page_checker: PageChecker
) -> None:
    forum = make_forum(name="City news")
    elsewhere = make_forum(name="Elsewhere")
    author = make_member(username="ines", display_name="Ines V")
    topics = [
        make_topic(forum=forum, author=author, title=f"Council minutes, week {week}")
        for week in range(1, 31)
    ]
    quiet_elsewhere = make_topic(forum=elsewhere, author=author, title="Not on this page")
    make_member(username="marta", display_name="Marta Q")
    replied = topics[10]  # on the first page, but far down it

    reader = ForumPage(browser.new_context().new_page(), asgi_server.url, forum.get_absolute_url())
    reader.open()
    expect(reader.rows()).to_have_count(25)
    reader.scroll_to(600)
    reader.page.evaluate("window.__stillTheSamePage = true")

    writer = browser.new_context().new_page()
    SignInPage(writer, asgi_server.url).open().sign_in(login="marta", password=DEFAULT_PASSWORD)
    expect(SignInPage(writer, asgi_server.url).member_menu("Marta Q")).to_be_visible()

    # Activity in another forum is not this page's news.
    TopicPage(writer, asgi_server.url, quiet_elsewhere.get_absolute_url()).open().reply(
        "Somewhere else entirely."
    )
    writer.wait_for_url("**#post-2")

    TopicPage(writer, asgi_server.url, replied.get_absolute_url()).open().reply(
        "The minutes leave out the tram vote."
    )
    writer.wait_for_url("**#post-2")
    expect(reader.new_activity).to_have_text("1 topic has new activity", timeout=2_000)

    new_topic = NewTopicPage(writer, asgi_server.url).open()
    new_topic.fill(forum="City news", title="Tram vote moved to Friday", text="Said the mayor.")
    new_topic.submit()
    expect(TopicPage(writer, asgi_server.url, "").heading).to_have_text("Tram vote moved to Friday")
    expect(reader.new_activity).to_have_text("2 topics have new activity", timeout=2_000)

    assert reader.titles()[0] == "Council minutes, week 30", "nothing moves before the click"
    scrolled = reader.scroll_y()
    assert scrolled == 600
    reader.new_activity.click()

    expect(reader.new_activity).to_be_hidden()
    expect(reader.rows().first).to_contain_text("Tram vote moved to Friday")
    assert reader.titles()[:2] == ["Tram vote moved to Friday", replied.title]
    expect(reader.row("Tram vote moved to Friday").locator(".badge--new")).to_have_text("New")
    expect(reader.row(replied.title).locator(".badge--new")).to_have_text("1 new reply")
    expect(reader.rows()).to_have_count(25)
    assert reader.scroll_y() == scrolled
    assert reader.page.evaluate("window.__stillTheSamePage") is True
    page_checker.check(reader.page)

    # The `n` key does what the click does.
    TopicPage(writer, asgi_server.url, topics[0].get_absolute_url()).open().reply("Week one, too.")
    writer.wait_for_url("**#post-2")
    expect(reader.new_activity).to_have_text("1 topic has new activity", timeout=2_000)
    reader.page.keyboard.press("n")
    expect(reader.rows().first).to_contain_text(topics[0].title)
    expect(reader.new_activity).to_be_hidden()
    assert reader.page.evaluate("window.__stillTheSamePage") is True

    writer.context.close()
    reader.page.context.close()


def test_a_forum_page_without_javascript_is_whole_and_announces_nothing(
    asgi_server: LiveSala, browser: Browser
) -> None:
    forum = make_forum(name="City news")
    topic = make_topic(forum=forum, title="Council minutes")
    context = browser.new_context(java_script_enabled=False)
    reader = ForumPage(context.new_page(), asgi_server.url, forum.get_absolute_url()).open()

    make_topic(forum=forum, title="Tram vote moved to Friday")

    expect(reader.rows()).to_have_count(1)
    assert reader.titles() == [topic.title]
    reader.page.reload()
    assert reader.titles() == ["Tram vote moved to Friday", topic.title]
    expect(reader.new_activity).to_be_hidden()
    context.close()
