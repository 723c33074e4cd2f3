"""Reading pages as guests do, for the guest page cache's tests: each guest a browser of its
own, and whether the cache answered."""

from typing import TYPE_CHECKING

from django.http.response import HttpResponseBase
from django.test import Client

from sala.core.page_cache import CACHE_HEADER

if TYPE_CHECKING:  # what the test client returns, as django-stubs names it
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse


def guest(name: str = "a guest") -> Client:
    """Return a client of its own, a browser no other guest shares."""
    return Client(headers={"user-agent": f"browser of {name}"})


def read(url: str, **headers: str) -> "TestResponse":
    """Return what a new guest reads at `url`."""
    return Client(headers={"user-agent": "reader", **headers}).get(url)


def cache_state(response: HttpResponseBase) -> str | None:
    return response.headers.get(CACHE_HEADER)


def warm(*urls: str) -> None:
    """Read each page twice as a guest, so each is cached."""
    for url in urls:
        read(url)
        assert cache_state(read(url)) == "hit", url
