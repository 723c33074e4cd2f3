"""The `once_in` throttle: a key let through once in its seconds, in this process."""

import time

from sala.core import page_cache, throttle


def test_a_key_is_let_through_once_in_its_seconds_and_other_keys_meanwhile() -> None:
    assert throttle.once_in(60, ("topic", 1, "a guest"))
    assert not throttle.once_in(60, ("topic", 1, "a guest"))
    assert throttle.once_in(60, ("topic", 2, "a guest"))
    assert throttle.once_in(60, ("topic", 1, "another guest"))


def test_a_key_is_let_through_again_once_its_seconds_have_passed() -> None:
    assert throttle.once_in(0.05, "topic_views")
    time.sleep(0.06)
    assert throttle.once_in(0.05, "topic_views")


def test_past_the_10000_most_recent_keys_the_oldest_is_let_through_again() -> None:
    for key in range(10_001):
        throttle.once_in(60, key)
    assert not throttle.once_in(60, 10_000)
    assert throttle.once_in(60, 0)


def test_resetting_the_page_cache_forgets_every_key() -> None:
    throttle.once_in(60, "topic_views")
    page_cache.reset()
    assert throttle.once_in(60, "topic_views")
