"""The page store: pages kept to the store's size, the least recently read dropped first."""

import time

import pytest
from pytest_django.fixtures import Settings

from sala.core import page_cache
from sala.core.page_cache import PageStore
from sala.core.tests.guest_reads import cache_state, read
from sala.forums.tests.factories import make_topic

pytestmark = pytest.mark.django_db


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
