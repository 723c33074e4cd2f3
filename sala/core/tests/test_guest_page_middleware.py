"""The guest page cache's middleware: who is answered from memory, which responses are
stored, what drops a page, what a cached read still does, with generations in the shared
file and in Redis."""

import time
import uuid
from collections.abc import Callable

import pytest
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks, Settings

from conftest import eventually
from sala.accounts.tests.factories import make_member
from sala.core import page_cache
from sala.core.buffered_counts import get_counter
from sala.core.page_cache import Generations, GuestPageCacheMiddleware, RedisGenerations
from sala.core.redis_client import fail_fast_client
from sala.core.tests.generation_backends import SyncOutage, use_generations
from sala.core.tests.guest_reads import cache_state, guest, read, warm
from sala.forums import services
from sala.forums.models import Forum, Post, Topic
from sala.forums.tests.factories import make_forum, make_moderator, make_replies, make_topic
from sala.live.online import SITE
from sala.live.presence import get_presence

pytestmark = pytest.mark.django_db

CLOSED_PORT_URL = "redis://127.0.0.1:1"


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
        page_cache.depend_on(request, "some-page")
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


def test_a_page_stored_before_redis_went_away_is_not_served_while_it_is_away(
    outage: SyncOutage, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = RedisGenerations(fail_fast_client(outage.url), prefix=f"test:{uuid.uuid4().hex}:")
    use_generations(monkeypatch, backend)
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


def test_guests_behind_one_proxy_are_each_counted_online_and_browsing_on_cached_reads() -> None:
    topic = make_topic()
    url = topic.get_absolute_url()
    same_browser = {"user-agent": "the library's browser"}  # REMOTE_ADDR: the proxy's
    readers = [
        Client(headers={**same_browser, "x-forwarded-for": f"198.51.100.{n}"}) for n in (1, 2, 3)
    ]
    readers[0].get(url)

    answers = [reader.get(url) for reader in readers[1:] for _ in range(2)]

    assert {cache_state(answer) for answer in answers} == {"hit"}
    presence = get_presence()
    assert presence.browsing(topic.pk).guest_count == 3
    assert presence.browsing(SITE).guest_count == 3
