"""Each write drops exactly the guest pages it changes, in every process serving them.

Two Sala processes serve the same database; guests have read every page from both, so
each holds its own copy. After each write (made here, through the services and the
admin, as a third process), the pages the write changed are rendered afresh by both,
showing the change, and every other page is still answered from memory.
"""

import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from conftest import REDIS_TEST_URL, SmtpSink, server_environment, start_server
from sala.accounts.tests.factories import make_member
from sala.forums import services
from sala.forums.models import Forum, Post, Topic
from sala.forums.tests.factories import make_forum, make_moderator, make_replies, make_topic

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass(frozen=True)
class Answer:
    status: int
    cache: str | None
    body: str


def fetch(url: str) -> Answer:
    """GET `url` as a guest (no cookie)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return Answer(
                response.status, response.headers["X-Sala-Cache"], response.read().decode()
            )
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers["X-Sala-Cache"], error.read().decode())


@pytest.fixture(params=["file", "redis"])
def two_servers(
    request: pytest.FixtureRequest,
    django_db_setup: None,
    smtp_sink: SmtpSink,
    collected_static: Path,
    settings: Any,
) -> Iterator[list[str]]:
    """Start two Sala processes on the test database, sharing their generations with this
    one: through the file beside the database, or through Redis."""
    # The longest time to live: on a slow machine a copy could expire mid-test and be
    # rendered again, which would read as dropped by a write.
    env = {
        **server_environment(smtp_sink.port, collected_static),
        "SALA_GUEST_CACHE_SECONDS": "3600",
    }
    if request.param == "redis":
        env["REDIS_URL"] = REDIS_TEST_URL
        settings.REDIS_URL = REDIS_TEST_URL
    # Pages only: with REDIS_URL, `sala serve` would start a live server on the next port
    # too, which another test's server may hold.
    servers = [start_server(env, "--live-port", "0") for _ in range(2)]
    yield [url for url, _ in servers]
    for url, process in servers:
        process.terminate()
        process.wait(timeout=30)
        # Shown by pytest when the test fails: the servers' logs, tracebacks included.
        output = process.stdout.read().decode() if process.stdout else ""
        print(f"--- {url} ---\n{output}")


class Guests:
    """Guests reading a set of pages from every server."""

    def __init__(self, servers: list[str], pages: dict[str, str], settle: float) -> None:
        self.servers = servers
        #: Seconds a bump takes to reach the other processes: with Redis its pub/sub
        #: message arrives a moment after the commit (docs/subsystems/caching.md).
        self.settle = settle
        self.pages = pages  # name -> path

    def read_all(self) -> None:
        """Read every page from every server until each answers from memory."""
        for name, path in self.pages.items():
            for server in self.servers:
                fetch(server + path)
                answer = fetch(server + path)
                assert answer.cache == "hit", f"{name} was not cached by {server}"

    def fresh_after(self, write: Callable[[], object]) -> dict[str, str]:
        """Make `write` with every page cached everywhere; return the pages rendered
        afresh, by name, with their HTML (the same on every server)."""
        self.read_all()
        write()
        time.sleep(self.settle)
        fresh: dict[str, str] = {}
        for name, path in self.pages.items():
            answers = [fetch(server + path) for server in self.servers]
            caches = {answer.cache for answer in answers}
            assert len(caches) == 1, f"{name}: the servers disagree: {caches}"
            if caches != {"hit"}:
                fresh[name] = answers[0].body
        return fresh


def test_each_write_drops_exactly_the_pages_it_changes_on_every_server(
    two_servers: list[str], settings: Any
) -> None:
    member = make_member(username="nadia", display_name="Nadia Haddad")
    moderator = make_moderator()
    news, sport = make_forum(name="News"), make_forum(name="Sport")
    tram = make_topic(forum=news, title="Harbour town votes on its tram")
    replier = make_replies(tram, 38)[0].author  # 39 posts: page 1 holds 1-20, page 2 21-39
    ferry = make_topic(forum=news, title="Night ferry returns")
    regatta = make_topic(forum=sport, title="Regatta moved to May")
    ferry_author = ferry.author
    guests = Guests(
        two_servers,
        {
            "index": "/",
            "news": news.get_absolute_url(),
            "sport": sport.get_absolute_url(),
            "tram 1": tram.get_absolute_url(),
            "tram 2": tram.get_absolute_url() + "?page=2",
            "ferry": ferry.get_absolute_url(),
            "regatta": regatta.get_absolute_url(),
            # Profiles show the member's post count.
            "nadia": member.get_absolute_url(),
            "ferry's author": ferry_author.get_absolute_url(),
            "replier": replier.get_absolute_url(),
            "moderator": moderator.get_absolute_url(),
        },
        settle=0.5 if settings.REDIS_URL else 0.0,
    )

    fresh = guests.fresh_after(
        lambda: services.reply(topic=tram, author=member, text="Post forty, on page two.")
    )
    assert fresh.keys() == {"index", "news", "tram 2", "nadia"}
    assert "Post forty, on page two." in fresh["tram 2"]

    # Post 41 starts page 3: every page of the topic links one more page.
    fresh = guests.fresh_after(
        lambda: services.reply(topic=tram, author=member, text="Post forty-one.")
    )
    assert fresh.keys() == {"index", "news", "tram 1", "tram 2", "nadia"}
    assert "?page=3" in fresh["tram 1"]
    guests.pages["tram 3"] = tram.get_absolute_url() + "?page=3"

    thirty = Post.objects.get(topic=tram, number=30)
    fresh = guests.fresh_after(
        lambda: services.edit_post(post=thirty, editor=thirty.author, text="Thirty, mended.")
    )
    assert fresh.keys() == {"tram 2"}
    assert "Thirty, mended." in fresh["tram 2"]

    first = Post.objects.get(topic=tram, number=1)
    fresh = guests.fresh_after(
        lambda: services.edit_post(
            post=first, editor=tram.author, text=first.text, title="Harbour town keeps its tram"
        )
    )
    assert fresh.keys() == {"index", "news", "tram 1", "tram 2", "tram 3"}
    assert "Harbour town keeps its tram" in fresh["news"]

    thirty.refresh_from_db()
    fresh = guests.fresh_after(lambda: services.recommend_post(post=thirty, moderator=moderator))
    assert fresh.keys() == {"tram 1", "tram 2", "tram 3"}
    assert "Thirty, mended." in fresh["tram 1"]  # quoted under Recommended Posts

    thirty.refresh_from_db()
    fresh = guests.fresh_after(
        lambda: services.edit_post(post=thirty, editor=moderator, text="Thirty, recommended.")
    )
    assert fresh.keys() == {"tram 1", "tram 2"}
    assert "Thirty, recommended." in fresh["tram 1"]

    thirty.refresh_from_db()
    fresh = guests.fresh_after(lambda: services.delete_post(post=thirty, actor=moderator))
    assert fresh.keys() == {"index", "news", "tram 1", "tram 2", "replier"}
    assert "Thirty, recommended." not in fresh["tram 1"] + fresh["tram 2"]

    fresh = guests.fresh_after(
        lambda: services.create_topic(
            forum=sport, author=member, title="Rowing club opens its doors", text="Come by."
        )
    )
    assert fresh.keys() == {"index", "sport", "nadia"}
    assert "Rowing club opens its doors" in fresh["sport"]

    ferry_first = Post.objects.get(topic=ferry, number=1)
    fresh = guests.fresh_after(lambda: services.delete_post(post=ferry_first, actor=moderator))
    assert fresh.keys() == {"index", "news", "ferry", "ferry's author"}
    assert "Night ferry returns" not in fresh["news"]
    del guests.pages["ferry"]

    admin = Client()
    root = make_member(username="root")
    root.is_staff = root.is_superuser = True
    root.save()
    admin.force_login(root)

    def lock_regatta() -> None:
        answer = admin.post(
            f"/admin/forums/topic/{regatta.pk}/change/",
            {"title": regatta.title, "source_url": "", "is_locked": "on"},
        )
        assert answer.status_code == 302, answer.content
        assert Topic.objects.get(pk=regatta.pk).is_locked

    fresh = guests.fresh_after(lock_regatta)
    assert fresh.keys() == {"index", "sport", "regatta"}

    def rename_news() -> None:
        answer = admin.post(
            f"/admin/forums/forum/{news.pk}/change/",
            {
                "name": "Harbour news",
                "slug": news.slug,
                "category": news.category_id,
                "description": "",
                "position": 0,
            },
        )
        assert answer.status_code == 302, answer.content
        assert Forum.objects.get(pk=news.pk).name == "Harbour news"

    # A forum's name is in lists, headings and breadcrumbs: every page shows it.
    fresh = guests.fresh_after(rename_news)
    assert fresh.keys() == guests.pages.keys()
    assert "Harbour news" in fresh["index"]
    assert "Harbour news" in fresh["tram 1"]  # its breadcrumbs
