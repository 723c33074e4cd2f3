"""The WSGI front: guest hits answered before Django's WSGI handler runs.

sala/wsgi.py wraps Django's handler in GuestPageCacheFront. It answers a request the
middleware (middleware.py) would answer from a stored page (store.py) whose generations
(generations.py) still hold, with the status and headers Django sent the first time the
middleware answered with that page, and hands every other request to Django. What its
checks made of a request without cookies or credentials is remembered by the environ
entries they read (`_signature`), so the next request that reads the same only looks its
page up. Under ASGI (the live server, `sala serve --interface asgi`) there is no front:
the middleware answers every hit.
"""

import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest
from django.db import close_old_connections
from django.http import HttpRequest

from sala.core.page_cache import generations
from sala.core.page_cache.middleware import ANSWERED_WITH, guest_key
from sala.core.page_cache.store import CachedPage, Key, OnHit, pages


class GuestPageCacheFront:
    """Answer guest hits in front of Django's WSGI handler, as the middleware would.

    A hit through Django costs its request cycle (signals, a request object, the response
    object, two middleware) several times what the hit itself does. The front answers
    what the middleware would answer with a stored page, with the same checks, and hands
    everything else to Django: requests the middleware would not take (`guest_key`),
    a host outside ALLOWED_HOSTS (Django answers 400 and logs it), a request
    SecurityMiddleware would redirect to HTTPS (or knows exempt), a page whose
    generations moved (the middleware drops it and renders), and a page whose headers
    the front has not seen yet. It learns them from the first hit Django sends for the
    page, over HTTPS and over HTTP apart (HSTS is for HTTPS only): a hit carries what
    every middleware above the cache added, as they added it.

    Django's request_started and request_finished signals are not sent for a hit
    answered here: they would cost more than the hit. Of what their receivers do, what
    matters after an `on_hit` (which may write buffered counts) is done: a database
    connection past CONN_MAX_AGE or broken is closed. If `on_hit` raises, Django answers
    the request instead, through the middleware (which records the hit again).
    """

    def __init__(self, application: WSGIApplication) -> None:
        self.application = application

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        signature = _signature(environ)
        known = _known.get(signature) if signature is not None else None
        if known is not None:
            try:
                answered = self._answer(known, _HitRequest(environ), start_response)
            except _HitNotRecorded:
                return self._through_django(environ, start_response, known.secure)
            if answered is not None:
                return answered
        # On a copy: a WSGIRequest decodes PATH_INFO in its environ, and Django's own
        # would decode it again (breaking any path that is not ASCII).
        request = WSGIRequest(environ.copy())
        key = guest_key(request)
        if key is None:
            return self.application(environ, start_response)
        secure = request.is_secure()
        if not self._middleware_would_answer(request, secure):
            return self._through_django(environ, start_response, secure)
        known = _Known(key, secure)
        try:
            answered = self._answer(known, request, start_response)
        except _HitNotRecorded:
            answered = None
        if answered is None:
            return self._through_django(environ, start_response, secure)
        if signature is not None:
            if len(_known) >= KNOWN_REQUESTS:
                _known.clear()
            _known[signature] = known
        return answered

    def _answer(
        self, known: "_Known", request: HttpRequest, start_response: StartResponse
    ) -> list[bytes] | None:
        """Answer with the stored page `known` names if it is current and its headers are
        learnt, recording the hit; return None to let Django answer instead. Raise
        _HitNotRecorded if `on_hit` failed: Django answers, and records, instead."""
        page = pages.get(known.key, time.monotonic())
        if page is None:
            return None
        headers = page.sent_headers.get(known.secure)
        if (
            headers is None
            or generations.get_generations().read(page.generation_names) != page.generation_values
        ):
            return None
        if page.on_hit is not None:
            try:
                self._record_hit(page.on_hit, request)
            except Exception as error:
                raise _HitNotRecorded from error
        start_response("200 OK", headers)
        return [page.body]

    def _middleware_would_answer(self, request: HttpRequest, secure: bool) -> bool:
        """Return whether the middleware would get to answer `request`: no HTTPS redirect
        before it, and a host it accepts."""
        if settings.SECURE_SSL_REDIRECT and not secure:
            return False
        return _allowed_host(request, secure)

    def _record_hit(self, on_hit: OnHit, request: HttpRequest) -> None:
        try:
            on_hit(request)
        finally:
            # What request_finished does for the database (close a connection past its
            # age or broken), without the signals themselves, which cost more than a hit.
            close_old_connections()

    def _through_django(
        self, environ: WSGIEnvironment, start_response: StartResponse, secure: bool
    ) -> Iterable[bytes]:
        """Let Django answer; if the middleware answered with a stored page, keep the
        headers Django sent with it."""

        def start_and_learn(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            page: CachedPage | None = environ.get(ANSWERED_WITH)
            if (
                page is not None
                and status.startswith("200 ")
                and not any(name.lower() == "set-cookie" for name, _ in headers)
            ):
                page.sent_headers[secure] = list(headers)
            return start_response(status, headers, exc_info)

        return self.application(environ, start_and_learn)


class _HitNotRecorded(Exception):
    """A hit's `on_hit` failed in front of Django (the page goes through Django)."""


@dataclass(frozen=True)
class _Known:
    """What the checks in front of Django made of a request: its page's key, and whether
    it came over HTTPS (its host allowed, no redirect due)."""

    key: Key
    secure: bool


#: The environ entries every check in front of Django reads for a request without
#: cookies or credentials: the method, the path and query, the language asked for, the
#: scheme, and the host (see _settings_entries for the headers settings add).
_SIGNATURE_ENTRIES = (
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "HTTP_ACCEPT_LANGUAGE",
    "wsgi.url_scheme",
    "HTTP_HOST",
    "SERVER_NAME",
    "SERVER_PORT",
)
#: The longest signature (in characters of its entries) worth remembering: requests
#: with longer headers are checked in full, and cannot make `_known` grow large.
MAX_SIGNATURE = 1000
#: How many requests `_known` remembers (a few per page a site's guests read); past that
#: it starts afresh.
KNOWN_REQUESTS = 10_000
#: Requests already checked in full, by signature, with what the checks made of them: a
#: request with the same signature gets the same answers, so only the page is looked up.
_known: dict[tuple[object, ...], _Known] = {}


def _signature(environ: WSGIEnvironment) -> tuple[object, ...] | None:
    """Return what the checks in front of Django read of `environ`; None for a request
    with cookies or credentials (which the checks read in full every time)."""
    if "HTTP_COOKIE" in environ or "HTTP_AUTHORIZATION" in environ:
        return None
    signature = (*map(environ.get, _SIGNATURE_ENTRIES), *map(environ.get, _settings_entries()))
    if sum(len(entry) for entry in signature if isinstance(entry, str)) > MAX_SIGNATURE:
        return None
    return signature


@functools.cache
def _settings_entries() -> tuple[str, ...]:
    """Return the headers the checks read only under some settings: the proxy's scheme
    header (SECURE_PROXY_SSL_HEADER) and the forwarded host and port (USE_X_FORWARDED_*).
    Left out otherwise, since Django ignores them: any value a client sends in them would
    only make more signatures."""
    entries = []
    if settings.SECURE_PROXY_SSL_HEADER:
        entries.append(settings.SECURE_PROXY_SSL_HEADER[0])
    if settings.USE_X_FORWARDED_HOST:
        entries.append("HTTP_X_FORWARDED_HOST")
    if settings.USE_X_FORWARDED_PORT:
        entries.append("HTTP_X_FORWARDED_PORT")
    return tuple(entries)


class _HitRequest(HttpRequest):
    """The request an `on_hit` gets for a hit answered from a known signature: its
    method, path and META (the environ, read only), no cookies. Building Django's
    WSGIRequest (body stream, content type, decoded paths) costs more than the hit."""

    def __init__(self, environ: WSGIEnvironment) -> None:
        self.META = environ
        self.method = environ["REQUEST_METHOD"]
        self.path = self.path_info = environ.get("PATH_INFO", "")
        self.COOKIES = {}


def _allowed_host(request: HttpRequest, secure: bool) -> bool:
    """Return whether `request.get_host()` accepts the request's host.

    Remembered by what get_host reads, for the few hosts a site is reached by: checking
    against ALLOWED_HOSTS would be a good part of a hit's time in front of Django.
    """
    meta = request.META
    asked = (
        meta.get("HTTP_HOST"),
        meta.get("HTTP_X_FORWARDED_HOST"),
        meta.get("SERVER_NAME"),
        meta.get("SERVER_PORT"),
        meta.get("HTTP_X_FORWARDED_PORT"),
        secure,
    )
    allowed = _hosts.get(asked)
    if allowed is None:
        try:
            request.get_host()
            allowed = True
        except DisallowedHost:
            allowed = False
        if len(_hosts) < 1000:
            _hosts[asked] = allowed
    return allowed


_hosts: dict[tuple[str | bool | None, ...], bool] = {}


def forget() -> None:
    """Forget the requests checked and the hosts allowed, and the settings' entries (for
    tests, and when a setting changes)."""
    _hosts.clear()
    _known.clear()
    _settings_entries.cache_clear()
