"""A Redis outage under one ASGI node: pages and posting carry on without Redis, open pages
say that live updates are paused, and once Redis is back the same open page hears new
replies again without a reload."""

import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from playwright.sync_api import Browser, Page, expect

from conftest import SmtpSink, free_port, server_environment, start_server
from sala.accounts.tests.factories import DEFAULT_PASSWORD, make_member
from sala.forums.models import Post
from sala.forums.tests.factories import make_topic
from tests.e2e.pages import SignInPage, post_reply

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAUSED = "Live updates are paused"


class RedisServer:
    """A throwaway redis-server of the test's own, on a fixed port it can restart on."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {self.process.returncode}")
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"redis-server on {self.port} did not answer PING")
                time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


def sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(base_url + "/accounts/login/")
    SignInPage(page, base_url).sign_in(login=username, password=DEFAULT_PASSWORD)


def test_pages_and_posting_survive_a_redis_restart_and_live_updates_resume(
    django_db_setup: None,
    smtp_sink: SmtpSink,
    collected_static: Any,
    redis_server: RedisServer,
    browser: Browser,
) -> None:
    env = {**server_environment(smtp_sink.port, collected_static), "REDIS_URL": redis_server.url}
    # Open streams never end by themselves, so give them a short grace at shutdown.
    url, server = start_server(env, "--interface", "asgi", "--grace", "2")
    contexts: list[Any] = []

    def new_page() -> Page:
        context = browser.new_context()
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    try:
        topic = make_topic(title="Topic through an outage", text="Opening post.")
        make_member(username="marta", display_name="Marta Q")
        topic_url = url + topic.get_absolute_url()

        reader = new_page()
        reader.goto(topic_url)
        browsing = reader.locator("[data-browsing]")
        expect(browsing).to_contain_text("Recently Browsing")
        expect(browsing).to_contain_text("1 guest is reading.")
        status = reader.locator(".live-notice__status")
        expect(status).to_have_text("")
        reader.evaluate("window.__stillTheSamePage = true")

        redis_server.stop()
        expect(
            status, "the open page should say within 5 s that updates are paused"
        ).to_contain_text(PAUSED, timeout=5_000)

        # Without Redis, a fresh visit still gets the whole page.
        visitor = new_page()
        response = visitor.goto(topic_url)
        assert response is not None and response.status == 200, response and response.status
        expect(visitor.get_by_role("heading", level=1)).to_have_text("Topic through an outage")
        expect(visitor.locator("#post-1")).to_contain_text("Opening post.")
        expect(visitor.locator("[data-browsing]")).to_contain_text("Recently Browsing")

        # Sessions are in the database; the cache (rate limits) fails soft.
        writer = new_page()
        sign_in(writer, url, "marta")
        expect(writer.get_by_role("navigation", name="Site")).to_contain_text("Marta Q")
        writer.goto(topic_url)
        post_reply(writer, "A reply while Redis is down.")
        writer.wait_for_url("**#post-2")
        expect(writer.locator("#post-2")).to_contain_text("A reply while Redis is down.")
        assert Post.objects.filter(topic=topic, text="A reply while Redis is down.").exists()

        redis_server.start()
        expect(status, "the open page should say updates resumed").to_have_text("", timeout=60_000)

        writer.goto(topic_url)
        post_reply(writer, "A reply after Redis is back.")
        writer.wait_for_url("**#post-3")

        # The reply event carries the newest number, so the reply whose event was lost in
        # the outage is counted too: the reader saw post 1, posts 2 and 3 are new.
        new_replies = reader.get_by_role("button", name="2 new replies")
        expect(new_replies).to_be_visible(timeout=5_000)
        new_replies.click()
        expect(reader.locator("#post-2")).to_contain_text("A reply while Redis is down.")
        expect(reader.locator("#post-3")).to_contain_text("A reply after Redis is back.")
        assert reader.evaluate("window.__stillTheSamePage") is True
    finally:
        for context in contexts:
            context.close()
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
