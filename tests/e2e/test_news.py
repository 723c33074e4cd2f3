"""News in, as members and guests see it: a shared link and a polled feed become topics
that read like the seed page, on a real Sala process fetching from a local web server."""

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from conftest import LiveSala, PageChecker, SmtpSink, asgi_sala, server_environment
from sala.accounts.tests.factories import DEFAULT_PASSWORD, make_member
from sala.forums.tests.factories import make_forum
from sala.news.tests.http_server import LocalServer
from sala.news.tests.newsroom import ARTICLE_PATH, Newsroom, serve_photos
from tests.e2e.pages import SignInPage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TITLE = "Independents cross over to the governing bloc before the river towns vote"


@pytest.fixture
def newsroom() -> Iterator[Newsroom]:
    with LocalServer() as server:
        serve_photos(server)
        yield Newsroom(server=server, forum=make_forum(name="World news"))


@pytest.fixture
def news_server(
    django_db_setup: None, smtp_sink: SmtpSink, collected_static: Any
) -> Iterator[LiveSala]:
    """Run Sala as the embedded default runs it (tasks in-process), fetching from loopback."""
    env = server_environment(smtp_sink.port, collected_static)
    with asgi_sala({**env, "SALA_FETCH_ALLOW_LOOPBACK": "1"}) as server:
        yield server


def test_a_member_shares_a_link_edits_the_draft_and_guests_read_it_like_the_seed(
    news_server: LiveSala, newsroom: Newsroom, browser: Browser, page_checker: PageChecker
) -> None:
    make_member(username="oskar", display_name="Oskar V")
    article = newsroom.serve(ARTICLE_PATH, "article.html", "text/html; charset=utf-8")

    member = browser.new_context().new_page()
    member.goto(news_server.url + "/accounts/login/")
    SignInPage(member, news_server.url).sign_in(login="oskar", password=DEFAULT_PASSWORD)
    member.get_by_text("Create New...").click()
    member.get_by_role("link", name="Share a link").click()
    page_checker.check(member)
    member.get_by_label("Article address").fill(article)
    member.get_by_label("Forum").select_option(label="World news")
    member.get_by_role("button", name="Fetch the article").click()

    # The waiting page reloads itself until the in-process task has read the article.
    title = member.get_by_label("Title")
    expect(title).to_have_value(TITLE)
    expect(member.get_by_label("Source")).to_have_value(article)
    page_checker.check(member)
    text = member.get_by_label("Post", exact=True)
    text.fill("Worth reading before Thursday's vote.\n\n" + text.input_value())
    member.get_by_role("button", name="Post topic").click()
    member.wait_for_url("**/t/**")

    guest = browser.new_context().new_page()
    guest.goto(member.url)
    expect(guest.get_by_role("heading", level=1)).to_have_text(TITLE)
    first = guest.locator("#post-1")
    expect(first).to_contain_text("Worth reading before Thursday's vote.")
    expect(first.locator("figure figcaption")).to_contain_text(
        "Councillors at the opening of the assembly"
    )
    image = first.locator("figure img")
    assert (image.get_attribute("src") or "").startswith("/media/uploads/")
    expect(first.locator("blockquote")).to_have_count(1)
    read_more = guest.get_by_role("link", name="read more")
    expect(read_more).to_have_attribute("href", article)
    expect(guest.get_by_text("You need to be a member in order to leave a comment")).to_be_visible()
    page_checker.check(guest)


def test_an_admin_adds_a_feed_and_its_items_become_topics_guests_read(
    news_server: LiveSala, newsroom: Newsroom, browser: Browser, page_checker: PageChecker
) -> None:
    feed = newsroom.feed("rss2.xml")
    newsroom.forum.slug = "world"
    newsroom.forum.save()

    def sala(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "sala", "feeds", *args],
            env=news_server.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    assert "Added feed" in sala("add", feed, "--forum", "world")
    # The server's scheduler may poll the new feed first; either way it is polled once.
    polled = sala("poll")
    assert "1/1" in polled and "Polled 1 feeds" in polled and "0 failed" in polled

    guest = browser.new_context().new_page()
    guest.goto(f"{news_server.url}/f/{newsroom.forum.pk}-world/")
    guest.get_by_role(
        "link", name="Council approves eastern tram line after twelve-hour session"
    ).click()
    first = guest.locator("#post-1")
    expect(first.locator("figure figcaption")).to_contain_text("A tram at the Marsh Road depot")
    expect(first).to_contain_text("Valdera's council approved the eastern tram line")
    expect(guest.get_by_role("link", name="read more")).to_have_attribute(
        "href", newsroom.local("/city/2025/03/04/eastern-tram-line-approved/?ref=city")
    )
    page_checker.check(guest)
