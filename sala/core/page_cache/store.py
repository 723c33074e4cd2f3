"""The page store: the guest pages a process keeps in its memory, with what each was
checked against.

A CachedPage is a response's bytes and headers with the generations it was rendered
under (names and values, read by `depend_on`), its `on_hit` and when it expires; `pages`
holds this process's, the least recently read dropped past SALA_GUEST_CACHE_MB. The
middleware (middleware.py) stores pages here and answers from them, the front (front.py)
answers from them too. When Redis does not answer, the middleware (at a read) and the
generation store (generations.py, at a bump) empty it, as `invalidate_all` does.
PageStore itself knows nothing of guests: sala.core.shared_pages keeps the members'
shared renders in one of its own.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Protocol

from django.http import HttpRequest, HttpResponse

#: What a stored page calls when it answers a request instead of the view.
OnHit = Callable[[HttpRequest], None]
#: (path, query string, language): what a guest page may differ by.
Key = tuple[str, str, str]


@dataclass(frozen=True)
class CachedPage:
    body: bytes
    headers: dict[str, str]
    generation_names: tuple[str, ...]
    generation_values: tuple[int, ...]
    on_hit: OnHit | None
    expires: float
    size: int
    #: The headers Django sent with the page when the middleware answered with it, over
    #: HTTPS (True) and over HTTP (False), for GuestPageCacheFront to send as they were.
    sent_headers: dict[bool, list[tuple[str, str]]] = field(default_factory=dict)

    def response(self) -> HttpResponse:
        return HttpResponse(self.body, headers=self.headers)


class Stored(Protocol):
    """What a PageStore keeps: something with a size in bytes and a moment it expires."""

    @property
    def expires(self) -> float: ...

    @property
    def size(self) -> int: ...


class PageStore[K: Hashable, P: Stored]:
    """Pages in this process's memory, the least recently read dropped past `max_bytes`."""

    def __init__(self) -> None:
        self._pages: OrderedDict[K, P] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: K, now: float) -> P | None:
        """Return the page stored under `key` unless it expired before `now`."""
        with self._lock:
            page = self._pages.get(key)
            if page is None:
                return None
            if page.expires <= now:
                self._remove(key)
                return None
            self._pages.move_to_end(key)
            return page

    def put(self, key: K, page: P, *, max_bytes: int) -> None:
        if page.size > max_bytes:
            return
        with self._lock:
            if key in self._pages:
                self._remove(key)
            self._pages[key] = page
            self._bytes += page.size
            while self._bytes > max_bytes:
                self._remove(next(iter(self._pages)))

    def discard(self, key: K, page: P) -> None:
        """Drop `page` from `key`, unless another request stored a newer one meanwhile."""
        with self._lock:
            if self._pages.get(key) is page:
                self._remove(key)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._pages)

    @property
    def size(self) -> int:
        return self._bytes

    def _remove(self, key: K) -> None:
        self._bytes -= self._pages.pop(key).size


#: This process's guest pages, answered from by the middleware and the front.
pages: PageStore[Key, CachedPage] = PageStore()
