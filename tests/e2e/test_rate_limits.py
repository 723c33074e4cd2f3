"""Browser stories of the limits, on a server with them on (the other stories' servers
have them off, to post as fast as a script can)."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from conftest import LiveSala, PageChecker, SmtpSink, server_environment, start_server
from sala.accounts.models import User
from sala.accounts.tests.factories import DEFAULT_PASSWORD, make_member
from sala.forums.models import Post
from sala.forums.tests.factories import make_topic
from tests.e2e.pages import SignInPage, post_reply

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def limited_server(
    django_db_setup: None, smtp_sink: SmtpSink, collected_static: Path
) -> Iterator[LiveSala]:
    env = {
        **server_environment(smtp_sink.port, collected_static),
        "SALA_RATE_LIMITS_ON": "1",
        "SALA_RATE_LIMITS": "reply=2/60",
    }
    url, process = start_server(env)
    yield LiveSala(url=url, process=process, env=env)
    process.terminate()
    process.wait(timeout=30)


def test_a_flood_of_replies_is_stopped_with_the_typed_text_kept_at_the_field(
    limited_server: LiveSala, browser: Browser, page_checker: PageChecker
) -> None:
    member = make_member(username="eager", display_name="Eager Reader")
    User.objects.filter(pk=member.pk).update(post_count=40)  # the limit is "reply": 2 a minute
    topic = make_topic(title="Floods on the river road", text="The road is closed.")
    page = browser.new_context().new_page()
    SignInPage(page, limited_server.url).open().sign_in(login="eager", password=DEFAULT_PASSWORD)
    page.goto(limited_server.url + topic.get_absolute_url())

    post_reply(page, "The road was closed at noon.", lands_on=2)
    post_reply(page, "Buses go round by the bridge.", lands_on=3)
    third = "And the ferry runs every hour, I checked."
    post_reply(page, third)

    error = page.locator("#id_text_error")
    expect(error).to_contain_text("You are replying too quickly. Try again in")
    expect(page.get_by_label("Your reply")).to_have_value(third)
    page_checker.check(page)
    assert Post.objects.filter(topic=topic, author=member).count() == 2
