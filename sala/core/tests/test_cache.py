"""The shared cache keeps pages working when Redis is down."""

import uuid

import pytest

from sala.core.cache import FailSoftRedisCache

pytestmark = pytest.mark.django_db


def make_cache(url: str) -> FailSoftRedisCache:
    return FailSoftRedisCache(
        url,
        {
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        },
    )


def test_with_redis_up_the_cache_stores_and_returns_values() -> None:
    cache = make_cache("redis://127.0.0.1:6379/11")
    cache.set("greeting", "hello", 30)
    assert cache.get("greeting") == "hello"
    assert cache.add("greeting", "other", 30) is False
    assert cache.add("greeting_count", 1, 30) is True
    assert cache.incr("greeting_count", 2) == 3
    cache.delete("greeting")
    cache.delete("greeting_count")
    assert cache.get("greeting", "gone") == "gone"


def test_with_redis_down_the_cache_answers_as_if_empty_instead_of_raising() -> None:
    cache = make_cache("redis://127.0.0.1:1/0")
    cache.set("greeting", "hello", 30)
    assert cache.get("greeting", "default") == "default"
    assert cache.get_many(["a", "b"]) == {}
    assert cache.add("lock", True, 30) is True  # lock loops must not spin forever
    assert cache.has_key("greeting") is False
    assert cache.incr("counter", 1) == 1
