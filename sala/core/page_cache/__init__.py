"""The guest page cache: whole pages rendered for guests, served again from each worker's memory.

Guests are most of a forum's readers and all see the same page, so the first guest read
of a page renders it and the next ones get the stored bytes and headers without touching
the database. A page is kept fresh by generations: counters named after what a page shows.
A view declares the ones its page depends on before reading anything (`depend_on`); the
page is stored with their values; every write bumps the ones it changes after it commits
(the forums' listeners on their domain events, `bump_on_commit` elsewhere), and a stored
page whose generations moved is never served again. A short time to live
(SALA_GUEST_CACHE_SECONDS) bounds what no write announces: view counts, who is online,
a member's new name. docs/subsystems/caching.md has the whole design.

In parts, each importing only those listed before it:

- store.py: the pages a process keeps (CachedPage, PageStore);
- generations.py: the generation store, in Redis (mirrored in each process) or in a file
  every process here maps (Generations, get_generations, bump_on_commit, invalidate_all);
- middleware.py: which requests and responses are a guest's to share, `depend_on`, and
  GuestPageCacheMiddleware, which answers from a stored page while its generations hold;
- front.py: GuestPageCacheFront, which answers those hits under WSGI before Django runs.

This package offers what apps, settings and tests use under one name
(`from sala.core import page_cache; page_cache.depend_on(...)`), and `reset`, which
forgets what every part remembers. `once_in` lives in sala.core.throttle and is offered
here too, where it used to be.
"""

from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver

from sala.core import throttle
from sala.core.page_cache import front, generations, middleware
from sala.core.page_cache.front import GuestPageCacheFront
from sala.core.page_cache.generations import (
    EVERY_PAGE,
    MAX_SECONDS,
    FileGenerations,
    Generations,
    RedisGenerations,
    bump_on_commit,
    get_generations,
    invalidate_all,
)
from sala.core.page_cache.middleware import CACHE_HEADER, GuestPageCacheMiddleware, depend_on
from sala.core.page_cache.store import CachedPage, Key, OnHit, PageStore, Stored, pages
from sala.core.throttle import once_in

__all__ = [
    "CACHE_HEADER",
    "EVERY_PAGE",
    "MAX_SECONDS",
    "CachedPage",
    "FileGenerations",
    "Generations",
    "GuestPageCacheFront",
    "GuestPageCacheMiddleware",
    "Key",
    "OnHit",
    "PageStore",
    "RedisGenerations",
    "Stored",
    "bump_on_commit",
    "depend_on",
    "get_generations",
    "invalidate_all",
    "once_in",
    "reset",
]


def reset() -> None:
    """Forget this process's stored pages, generations backend (closing its subscription),
    `once_in` keys and remembered answers (for tests)."""
    pages.clear()
    throttle.reset()
    middleware.forget()
    front.forget()
    generations.forget()


@receiver(setting_changed)
def _settings_changed(**kwargs: Any) -> None:
    # Only tests change settings while running: a page rendered under the old ones (another
    # live server, another Redis) must not answer under the new.
    reset()
