"""The middleware: which guest requests and responses the cache takes, and the answer
from a stored page when its generations still hold.

A view lets its page be stored by calling `depend_on(request, <generations>, on_hit=...)`
before it reads anything: the generations' values (generations.py) are read then, and
the response is stored with them in this process's page store (store.py) if it is the
same for every guest (`_storable`). A later guest request with the same key (path, the
page's own query, language: `guest_key`) is answered from the stored page while its
generations read the same, running only its `on_hit`. After a write, one render of a
stale page at a time per process; the others wait for it.

GuestPageCacheMiddleware sits right below SecurityMiddleware and WhiteNoise (settings.py).
Under WSGI, the front (front.py) answers most hits before Django and learns from this
middleware the headers Django sent with each page (ANSWERED_WITH).
"""

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.contrib.messages.storage.cookie import CookieStorage
from django.http import HttpRequest, HttpResponse
from django.urls.base import get_urlconf
from django.utils import translation

from sala.core.page_cache import generations
from sala.core.page_cache.generations import EVERY_PAGE, MAX_SECONDS
from sala.core.page_cache.store import CachedPage, Key, OnHit, pages

#: The response header that says whether a guest page was served from the cache.
CACHE_HEADER = "X-Sala-Cache"
#: Where the middleware leaves the page it answered with, in the WSGI environ, for the
#: front to learn the headers Django sent with it.
ANSWERED_WITH = "sala.guest_page"
#: The only query strings a cached page may have: a topic's `?page=`, a forum's `?after=`.
_PAGE_QUERY = re.compile(r"page=[0-9]{1,9}|after=[0-9]{1,20}_[0-9]{1,19}")
#: Besides the session's, cookies that may make a page a guest's own: a message for them.
_PERSONAL_COOKIES = (CookieStorage.cookie_name,)
#: Response headers a page may vary by and still be shared by every guest: the language
#: is in the key, and guests send no session cookie.
_SHARED_VARY = frozenset({"accept-language", "cookie"})
#: Where the view's facts about its page wait for the response, on the request.
_KEY_ATTRIBUTE = "_sala_guest_page_key"
_FACTS_ATTRIBUTE = "_sala_guest_page_facts"


def guest_key(request: HttpRequest) -> Key | None:
    """Return the key of the page `request` asks for, if a guest may share it; else None."""
    if request.method not in ("GET", "HEAD") or settings.SALA_GUEST_CACHE_SECONDS <= 0:
        return None
    meta = request.META
    query = meta.get("QUERY_STRING", "")
    if query and not _PAGE_QUERY.fullmatch(query):
        return None
    if "HTTP_AUTHORIZATION" in meta:
        return None
    if "HTTP_COOKIE" in meta:
        cookies = request.COOKIES
        if settings.SESSION_COOKIE_NAME in cookies or any(
            name in cookies for name in _PERSONAL_COOKIES
        ):
            return None
    return (request.path, query, _language(request))


def _language(request: HttpRequest) -> str:
    """Return the language LocaleMiddleware will choose for `request` (cookie, then
    Accept-Language, then the default)."""
    prefixed, _default = is_language_prefix_patterns_used(get_urlconf() or settings.ROOT_URLCONF)
    if prefixed:
        return translation.get_language_from_request(request, check_path=True)
    cookie = None
    if "HTTP_COOKIE" in request.META:
        cookie = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    # Browsers send a few dozen different headers, not thousands: remember the answers.
    asked = (cookie, request.META.get("HTTP_ACCEPT_LANGUAGE", ""))
    language = _languages.get(asked)
    if language is None:
        language = translation.get_language_from_request(request)
        if len(_languages) < 1000:
            _languages[asked] = language
    return language


_languages: dict[tuple[str | None, str], str] = {}


@dataclass(frozen=True)
class _PageFacts:
    names: tuple[str, ...]
    values: tuple[int, ...]
    on_hit: OnHit | None


def depend_on(request: HttpRequest, *names: str, on_hit: OnHit | None = None) -> None:
    """Let the page answering `request` be stored for guests, under the current values
    of `names` (and EVERY_PAGE); call it before the view reads anything the page shows.

    `on_hit(request)` is called when the stored page answers a later request instead of
    the view: what the view and the middleware below the cache record for a guest read.
    Does nothing for members and for requests the cache does not take.
    """
    if getattr(request, _KEY_ATTRIBUTE, None) is None:
        return
    if request.user.is_authenticated:
        return
    names = (EVERY_PAGE, *names)
    values = generations.get_generations().read(names)
    if values is not None:
        setattr(request, _FACTS_ATTRIBUTE, _PageFacts(names, values, on_hit))


def _storable(request: HttpRequest, response: HttpResponse, key: Key) -> bool:
    """Return whether `response` is the same for every guest and safe to send again."""
    if response.status_code != 200 or response.streaming or response.cookies:
        return False
    if request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):
        return False  # the page holds a CSRF token, which belongs to one visitor only
    if response.get("Content-Language", key[2]) != key[2]:
        return False
    if "private" in response.get("Cache-Control", "") or "no-store" in response.get(
        "Cache-Control", ""
    ):
        return False
    vary = {field.strip().lower() for field in response.get("Vary", "").split(",")} - {""}
    if not vary <= _SHARED_VARY:
        return False
    # A nonce must be new on every response; a page whose scripts needed one is rendered
    # every time. Sala's pages load scripts from files only, so their policy has none.
    policies = response.get("Content-Security-Policy", "") + response.get(
        "Content-Security-Policy-Report-Only", ""
    )
    return "'nonce-" not in policies


class GuestPageCacheMiddleware:
    """Answer a guest's read from a stored page when its generations still hold.

    Sits above sessions, CSRF, auth and messages (and the CSP middleware, whose header is
    stored with the page), so a hit runs none of them: a dict lookup, one read of the
    generations, the page's `on_hit`, and bytes out.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = guest_key(request)
        if key is None:
            return self.get_response(request)
        answered, stale = self._answer_stored(request, key)
        if answered is not None:
            return answered
        if stale is None:
            return self._render(request, key)
        # A write made the page stale: one render of it at a time in this process, and
        # guests who ask for it meanwhile (a busy topic, a reply) get that render's copy.
        # The stale copy stays until then, so each of them knows to wait.
        lock = _render_locks[hash(key) % len(_render_locks)]
        if not lock.acquire(timeout=RENDER_WAIT_SECONDS):
            return self._render(request, key)
        try:
            answered, stale = self._answer_stored(request, key)
            if answered is not None:
                return answered
            response = self._render(request, key)
            if stale is not None:
                pages.discard(key, stale)  # the render stored nothing in its place
            return response
        finally:
            lock.release()

    def _answer_stored(
        self, request: HttpRequest, key: Key
    ) -> tuple[HttpResponse | None, CachedPage | None]:
        """Answer from the page stored under `key` if its generations hold; else return
        None, and the page if one is stored but stale (its generations moved)."""
        page = pages.get(key, time.monotonic())
        if page is None:
            return None, None
        current = generations.get_generations().read(page.generation_names)
        if current == page.generation_values:
            request.get_host()  # refuse hosts outside ALLOWED_HOSTS, as a render would
            if page.on_hit is not None:
                page.on_hit(request)
            request.META[ANSWERED_WITH] = page  # for the front, to learn its headers
            return page.response(), None
        if current is None:
            # Redis is out: pages stored before may have missed bumps meanwhile.
            pages.clear()
            return None, None
        return None, page

    def _render(self, request: HttpRequest, key: Key) -> HttpResponse:
        setattr(request, _KEY_ATTRIBUTE, key)
        response = self.get_response(request)
        facts: _PageFacts | None = getattr(request, _FACTS_ATTRIBUTE, None)
        if facts is not None and _storable(request, response, key):
            self._store(key, response, facts)
            response[CACHE_HEADER] = "miss"
        return response

    def _store(self, key: Key, response: HttpResponse, facts: _PageFacts) -> None:
        body = response.content
        headers = dict(response.items())
        headers[CACHE_HEADER] = "hit"
        seconds = min(settings.SALA_GUEST_CACHE_SECONDS, MAX_SECONDS)
        size = len(body) + sum(len(name) + len(value) for name, value in headers.items()) + 500
        page = CachedPage(
            body=body,
            headers=headers,
            generation_names=facts.names,
            generation_values=facts.values,
            on_hit=facts.on_hit,
            expires=time.monotonic() + seconds,
            size=size,
        )
        pages.put(key, page, max_bytes=settings.SALA_GUEST_CACHE_MB * 1024 * 1024)


#: Locks that keep renders of one page to one at a time per process, a page's by its key's
#: hash (two pages sharing one wait for each other now and then).
_render_locks = tuple(threading.Lock() for _ in range(64))
#: How long a guest waits for another thread's render of their page before rendering it.
RENDER_WAIT_SECONDS = 5.0


def forget() -> None:
    """Forget the languages worked out for requests (for tests)."""
    _languages.clear()
