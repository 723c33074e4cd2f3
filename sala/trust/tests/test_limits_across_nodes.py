"""One limit across a deployment: two `sala serve` nodes sharing the database and Redis,
50 replies fired at once by one member at a limit of 5, half at each node."""

import re
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import redis

from conftest import LiveSala, SmtpSink, server_environment, start_server
from sala.accounts.models import User
from sala.accounts.tests.factories import DEFAULT_PASSWORD, make_member
from sala.forums.models import Post
from sala.forums.tests.factories import make_topic

pytestmark = pytest.mark.django_db(transaction=True)

#: A Redis database of its own, so the test neither sees nor leaves anything elsewhere.
REDIS_URL = "redis://127.0.0.1:6379/11"


@pytest.fixture
def two_nodes(
    django_db_setup: None, smtp_sink: SmtpSink, collected_static: Any
) -> Iterator[list[LiveSala]]:
    shared = redis.Redis.from_url(REDIS_URL)
    shared.flushdb()
    env = {
        **server_environment(smtp_sink.port, collected_static),
        "REDIS_URL": REDIS_URL,
        "SALA_RATE_LIMITS_ON": "1",
        "SALA_RATE_LIMITS": "reply=5/60,same_text=off,replies_day=off",
    }
    nodes: list[LiveSala] = []
    try:
        for _ in range(2):
            url, process = start_server(env)
            nodes.append(LiveSala(url=url, process=process, env=env))
        yield nodes
    finally:
        for node in nodes:
            node.process.terminate()
        for node in nodes:
            node.process.wait(timeout=30)
            output = node.process.stdout.read().decode() if node.process.stdout else ""
            print(f"--- {node.url} ---\n{output}")
        shared.flushdb()
        shared.close()


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert found, "the form carries a CSRF token"
    return found[1]


def test_fifty_replies_at_once_on_two_nodes_at_a_limit_of_five_let_exactly_five_through(
    two_nodes: list[LiveSala],
) -> None:
    member = make_member(username="hurried")
    User.objects.filter(pk=member.pk).update(post_count=50)  # not new: the limit is "reply"
    topic = make_topic(title="Everyone at once")
    reply_path = f"{topic.get_absolute_url()}reply/"
    with httpx.Client(base_url=two_nodes[0].url) as browser:
        token = csrf_token(browser.get("/accounts/login/").text)
        signed_in = browser.post(
            "/accounts/login/",
            data={"csrfmiddlewaretoken": token, "login": "hurried", "password": DEFAULT_PASSWORD},
        )
        assert signed_in.status_code == 302, "the member is signed in"
        token = csrf_token(browser.get(reply_path).text)
        cookies = dict(browser.cookies)

    def post_reply(n: int) -> httpx.Response:
        node = two_nodes[n % 2]
        with httpx.Client(base_url=node.url, cookies=cookies, timeout=60) as browser:
            return browser.post(
                reply_path,
                data={
                    "csrfmiddlewaretoken": token,
                    "submission_key": str(uuid.uuid4()),
                    "text": f"Reply number {n}, all at once.",
                    "action": "post",
                },
            )

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(post_reply, range(50)))

    assert Counter(answer.status_code for answer in answers) == {302: 5, 429: 45}
    assert all(int(a.headers["Retry-After"]) >= 1 for a in answers if a.status_code == 429)
    assert Post.objects.filter(topic=topic, author=member).count() == 5
