"""Live topic pages on the embedded default (one ASGI process): who is browsing and new
replies show up in open pages without a reload."""

import pytest
from playwright.sync_api import Browser, expect

from conftest import LiveSala, PageChecker
from sala.accounts.tests.factories import DEFAULT_PASSWORD, make_member
from sala.forums.tests.factories import make_replies, make_topic
from tests.e2e.pages import SignInPage, post_reply

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_browsing_and_new_replies_appear_in_an_open_page_without_reload(
    asgi_server: LiveSala, browser: Browser, page_checker: PageChecker
) -> None:
    topic = make_topic(title="Live topic", text="Opening post.")
    make_member(username="marta", display_name="Marta Q")
    topic_url = asgi_server.url + topic.get_absolute_url()

    reader = browser.new_context().new_page()
    reader.goto(topic_url)
    browsing = reader.locator("[data-browsing]")
    expect(browsing).to_contain_text("No registered users viewing this page.")
    reader.evaluate("window.__stillTheSamePage = true")

    writer = browser.new_context().new_page()
    writer.goto(asgi_server.url + "/accounts/login/")
    SignInPage(writer, asgi_server.url).sign_in(login="marta", password=DEFAULT_PASSWORD)
    writer.goto(topic_url)
    expect(browsing).to_contain_text("Marta Q", timeout=2_000)
    expect(browsing).to_contain_text("1 member")

    post_reply(writer, "A reply while you read.", lands_on=2)

    new_replies = reader.get_by_role("button", name="1 new reply")
    expect(new_replies).to_be_visible(timeout=2_000)
    new_replies.click()
    expect(reader.locator("#post-2")).to_contain_text("A reply while you read.")
    assert reader.evaluate("window.__stillTheSamePage") is True
    page_checker.check(reader)

    writer.context.close()
    expect(browsing).to_contain_text("No registered users viewing this page.", timeout=5_000)
    reader.context.close()


def test_an_earlier_page_counts_only_the_replies_that_come_while_it_is_open(
    asgi_server: LiveSala, browser: Browser
) -> None:
    topic = make_topic(title="A long topic", text="Opening post.")
    author = make_member(username="writer")
    make_replies(topic, 20, author=author)  # 21 posts: two pages
    first_page = asgi_server.url + topic.get_absolute_url()

    early = browser.new_context().new_page()
    early.goto(first_page)  # stored for guests, knowing 21 posts
    make_replies(topic, 3, author=author)  # on page 2: page 1's copy is kept
    reader = browser.new_context().new_page()
    reader.goto(first_page)
    notice = reader.locator(".live-notice")
    expect(notice).to_have_attribute("data-last-number", "21")  # the kept copy

    writer = browser.new_context().new_page()  # post 25, while the reader is here
    writer.goto(asgi_server.url + "/accounts/login/")
    SignInPage(writer, asgi_server.url).sign_in(login="writer", password=DEFAULT_PASSWORD)
    writer.goto(f"{first_page}?page=2")
    post_reply(writer, "The twenty-fifth post.", lands_on=25)

    new_replies = reader.get_by_role("button", name="1 new reply")
    expect(new_replies).to_be_visible(timeout=2_000)
    new_replies.click()
    reader.wait_for_url("**#post-25")
    for page in (early, reader, writer):
        page.context.close()
