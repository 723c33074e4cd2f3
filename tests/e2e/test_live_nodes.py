"""Live topic pages across two nodes sharing the database and Redis, as a multi-node
deployment runs them: each node is one `sala serve`, pages from its WSGI workers and
streams from the live server it starts beside them on the next port."""

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from playwright.sync_api import Browser, expect

from conftest import (
    LiveSala,
    PageChecker,
    SmtpSink,
    free_port,
    server_environment,
    start_server,
    wait_for_http,
)
from sala.accounts.tests.factories import DEFAULT_PASSWORD, make_member
from sala.forums.tests.factories import make_topic
from tests.e2e.pages import SignInPage, post_reply

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: A Redis database of its own, so the test neither sees nor leaves anything elsewhere.
REDIS_URL = "redis://127.0.0.1:6379/12"


@pytest.fixture
def two_nodes(
    django_db_setup: None, smtp_sink: SmtpSink, collected_static: Any
) -> Iterator[tuple[LiveSala, LiveSala]]:
    """Run two nodes on the test database, sharing presence and the bus via Redis."""
    shared = redis.Redis.from_url(REDIS_URL)
    shared.flushdb()
    nodes: list[LiveSala] = []
    try:
        for _ in range(2):
            port, live_port = free_port(), free_port()
            env = {
                **server_environment(smtp_sink.port, collected_static),
                "REDIS_URL": REDIS_URL,
                # No proxy here: pages open their stream on the live server's own port.
                "SALA_LIVE_URL": f"http://127.0.0.1:{live_port}",
            }
            # Open streams never end by themselves, so give them a short grace at shutdown.
            url, process = start_server(
                env, "--live-port", str(live_port), "--grace", "2", port=port
            )
            wait_for_http(f"{env['SALA_LIVE_URL']}/live/", timeout=30, process=process)
            nodes.append(LiveSala(url=url, process=process, env=env))
        yield nodes[0], nodes[1]
    finally:
        for node in nodes:
            node.process.terminate()
        for node in nodes:
            node.process.wait(timeout=30)
            # Shown by pytest when the test fails: the nodes' logs, tracebacks included.
            output = node.process.stdout.read().decode() if node.process.stdout else ""
            print(f"--- {node.url} ---\n{output}")
        shared.flushdb()
        shared.close()


def test_two_nodes_sharing_a_database_and_redis_show_each_others_readers_and_replies(
    two_nodes: tuple[LiveSala, LiveSala], browser: Browser, page_checker: PageChecker
) -> None:
    node_a, node_b = two_nodes
    topic = make_topic(title="Topic on two nodes", text="Opening post.")
    make_member(username="marta", display_name="Marta Q")
    path = topic.get_absolute_url()

    reader = browser.new_context().new_page()
    reader.goto(node_a.url + path)
    browsing = reader.locator("[data-browsing]")
    expect(browsing).to_contain_text("No registered users viewing this page.")
    reader.evaluate("window.__stillTheSamePage = true")

    writer = browser.new_context().new_page()
    writer.goto(node_b.url + "/accounts/login/")
    SignInPage(writer, node_b.url).sign_in(login="marta", password=DEFAULT_PASSWORD)
    writer.goto(node_b.url + path)
    expect(browsing).to_contain_text("Marta Q", timeout=2_000)
    expect(browsing).to_contain_text("1 member")
    page_checker.check(reader)

    post_reply(writer, "A reply from the other node.", lands_on=2)

    new_replies = reader.get_by_role("button", name="1 new reply")
    expect(new_replies).to_be_visible(timeout=2_000)
    new_replies.click()
    expect(reader.locator("#post-2")).to_contain_text("A reply from the other node.")
    assert reader.evaluate("window.__stillTheSamePage") is True

    writer.context.close()
    reader.context.close()
