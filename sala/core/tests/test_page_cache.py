"""The guest page cache: who is answered from memory, what drops a page, and what a cached
read still does, with generations in the shared file and in Redis."""

import asyncio
import functools
import io
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from wsgiref.types import StartResponse, WSGIEnvironment

import pytest
import redis
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection, connections, transaction
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks, Settings

from conftest import REDIS_TEST_URL, eventually
from sala.accounts.tests.factories import make_member
from sala.core import page_cache
from sala.core.buffered_counts import get_counter
from sala.core.page_cache import (
    CACHE_HEADER,
    EVERY_PAGE,
    FileGenerations,
    Generations,
    GuestPageCacheFront,
    GuestPageCacheMiddleware,
    PageStore,
    RedisGenerations,
    topic_generation,
)
from sala.core.redis_client import fail_fast_client
from sala.forums import selectors, services, views
from sala.forums.models import Forum, Post, Topic
from sala.forums.tests.factories import make_forum, make_moderator, make_replies, make_topic
from sala.live.online import SITE
from sala.live.presence import get_presence
from sala.live.tests.redis_outage import Outage

if TYPE_CHECKING:  # what the test client returns, as django-stubs names it
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

pytestmark = pytest.mark.django_db

CLOSED_PORT_URL = "redis://127.0.0.1:1"


@pytest.fixture(params=["file", "redis"])
def generations(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Generations]:
    """Run the test with generations in a file of its own, then in Redis."""
    backend: Generations
    if request.param == "file":
        backend = FileGenerations(tmp_path / "page-generations")
    else:
        client: redis.Redis = request.getfixturevalue("redis_client")
        prefix = f"test:{uuid.uuid4().hex}:page-generation:"
        backend = RedisGenerations(client, prefix=prefix)
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setattr(page_cache, "get_generations", functools.cache(lambda: backend))
    yield backend
    if isinstance(backend, RedisGenerations):
        backend.close()
        for key in backend.client.scan_iter(match=f"{backend.prefix}*"):
            backend.client.delete(key)


def guest(name: str = "a guest") -> Client:
    """Return a client of its own, a browser no other guest shares."""
    return Client(headers={"user-agent": f"browser of {name}"})


def read(url: str, **headers: str) -> "TestResponse":
    """Return what a new guest reads at `url`."""
    return Client(headers={"user-agent": "reader", **headers}).get(url)


def cache_state(response: HttpResponseBase) -> str | None:
    return response.headers.get(CACHE_HEADER)


# --- Who is answered from memory ----------------------------------------------------------


def test_a_guests_second_read_is_answered_from_memory_without_a_query(
    generations: Generations,
) -> None:
    topic = make_topic(title="Ferry strike ends")
    url = topic.get_absolute_url()

    first = guest("first").get(url)
    with CaptureQueriesContext(connection) as queries:
        second = guest("second").get(url)

    assert (cache_state(first), cache_state(second)) == ("miss", "hit")
    assert len(queries) == 0
    assert second.content == first.content
    assert b"Ferry strike ends" in second.content


def test_each_page_of_a_topic_and_of_a_forum_is_its_own_entry() -> None:
    topic = make_topic()
    make_replies(topic, 25)
    url = topic.get_absolute_url()
    assert cache_state(read(url)) == "miss"
    assert cache_state(read(url + "?page=2")) == "miss"
    assert b'id="post-21"' in read(url + "?page=2").content
    assert b'id="post-21"' not in read(url).content


def test_members_are_never_answered_from_the_cache_nor_stored_for_guests() -> None:
    topic = make_topic()
    url = topic.get_absolute_url()
    member = Client()
    member.force_login(make_member(username="oskar"))

    assert cache_state(member.get(url)) is None
    assert cache_state(read(url)) == "miss"  # the member's page was not stored
    answer = member.get(url)
    assert cache_state(answer) is None
    assert b'id="reply"' in answer.content


def test_a_guest_with_a_session_cookie_or_a_message_is_rendered_their_own_page(
    settings: Settings,
) -> None:
    url = make_topic().get_absolute_url()
    read(url)
    for cookie in (settings.SESSION_COOKIE_NAME, "messages"):
        client = guest()
        client.cookies[cookie] = "whatever"
        assert cache_state(client.get(url)) is None


def test_a_guest_with_a_csrf_cookie_still_shares_the_cached_page() -> None:
    url = make_topic().get_absolute_url()
    read(url)
    client = guest()
    client.cookies["csrftoken"] = "x" * 32
    assert cache_state(client.get(url)) == "hit"


def test_query_strings_other_than_a_pages_own_are_not_cached() -> None:
    topic = make_topic()
    for query in ("?quote=1", "?utm_source=feed", "?page=1&x=2", "?page=one"):
        url = topic.get_absolute_url() + query
        read(url)
        assert cache_state(read(url)) is None, query


def test_a_head_request_is_answered_like_a_get() -> None:
    url = make_topic().get_absolute_url()
    read(url)
    response = Client().head(url)
    assert response.status_code == 200
    assert cache_state(response) == "hit"


def test_each_language_gets_its_own_copy() -> None:
    url = make_topic().get_absolute_url()
    english = read(url, **{"accept-language": "en"})
    french = read(url, **{"accept-language": "fr-FR,fr;q=0.9"})
    assert cache_state(french) == "miss"
    assert b'<html lang="fr"' in french.content

    again_french = read(url, **{"accept-language": "fr"})
    again_english = read(url, **{"accept-language": "en-US,en;q=0.8"})
    assert (cache_state(again_french), cache_state(again_english)) == ("hit", "hit")
    assert again_french.content == french.content
    assert again_english.content == english.content
    assert again_french["Content-Language"] == "fr"


def test_a_language_cookie_chooses_the_copy_as_it_chooses_the_language(
    settings: Settings,
) -> None:
    url = make_topic().get_absolute_url()
    read(url)
    client = guest()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    response = client.get(url)
    assert cache_state(response) == "miss"
    assert b'<html lang="de"' in response.content


def test_a_page_other_than_200_is_not_stored() -> None:
    topic = make_topic(title="Old title")
    for url in (f"{topic.get_absolute_url()}?page=9", f"/t/{topic.pk}-another-slug/", "/t/999-x/"):
        first = read(url)
        with CaptureQueriesContext(connection) as queries:
            second = read(url)
        assert first.status_code == second.status_code != 200
        assert cache_state(second) is None
        assert len(queries) > 0


def test_a_disallowed_host_is_refused_even_when_the_page_is_cached() -> None:
    url = make_topic().get_absolute_url()
    read(url)
    assert Client(headers={"host": "evil.example"}).get(url).status_code == 400


# --- Responses that must not be stored ----------------------------------------------------


def run_middleware(respond: Callable[[HttpRequest], HttpResponse]) -> list[HttpResponse]:
    """Send two guest requests for one page through the cache in front of `respond`."""

    def view(request: HttpRequest) -> HttpResponse:
        request.user = _AnonymousGuest()  # type: ignore[assignment]
        page_cache.depend_on(request, topic_generation(1))
        return respond(request)

    middleware = GuestPageCacheMiddleware(view)
    factory = RequestFactory()
    return [middleware(factory.get("/t/1-a/")) for _ in range(2)]


class _AnonymousGuest:
    is_authenticated = False


def test_a_response_that_sets_a_cookie_is_not_stored() -> None:
    def respond(request: HttpRequest) -> HttpResponse:
        response = HttpResponse("page")
        response.set_cookie("tracking", "1")
        return response

    assert [cache_state(r) for r in run_middleware(respond)] == [None, None]


def test_a_page_holding_a_csrf_token_is_not_stored() -> None:
    def respond(request: HttpRequest) -> HttpResponse:
        request.META["CSRF_COOKIE_NEEDS_UPDATE"] = True
        return HttpResponse("a form")

    assert [cache_state(r) for r in run_middleware(respond)] == [None, None]


def test_a_page_whose_policy_holds_a_nonce_is_not_stored() -> None:
    def respond(request: HttpRequest) -> HttpResponse:
        return HttpResponse("x", headers={"Content-Security-Policy": "script-src 'nonce-abc'"})

    assert [cache_state(r) for r in run_middleware(respond)] == [None, None]


@pytest.mark.parametrize(
    "headers", [{"Cache-Control": "private"}, {"Vary": "User-Agent"}, {"Content-Language": "fr"}]
)
def test_a_page_that_is_not_the_same_for_every_guest_is_not_stored(
    headers: dict[str, str],
) -> None:
    def respond(request: HttpRequest) -> HttpResponse:
        return HttpResponse("x", headers=headers)

    assert [cache_state(r) for r in run_middleware(respond)] == [None, None]


def test_a_plain_shared_page_is_stored() -> None:
    assert [cache_state(r) for r in run_middleware(lambda request: HttpResponse("x"))] == [
        "miss",
        "hit",
    ]


# --- What a cached page carries -----------------------------------------------------------


def test_a_cached_page_carries_the_security_headers_and_no_nonce_or_csrf_token() -> None:
    topic = make_topic()
    forum = Forum.objects.get(pk=topic.forum_id)
    for url in (topic.get_absolute_url(), forum.get_absolute_url(), "/"):
        read(url)
        hit = read(url)
        assert cache_state(hit) == "hit"
        policy = hit["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "nonce" not in policy
        assert hit["X-Frame-Options"] == "DENY"
        assert hit["X-Content-Type-Options"] == "nosniff"
        assert hit["Referrer-Policy"] == "same-origin"
        assert hit["Cross-Origin-Opener-Policy"] == "same-origin"
        assert hit["Content-Language"] == "en"
        assert hit["Content-Type"] == "text/html; charset=utf-8"
        assert "csrfmiddlewaretoken" not in hit.content.decode()
        assert "nonce" not in hit.content.decode()
        assert not hit.cookies


# --- What drops a page --------------------------------------------------------------------


@pytest.fixture
def committed(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> Callable[[Callable[[], object]], None]:
    """Return a way to make a write as if its transaction committed (bumps run after)."""

    def committed(write: Callable[[], object]) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            write()

    return committed


def warm(*urls: str) -> None:
    """Read each page twice as a guest, so each is cached."""
    for url in urls:
        read(url)
        assert cache_state(read(url)) == "hit", url


def test_a_reply_shows_on_the_next_guest_read_of_its_topic_forum_and_the_index(
    generations: Generations, committed: Callable[[Callable[[], object]], None]
) -> None:
    topic = make_topic()
    forum = Forum.objects.get(pk=topic.forum_id)
    other = make_topic(title="Another topic")
    pages = (topic.get_absolute_url(), forum.get_absolute_url(), "/")
    warm(*pages, other.get_absolute_url())
    author = make_member(username="oskar", display_name="Oskar Lind")

    committed(lambda: services.reply(topic=topic, author=author, text="A fresh reply."))

    shown = read(topic.get_absolute_url())
    assert cache_state(shown) == "miss"
    assert b"A fresh reply." in shown.content
    assert b"Oskar Lind" in read(forum.get_absolute_url()).content
    assert b"by Oskar Lind" in read("/").content
    assert cache_state(read(other.get_absolute_url())) == "hit"


def test_an_edit_shows_on_the_next_guest_read_and_a_new_title_on_the_lists(
    generations: Generations, committed: Callable[[Callable[[], object]], None]
) -> None:
    topic = make_topic(title="Ferry strike", text="Draft words")
    forum = Forum.objects.get(pk=topic.forum_id)
    warm(topic.get_absolute_url(), forum.get_absolute_url(), "/")
    first = Post.objects.get(topic=topic, number=1)

    committed(
        lambda: services.edit_post(
            post=first, editor=topic.author, text="Final words", title="Ferry strike ends"
        )
    )

    topic.refresh_from_db()
    assert b"Final words" in read(topic.get_absolute_url()).content
    assert b"Ferry strike ends" in read(forum.get_absolute_url()).content
    assert b"Ferry strike ends" in read("/").content


def test_a_deleted_reply_shows_as_deleted_on_the_next_guest_read(
    generations: Generations, committed: Callable[[Callable[[], object]], None]
) -> None:
    topic = make_topic()
    (reply,) = make_replies(topic, 1)
    warm(topic.get_absolute_url())

    committed(lambda: services.delete_post(post=reply, actor=reply.author))

    assert b"Post #2 was deleted." in read(topic.get_absolute_url()).content


def test_a_deleted_topic_is_gone_on_the_next_guest_read(
    committed: Callable[[Callable[[], object]], None],
) -> None:
    topic = make_topic()
    warm(topic.get_absolute_url())
    first = Post.objects.get(topic=topic, number=1)

    committed(lambda: services.delete_post(post=first, actor=topic.author))

    assert read(topic.get_absolute_url()).status_code == 404


def test_a_new_topic_shows_on_its_forum_page_and_the_index(
    generations: Generations, committed: Callable[[Callable[[], object]], None]
) -> None:
    forum = make_forum(name="Transport")
    make_topic(forum=forum)
    warm(forum.get_absolute_url(), "/")

    committed(lambda: make_topic(forum=forum, title="Tram runs again"))

    assert b"Tram runs again" in read(forum.get_absolute_url()).content
    assert b"Tram runs again" in read("/").content


def test_recommending_a_reply_shows_on_the_next_guest_read(
    generations: Generations, committed: Callable[[Callable[[], object]], None]
) -> None:
    topic = make_topic()
    (reply,) = make_replies(topic, 1)
    moderator = make_moderator()
    warm(topic.get_absolute_url())

    committed(lambda: services.recommend_post(post=reply, moderator=moderator))
    assert f"Recommended by {moderator.name}".encode() in read(topic.get_absolute_url()).content

    committed(lambda: services.unrecommend_post(post=reply, moderator=moderator))
    assert b"Recommended by" not in read(topic.get_absolute_url()).content


def test_a_rename_in_the_admin_shows_on_every_page(
    admin_client: Client, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    topic = make_topic(title="Harbour news")
    forum = Forum.objects.get(pk=topic.forum_id)
    pages = (topic.get_absolute_url(), forum.get_absolute_url(), "/")
    warm(*pages)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/admin/forums/forum/{forum.pk}/change/",
            {
                "category": forum.category_id,
                "name": "Harbour and ferries",
                "slug": forum.slug,
                "description": "",
                "position": 0,
            },
        )
    assert response.status_code == 302

    for url in pages:
        assert b"Harbour and ferries" in read(url).content, url


def test_locking_a_topic_in_the_admin_shows_on_its_page(
    admin_client: Client, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    topic = make_topic(title="Harbour news")
    warm(topic.get_absolute_url())

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            f"/admin/forums/topic/{topic.pk}/change/",
            {"title": topic.title, "source_url": "", "is_locked": "on"},
        )

    assert Topic.objects.get(pk=topic.pk).is_locked
    assert b"This topic is locked" in read(topic.get_absolute_url()).content


def test_a_write_rolled_back_drops_nothing(
    generations: Generations, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    before = generations.read((topic_generation(5),))
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                page_cache.bump_on_commit(topic_generation(5))
                raise RuntimeError("the write failed")
        except RuntimeError:
            pass
    assert generations.read((topic_generation(5),)) == before


def test_invalidating_everything_drops_every_page(generations: Generations) -> None:
    topic = make_topic()
    warm(topic.get_absolute_url(), "/")
    page_cache.invalidate_all()
    assert cache_state(read(topic.get_absolute_url())) == "miss"
    assert cache_state(read("/")) == "miss"


# --- The safety nets ----------------------------------------------------------------------


def test_a_page_expires_after_its_time_to_live(settings: Settings) -> None:
    settings.SALA_GUEST_CACHE_SECONDS = 1
    url = make_topic().get_absolute_url()
    warm(url)
    time.sleep(1.1)
    assert cache_state(read(url)) == "miss"


def test_no_time_to_live_turns_the_cache_off(settings: Settings) -> None:
    settings.SALA_GUEST_CACHE_SECONDS = 0
    url = make_topic().get_absolute_url()
    read(url)
    assert cache_state(read(url)) is None


def test_pages_are_still_served_while_redis_is_down(settings: Settings) -> None:
    settings.REDIS_URL = CLOSED_PORT_URL
    topic = make_topic(title="Read through an outage")
    for _ in range(3):
        response = read(topic.get_absolute_url())
        assert response.status_code == 200
        assert cache_state(response) is None
        assert b"Read through an outage" in response.content


class SyncOutage:
    """The live tests' Redis outage on demand, cut and restored from synchronous code."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.proxy = Outage(upstream_port=6379)
        self.restore()
        self.url = f"redis://127.0.0.1:{self.proxy.port}/15"

    def cut(self) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.cut(), self.loop).result(timeout=5)

    def restore(self) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.restore(), self.loop).result(timeout=5)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._end(), self.loop).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()

    async def _end(self) -> None:
        await self.proxy.cut()
        forwarding = asyncio.all_tasks() - {asyncio.current_task()}
        for task in forwarding:
            task.cancel()
        await asyncio.gather(*forwarding, return_exceptions=True)


@pytest.fixture
def outage() -> Iterator[SyncOutage]:
    outage = SyncOutage()
    yield outage
    outage.stop()


def test_a_bump_lost_to_an_outage_is_sent_once_redis_answers_again(
    outage: SyncOutage, redis_client: redis.Redis
) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    writer = RedisGenerations(fail_fast_client(outage.url), prefix=prefix)
    name = topic_generation(1)
    writer.read((name,))
    eventually(lambda: writer.mirroring)
    outage.cut()
    eventually(lambda: not writer.mirroring)

    writer.bump([name])  # lost: Redis does not answer
    assert redis_client.get(prefix + name) is None

    outage.restore()
    try:
        eventually(lambda: redis_client.get(prefix + name) == b"1", within=10)
    finally:
        writer.close()
        for key in redis_client.scan_iter(match=f"{prefix}*"):
            redis_client.delete(key)


def test_a_page_stored_before_redis_went_away_is_not_served_while_it_is_away(
    outage: SyncOutage, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = RedisGenerations(fail_fast_client(outage.url), prefix=f"test:{uuid.uuid4().hex}:")
    monkeypatch.setattr(page_cache, "get_generations", functools.cache(lambda: backend))
    url = make_topic().get_absolute_url()
    warm(url)
    eventually(lambda: backend.mirroring)
    assert cache_state(read(url)) == "hit"

    outage.cut()
    eventually(lambda: not backend.mirroring)
    assert cache_state(read(url)) is None
    outage.restore()
    assert cache_state(read(url)) == "miss"  # rendered again, not the old copy
    backend.close()


# --- Generations in Redis, mirrored in each process ---------------------------------------


@pytest.fixture
def processes(redis_client: redis.Redis) -> Iterator[Callable[[], RedisGenerations]]:
    """Return a way to make the generations of another process: one Redis, clients apart."""
    prefix = f"test:{uuid.uuid4().hex}:page-generation:"
    made: list[RedisGenerations] = []

    def process() -> RedisGenerations:
        made.append(RedisGenerations(redis.Redis.from_url(REDIS_TEST_URL), prefix=prefix))
        return made[-1]

    yield process
    for generations in made:
        generations.close()
        generations.client.close()
    for key in redis_client.scan_iter(match=f"{prefix}*"):
        redis_client.delete(key)


def mirroring(generations: RedisGenerations) -> RedisGenerations:
    """Return `generations` once it reads from its mirror (its first read starts it)."""
    generations.read((EVERY_PAGE,))
    eventually(lambda: generations.mirroring)
    return generations


def count_mgets(generations: RedisGenerations, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Return a list that gets an item for each MGET `generations` sends from now on."""
    sent: list[object] = []
    mget = generations.client.mget

    def counted(keys: list[str]) -> object:
        sent.append(keys)
        return mget(keys)

    monkeypatch.setattr(generations.client, "mget", counted)
    return sent


def test_a_mirrored_read_costs_no_round_trip(
    processes: Callable[[], RedisGenerations], monkeypatch: pytest.MonkeyPatch
) -> None:
    generations = mirroring(processes())
    names = (EVERY_PAGE, topic_generation(1))
    sent = count_mgets(generations, monkeypatch)

    first = generations.read(names)
    again = [generations.read(names) for _ in range(100)]

    assert again == [first] * 100
    assert len(sent) == 1


def test_a_bump_in_one_process_reaches_another_processes_reads_at_once(
    processes: Callable[[], RedisGenerations],
) -> None:
    reader, writer = mirroring(processes()), processes()
    names = (EVERY_PAGE, topic_generation(1))
    (every_page, topic) = reader.read(names) or ()
    assert reader.read(names) == (every_page, topic), "now from the mirror"

    writer.bump([topic_generation(1)])

    eventually(lambda: reader.read(names) == (every_page, topic + 1), within=1)


def test_a_read_after_a_bump_in_the_same_process_sees_it_without_waiting(
    processes: Callable[[], RedisGenerations],
) -> None:
    generations = mirroring(processes())
    names = (topic_generation(1),)
    (before,) = generations.read(names) or ()
    generations.read(names)

    generations.bump(names)

    assert generations.read(names) == (before + 1,)


def test_a_bump_heard_while_a_read_was_in_redis_leaves_no_old_value_mirrored(
    processes: Callable[[], RedisGenerations], monkeypatch: pytest.MonkeyPatch
) -> None:
    reader, writer = mirroring(processes()), processes()
    names = (topic_generation(1),)
    mget = reader.client.mget

    def mget_overtaken_by_a_bump(keys: list[str]) -> object:
        values = mget(keys)
        epoch = reader._epoch
        writer.bump(names)
        eventually(lambda: reader._epoch != epoch)  # the reader heard of it
        return values

    monkeypatch.setattr(reader.client, "mget", mget_overtaken_by_a_bump)
    (old,) = reader.read(names) or ()
    monkeypatch.setattr(reader.client, "mget", mget)

    assert reader.read(names) == (old + 1,)


def test_the_mirror_is_not_used_before_the_subscription_is_up(
    processes: Callable[[], RedisGenerations], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(RedisGenerations, "_listen", lambda self: None)
    generations = processes()
    names = (topic_generation(1),)
    (before,) = generations.read(names) or ()

    # Behind the mirror's back: no message tells anyone.
    generations.client.incr(generations.prefix + topic_generation(1))

    assert not generations.mirroring
    assert generations.read(names) == (before + 1,)


def test_the_mirror_starts_afresh_when_the_subscription_is_back(
    outage: SyncOutage, redis_client: redis.Redis
) -> None:
    generations = mirroring(
        RedisGenerations(fail_fast_client(outage.url), prefix=f"test:{uuid.uuid4().hex}:")
    )
    names = (topic_generation(1),)
    (before,) = generations.read(names) or ()
    generations.read(names)

    outage.cut()
    eventually(lambda: not generations.mirroring)
    assert generations.read(names) is None
    # Bumped while this process could not hear of it.
    redis_client.incr(generations.prefix + topic_generation(1))
    outage.restore()

    assert generations.read(names) == (before + 1,)
    eventually(lambda: generations.mirroring)
    assert generations.read(names) == (before + 1,)
    generations.close()
    redis_client.delete(generations.prefix + topic_generation(1))


def test_the_store_drops_the_least_recently_read_pages_past_its_size() -> None:
    store: PageStore[page_cache.Key, page_cache.CachedPage] = PageStore()

    def page(size: int) -> page_cache.CachedPage:
        return page_cache.CachedPage(b"", {}, (), (), None, time.monotonic() + 60, size)

    for name in ("a", "b", "c"):
        store.put((name, "", "en"), page(40), max_bytes=100)
    assert store.get(("a", "", "en"), time.monotonic()) is None
    store.get(("b", "", "en"), time.monotonic())
    store.put(("d", "", "en"), page(40), max_bytes=100)
    kept = [name for name in "abcd" if store.get((name, "", "en"), time.monotonic())]
    assert kept == ["b", "d"]
    assert store.size == 80


def test_a_page_larger_than_the_whole_store_is_not_kept(settings: Settings) -> None:
    settings.SALA_GUEST_CACHE_MB = 0
    url = make_topic().get_absolute_url()
    read(url)
    assert cache_state(read(url)) == "miss"


def test_pages_are_rendered_when_the_file_of_generations_cannot_be_made(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(page_cache, "_table_path", lambda: tmp_path / "missing" / "table")
    url = make_topic().get_absolute_url()
    read(url)
    response = read(url)
    assert response.status_code == 200
    assert cache_state(response) is None


def test_files_of_generations_of_databases_that_are_gone_are_removed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "live.sqlite3").touch()
    kept, orphan = (
        tmp_path / "live.sqlite3-page-generations",
        tmp_path / "gone.sqlite3-page-generations",
    )
    kept.touch()
    orphan.touch()
    monkeypatch.setattr(
        page_cache, "_table_path", lambda: tmp_path / "new.sqlite3-page-generations"
    )
    page_cache.get_generations()
    assert kept.exists()
    assert not orphan.exists()


def test_generations_in_one_file_are_shared_by_every_map_of_it(tmp_path: Path) -> None:
    one = FileGenerations(tmp_path / "generations")
    other = FileGenerations(tmp_path / "generations")
    names = (EVERY_PAGE, topic_generation(1))
    before = other.read(names)
    one.bump([topic_generation(1)])
    after = other.read(names)
    assert after[0] == before[0]
    assert after[1] == before[1] + 1


# --- What a cached read still does --------------------------------------------------------


def test_a_cached_read_still_counts_a_view_and_the_guest_online_and_browsing() -> None:
    topic = make_topic()
    url = topic.get_absolute_url()
    guest("first").get(url)
    assert cache_state(guest("second").get(url)) == "hit"
    assert cache_state(guest("second").get("/")) == "miss"
    assert cache_state(guest("third").get("/")) == "hit"

    presence = get_presence()
    assert presence.browsing(topic.pk).guest_count == 2
    assert presence.browsing(SITE).guest_count == 3
    services.add_views(get_counter("topic_views").take())
    topic.refresh_from_db()
    assert topic.view_count == 2


# --- In front of Django's WSGI handler ----------------------------------------------------


@dataclass
class Answer:
    status: str
    headers: list[tuple[str, str]]
    body: bytes
    by_django: bool

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


class Front:
    """Sala's WSGI application as the server calls it, telling which answers Django made."""

    def __init__(self) -> None:
        self.django = WSGIHandler()
        self.application = GuestPageCacheFront(self._through_django)
        self._django_answered = False

    def get(
        self, path: str, *, method: str = "GET", secure: bool = False, **headers: str
    ) -> Answer:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SCRIPT_NAME": "",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "443" if secure else "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "testserver",
            "HTTP_USER_AGENT": "reader",
            "wsgi.url_scheme": "https" if secure else "http",
            "wsgi.input": io.BytesIO(),
        }
        environ.update(
            {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
        )
        started: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            started.append((status, headers))
            return lambda data: None

        self._django_answered = False
        body = self.application(environ, start_response)
        content = b"".join(body)
        if isinstance(body, HttpResponseBase):
            body.close()  # as the server does: request_finished
        ((status, sent),) = started
        return Answer(status, sent, content, self._django_answered)

    def _through_django(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        self._django_answered = True
        return self.django(environ, start_response)


# The front closes database connections after a hit as a request's end would, which a test
# inside a transaction cannot have.
front_test = pytest.mark.django_db(transaction=True)


@front_test
def test_the_front_answers_a_hit_without_django_with_the_headers_django_sent() -> None:
    front = Front()
    url = make_topic(title="Ferry strike ends").get_absolute_url()

    rendered, through_django, in_front = front.get(url), front.get(url), front.get(url)

    assert (rendered.header(CACHE_HEADER), rendered.by_django) == ("miss", True)
    assert (through_django.header(CACHE_HEADER), through_django.by_django) == ("hit", True)
    assert not in_front.by_django
    assert in_front.status == "200 OK"
    assert in_front.headers == through_django.headers
    assert in_front.body == rendered.body
    assert in_front.header("X-Content-Type-Options") == "nosniff"
    assert in_front.header("Referrer-Policy") == "same-origin"


@front_test
def test_the_front_still_counts_the_view_and_the_guest_online_and_browsing() -> None:
    front = Front()
    topic = make_topic()
    for reader in ("first", "second", "third"):
        answer = front.get(topic.get_absolute_url(), user_agent=reader)
    assert not answer.by_django

    assert get_presence().browsing(topic.pk).guest_count == 3
    assert get_presence().browsing(SITE).guest_count == 3
    services.add_views(get_counter("topic_views").take())
    topic.refresh_from_db()
    assert topic.view_count == 3


@front_test
def test_the_front_leaves_a_disallowed_host_to_django() -> None:
    front = Front()
    url = make_topic().get_absolute_url()
    front.get(url), front.get(url)

    answer = front.get(url, host="evil.example")

    assert answer.status.startswith("400")
    assert answer.by_django


@front_test
def test_the_front_leaves_the_https_redirect_to_django_and_sends_hsts_over_https(
    settings: Settings,
) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    front = Front()
    url = make_topic().get_absolute_url()
    front.get(url, secure=True), front.get(url, secure=True)

    over_https = front.get(url, secure=True)
    over_http = front.get(url)

    assert not over_https.by_django
    assert over_https.header("Strict-Transport-Security") == "max-age=3600"
    assert over_http.status.startswith("301")
    assert over_http.header("Location") == f"https://testserver{url}"


@front_test
def test_the_front_answers_a_head_request_like_a_get() -> None:
    front = Front()
    url = make_topic().get_absolute_url()
    front.get(url), front.get(url)

    answer = front.get(url, method="HEAD")

    assert answer.status == "200 OK"
    assert answer.header(CACHE_HEADER) == "hit"
    assert not answer.by_django


@front_test
def test_the_front_gives_each_language_its_own_copy() -> None:
    front = Front()
    url = make_topic().get_absolute_url()
    for _ in range(2):
        front.get(url, accept_language="fr")
        front.get(url, accept_language="en")

    french = front.get(url, accept_language="fr-FR,fr;q=0.9")

    assert not french.by_django
    assert b'<html lang="fr"' in french.body
    assert french.header("Content-Language") == "fr"


@front_test
def test_the_front_leaves_members_and_other_requests_to_django(settings: Settings) -> None:
    front = Front()
    url = make_topic().get_absolute_url()
    front.get(url), front.get(url)

    member = front.get(url, cookie=f"{settings.SESSION_COOKIE_NAME}=whatever")
    other_query = front.get(url + "?quote=1")

    assert member.by_django
    assert other_query.by_django


@front_test
def test_the_front_trusts_what_it_checked_only_for_a_request_that_reads_the_same(
    settings: Settings,
) -> None:
    front = Front()
    url = make_topic().get_absolute_url()
    front.get(url), front.get(url)
    assert not front.get(url).by_django, "checked in full, then answered in front"
    assert not front.get(url, user_agent="another reader").by_django, "as checked before"

    other_host = front.get(url, host="evil.example")
    member = front.get(url, cookie=f"{settings.SESSION_COOKIE_NAME}=whatever")
    credentials = front.get(url, authorization="Basic cm9zYTpzZWNyZXQ=")
    french = front.get(url, accept_language="fr")
    over_https = front.get(url, secure=True)

    assert other_host.status.startswith("400")
    assert member.by_django and member.header(CACHE_HEADER) is None
    assert credentials.by_django and credentials.header(CACHE_HEADER) is None
    assert french.by_django and french.header("Content-Language") == "fr"
    assert over_https.by_django
    assert not front.get(url).by_django


@front_test
def test_a_new_setting_makes_the_front_check_every_request_in_full(settings: Settings) -> None:
    front = Front()
    url = make_topic().get_absolute_url()
    front.get(url), front.get(url), front.get(url)
    assert not front.get(url).by_django

    settings.ALLOWED_HOSTS = ["forum.example"]
    for _ in range(3):
        assert front.get(url, host="forum.example").status == "200 OK"

    assert front.get(url).status.startswith("400")


@front_test
def test_a_hit_that_fails_to_be_recorded_in_front_is_recorded_once_by_django(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[HttpRequest] = []

    def record_failing_on_the_fast_path(
        request: HttpRequest, *, topic_id: int | None = None
    ) -> None:
        calls.append(request)
        if len(calls) == 3:  # the first hit answered from what the front checked before
            raise ConnectionError("the database went away")

    monkeypatch.setattr(views, "_record_cached_read", record_failing_on_the_fast_path)
    front = Front()
    url = make_topic().get_absolute_url()
    front.get(url), front.get(url), front.get(url)

    answer = front.get(url)

    assert answer.by_django
    assert answer.header(CACHE_HEADER) == "hit"
    assert len(calls) == 4, "the failed attempt, then Django's"


@front_test
def test_requests_with_long_headers_are_checked_in_full_every_time() -> None:
    front = Front()
    url = make_topic().get_absolute_url()
    language = "en;q=0.9, " + ", ".join(f"x-{n:04};q=0.1" for n in range(200))
    for _ in range(4):
        assert front.get(url, accept_language=language).status == "200 OK"

    assert not any(language in signature for signature in page_cache._known)


@front_test
def test_a_write_sends_the_next_read_through_django_to_be_rendered() -> None:
    front = Front()
    topic = make_topic()
    url = topic.get_absolute_url()
    front.get(url), front.get(url)
    author = make_member(username="oskar")

    services.reply(topic=topic, author=author, text="A fresh reply.")

    answer = front.get(url)
    assert answer.by_django
    assert answer.header(CACHE_HEADER) == "miss"
    assert b"A fresh reply." in answer.body


@front_test
def test_guests_reading_a_page_a_write_just_dropped_wait_for_one_render(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    front = Front()
    topic = make_topic()
    url = topic.get_absolute_url()
    front.get(url), front.get(url)
    services.reply(topic=topic, author=make_member(username="oskar"), text="News at last.")
    renders: list[int] = []
    get_topic_page = selectors.get_topic_page

    def slow_render(*args: Any, **kwargs: Any) -> Any:
        renders.append(1)
        time.sleep(0.3)  # long enough for every reader to arrive meanwhile
        return get_topic_page(*args, **kwargs)

    monkeypatch.setattr(selectors, "get_topic_page", slow_render)
    answers: list[Answer] = []

    def read_in_a_thread() -> None:
        try:
            answers.append(front.get(url))
        finally:
            connections.close_all()  # this thread's own, which would outlive the test

    readers = [threading.Thread(target=read_in_a_thread) for _ in range(4)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()

    assert len(renders) == 1
    assert [answer.status for answer in answers] == ["200 OK"] * 4
    assert all(b"News at last." in answer.body for answer in answers)


@front_test
def test_a_path_that_is_not_ascii_reaches_django_as_the_server_sent_it() -> None:
    front = Front()
    topic = make_topic()
    # As a WSGI server passes /t/<id>-žal/: UTF-8 bytes, each as one character. Decoded
    # twice, "ž" would not even fit in one.
    path = f"/t/{topic.pk}-žal/".encode().decode("iso-8859-1")

    answer = front.get(path)

    assert answer.by_django
    assert answer.status.startswith("301")
    assert answer.header("Location") == topic.get_absolute_url()


@front_test
def test_when_recording_a_hit_fails_in_front_django_answers_through_the_middleware(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[HttpRequest] = []

    def record_failing_once_in_front(request: HttpRequest, *, topic_id: int | None = None) -> None:
        calls.append(request)
        if len(calls) == 2:
            raise ConnectionError("the database went away")

    monkeypatch.setattr(views, "_record_cached_read", record_failing_once_in_front)
    front = Front()
    url = make_topic().get_absolute_url()
    front.get(url), front.get(url)

    answer = front.get(url)

    assert answer.by_django
    assert answer.header(CACHE_HEADER) == "hit"
    assert len(calls) == 3
