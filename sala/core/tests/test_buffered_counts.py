"""Buffered counts: the same behaviour in-process and through Redis."""

import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
import redis
from pytest_django.fixtures import Settings

from conftest import REDIS_TEST_URL
from sala.core.buffered_counts import (
    BufferedCounter,
    LocalBufferedCounter,
    RedisBufferedCounter,
    get_counter,
)

CLOSED_PORT_URL = "redis://127.0.0.1:1"

MakeCounter = Callable[[str], BufferedCounter]


class Applied:
    """An `apply` callback that remembers every batch it was given."""

    def __init__(self) -> None:
        self.batches: list[dict[int, int]] = []

    def __call__(self, counts: dict[int, int]) -> None:
        self.batches.append(counts)


@pytest.fixture
def redis_prefix(redis_client: redis.Redis) -> Iterator[str]:
    prefix = f"test:{uuid.uuid4().hex}:counts:"
    yield prefix
    for key in redis_client.scan_iter(match=f"{prefix}*"):
        redis_client.delete(key)


@pytest.fixture(params=["in-process", "redis"])
def make_counter(request: pytest.FixtureRequest) -> MakeCounter:
    if request.param == "in-process":
        return LocalBufferedCounter
    client: redis.Redis = request.getfixturevalue("redis_client")
    prefix: str = request.getfixturevalue("redis_prefix")
    return lambda name: RedisBufferedCounter(name, client, prefix=prefix)


@pytest.fixture
def counter(make_counter: MakeCounter) -> BufferedCounter:
    return make_counter("topic_views")


@pytest.fixture(autouse=True)
def fresh_counters() -> Iterator[None]:
    get_counter.cache_clear()
    yield
    get_counter.cache_clear()


def test_added_counts_are_taken_summed_per_object(counter: BufferedCounter) -> None:
    counter.add(1)
    counter.add(1)
    counter.add(2, 5)

    assert counter.take() == {1: 2, 2: 5}


def test_taking_the_counts_resets_them(counter: BufferedCounter) -> None:
    counter.add(1)
    counter.take()

    assert counter.take() == {}


def test_nothing_is_taken_when_nothing_was_added(counter: BufferedCounter) -> None:
    assert counter.take() == {}


def test_counters_with_different_names_are_separate(make_counter: MakeCounter) -> None:
    views, downloads = make_counter("topic_views"), make_counter("downloads")
    views.add(1)
    downloads.add(1, 3)

    assert views.take() == {1: 1}
    assert downloads.take() == {1: 3}


def test_counts_added_from_many_threads_are_all_flushed_once(counter: BufferedCounter) -> None:
    flushed: Counter[int] = Counter()
    adding = True

    def add(thread: int) -> None:
        for i in range(200):
            counter.add(i % 10, thread + 1)

    def flush() -> None:
        while adding:
            flushed.update(counter.take())

    flusher = threading.Thread(target=flush)
    flusher.start()
    adders = [threading.Thread(target=add, args=(thread,)) for thread in range(6)]
    for thread in adders:
        thread.start()
    for thread in adders:
        thread.join()
    adding = False
    flusher.join()
    flushed.update(counter.take())

    # Each of the 10 objects got 20 adds from each thread t, worth t + 1 each.
    assert flushed == dict.fromkeys(range(10), 20 * sum(range(1, 7)))


def test_counts_added_during_a_flush_are_kept_for_the_next(counter: BufferedCounter) -> None:
    counter.add(1)
    applied = Applied()

    def apply_while_a_guest_reads(counts: dict[int, int]) -> None:
        applied(counts)
        counter.add(1)
        counter.add(2)

    assert counter.flush_due(apply_while_a_guest_reads, every=0.01)
    assert applied.batches == [{1: 1}]
    assert counter.take() == {1: 1, 2: 1}


def test_a_flush_is_not_due_again_within_the_interval(counter: BufferedCounter) -> None:
    applied = Applied()
    counter.add(1)
    assert counter.flush_due(applied, every=60)
    counter.add(2)

    assert not counter.flush_due(applied, every=60)
    assert applied.batches == [{1: 1}]
    assert counter.take() == {2: 1}


def test_a_flush_is_due_again_after_the_interval(counter: BufferedCounter) -> None:
    applied = Applied()
    counter.add(1)
    assert counter.flush_due(applied, every=0.05)
    counter.add(2)
    time.sleep(0.1)

    assert counter.flush_due(applied, every=0.05)
    assert applied.batches == [{1: 1}, {2: 1}]


def test_a_due_flush_with_nothing_pending_applies_nothing(counter: BufferedCounter) -> None:
    applied = Applied()

    assert not counter.flush_due(applied, every=60)
    assert applied.batches == []


def test_counts_are_kept_when_applying_them_fails(counter: BufferedCounter) -> None:
    counter.add(1, 3)

    def apply_while_the_database_is_down(counts: dict[int, int]) -> None:
        raise RuntimeError("database is down")

    with pytest.raises(RuntimeError):
        counter.flush_due(apply_while_the_database_is_down, every=0.01)
    counter.add(1)

    assert counter.take() == {1: 4}


def test_flush_happens_at_most_once_per_interval_across_two_counters_sharing_redis(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    # Two processes' counters: the same name and Redis, separate clients.
    other_client = redis.Redis.from_url(REDIS_TEST_URL)
    first = RedisBufferedCounter("topic_views", redis_client, prefix=redis_prefix)
    second = RedisBufferedCounter("topic_views", other_client, prefix=redis_prefix)
    applied = Applied()
    first.add(1)
    second.add(1)

    assert first.flush_due(applied, every=60)
    second.add(3)
    assert not second.flush_due(applied, every=60)
    assert not first.flush_due(applied, every=60)
    assert applied.batches == [{1: 2}]
    assert first.take() == {3: 1}
    other_client.close()


def test_adds_wait_in_the_process_and_reach_redis_together_once_a_push_is_due(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    counter = RedisBufferedCounter("topic_views", redis_client, prefix=redis_prefix, push_every=0.2)
    for _ in range(50):
        counter.add(1)
    counter.add(2, 5)
    assert redis_client.hgetall(counter.key) == {b"1": b"1"}, "only the first add went out"

    time.sleep(0.25)
    counter.add(2)

    assert redis_client.hgetall(counter.key) == {b"1": b"50", b"2": b"6"}


def test_adds_of_two_processes_arrive_in_one_take_after_their_pushes(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    def process() -> RedisBufferedCounter:
        client = redis.Redis.from_url(REDIS_TEST_URL)
        return RedisBufferedCounter("topic_views", client, prefix=redis_prefix, push_every=0.2)

    first, second, flusher = process(), process(), process()
    first.add(1)
    second.add(1)
    first.add(2)
    second.add(2, 3)
    assert flusher.take() == {1: 2}, "the later adds are still in their processes"

    time.sleep(0.25)
    first.add(3)
    second.add(3)

    assert flusher.take() == {2: 4, 3: 2}
    for counter in (first, second, flusher):
        counter.client.close()


def test_a_process_pushes_what_it_gathered_when_another_has_the_turn_to_flush(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    other_client = redis.Redis.from_url(REDIS_TEST_URL)
    first = RedisBufferedCounter("topic_views", redis_client, prefix=redis_prefix)
    second = RedisBufferedCounter("topic_views", other_client, prefix=redis_prefix)
    applied = Applied()
    second.add(1)
    assert second.flush_due(applied, every=60)
    second.add(2)  # gathered: the last push was just now

    assert not second.flush_due(applied, every=60)

    assert first.take() == {2: 1}
    other_client.close()


def test_counters_are_in_process_without_redis_url(settings: Settings) -> None:
    settings.REDIS_URL = ""

    assert isinstance(get_counter("topic_views"), LocalBufferedCounter)
    assert get_counter("topic_views") is get_counter("topic_views")
    assert get_counter("topic_views") is not get_counter("downloads")


def test_counters_go_through_redis_with_a_redis_url(settings: Settings) -> None:
    settings.REDIS_URL = REDIS_TEST_URL

    assert isinstance(get_counter("topic_views"), RedisBufferedCounter)


def test_pages_keep_working_when_redis_is_unreachable(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.REDIS_URL = CLOSED_PORT_URL
    counter = get_counter("topic_views")
    applied = Applied()

    with caplog.at_level(logging.WARNING, logger="sala.core.buffered_counts"):
        counter.add(1)
        counter.add(1)
        taken = counter.take()
        flushed = counter.flush_due(applied, every=0.01)

    assert taken == {}
    assert not flushed
    assert applied.batches == []
    assert len(caplog.records) == 1, "an outage is logged once, not on every page"
