"""The WSGI front: guest hits answered before Django runs, with the headers Django sent,
and everything the middleware would not answer handed to Django."""

import io
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from wsgiref.types import StartResponse, WSGIEnvironment

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connections
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from pytest_django.fixtures import Settings

from sala.accounts.tests.factories import make_member
from sala.core import page_cache
from sala.core.buffered_counts import get_counter
from sala.core.page_cache import CACHE_HEADER, GuestPageCacheFront
from sala.forums import reading, selectors, services
from sala.forums.tests.factories import make_topic
from sala.live.online import SITE
from sala.live.presence import get_presence


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

    monkeypatch.setattr(reading, "record_cached_read", record_failing_on_the_fast_path)
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

    assert not any(language in signature for signature in page_cache.front._known)


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

    monkeypatch.setattr(reading, "record_cached_read", record_failing_once_in_front)
    front = Front()
    url = make_topic().get_absolute_url()
    front.get(url), front.get(url)

    answer = front.get(url)

    assert answer.by_django
    assert answer.header(CACHE_HEADER) == "hit"
    assert len(calls) == 3
