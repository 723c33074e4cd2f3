"""Counts buffered outside the database and written in batches, such as topic views.

A guest's read must write nothing to the database, so a view adds to a counter here and
every few seconds one process takes all pending counts and applies them in one write.
With REDIS_URL the buffer and the "who flushes" lock are shared by every process; without
it each process buffers its own, which is right for the single-process default.

Counts are approximate by design: with Redis, each process gathers its additions for
about a second before pushing them, so a killed process loses its last second of them;
when Redis is unreachable, additions are dropped (and logged once per outage) rather
than slowing or breaking the page that made them.
"""

import functools
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol, cast

import redis
from django.conf import settings
from redis.client import Pipeline

from sala.core.redis_client import OutageGuard, fail_fast_client

logger = logging.getLogger(__name__)

Apply = Callable[[dict[int, int]], None]


class BufferedCounter(Protocol):
    def add(self, object_id: int, amount: int = 1) -> None:
        """Add `amount` to the pending count of `object_id`; never raise for the backend."""

    def take(self) -> dict[int, int]:
        """Return all pending counts and reset them, atomically: an add is in one take."""

    def flush_due(self, apply: Apply, *, every: float = 10.0) -> bool:
        """Take the pending counts and `apply` them if `every` seconds passed since a flush.

        Return whether `apply` was called; it is not called when nothing is pending. If
        `apply` raises, the counts are put back for the next flush and the error raised.
        """


class LocalBufferedCounter:
    """Counts pending in this process's memory, behind a lock."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._pending: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._last_flush = -float("inf")

    def add(self, object_id: int, amount: int = 1) -> None:
        with self._lock:
            self._pending[object_id] += amount

    def take(self) -> dict[int, int]:
        with self._lock:
            pending, self._pending = self._pending, Counter()
        return dict(pending)

    def flush_due(self, apply: Apply, *, every: float = 10.0) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._last_flush < every:
                return False
            self._last_flush = now
        counts = self.take()
        if not counts:
            return False
        try:
            apply(counts)
        except BaseException:
            with self._lock:
                self._pending.update(counts)
            raise
        return True


class RedisBufferedCounter:
    """Counts pending in a Redis hash shared by every process, gathered in each first.

    `<prefix><name>` maps object ids to pending counts (HINCRBY); `<prefix><name>:flush`
    is a lock that expires after `every` seconds, so one process in the interval flushes.

    An add is counted in this process's memory and pushed to the hash with what else
    gathered, in one pipeline, when the last push is `push_every` seconds old: a round
    trip per add would cost a cached page most of its time. `take` and `flush_due` push
    first, so a take holds every add this process made before it; another process's adds
    reach a take after its next push (its next add or flush past `push_every`, or take),
    so a process that gets no more requests keeps its last second's until it does.
    """

    def __init__(
        self,
        name: str,
        client: redis.Redis,
        *,
        prefix: str = "sala:counts:",
        push_every: float = 1.0,
    ) -> None:
        self.name = name
        self.client = client
        self.key = f"{prefix}{name}"
        self.lock_key = f"{prefix}{name}:flush"
        self.push_every = push_every
        self._gathered: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._last_push = -float("inf")
        self._guard = OutageGuard(
            logger,
            down=f"Dropping {name} counts, Redis did not answer",
            up=f"Counting {name} again, Redis answers.",
        )

    def add(self, object_id: int, amount: int = 1) -> None:
        now = time.monotonic()
        with self._lock:
            self._gathered[object_id] += amount
            if now - self._last_push < self.push_every:
                return
            self._last_push = now
            gathered, self._gathered = self._gathered, Counter()
        self._push(gathered)

    def take(self) -> dict[int, int]:
        gathered = self._take_gathered()
        # RENAME moves the whole hash aside in one step, so an HINCRBY arriving meanwhile
        # starts a fresh hash for the next take instead of being deleted with this one.
        # In one MULTI with this process's gathered counts, the read and the delete, no
        # crash can strand the renamed copy.
        taking = f"{self.key}:taking:{uuid.uuid4().hex}"

        def take_in_one_transaction() -> list[Any]:
            pipe = self._pipeline_adding(gathered, transaction=True)
            pipe.rename(self.key, taking)
            pipe.hgetall(taking)
            pipe.delete(taking)
            # RENAME fails when nothing is pending; that error is the empty answer.
            return pipe.execute(raise_on_error=False)[len(gathered) :]

        results = self._guard.call(take_in_one_transaction)
        if results is None:
            return {}
        renamed, pending = results[0], cast(dict[bytes, bytes], results[1])
        if isinstance(renamed, redis.ResponseError):
            if "no such key" not in str(renamed).lower():
                logger.warning("Could not take %s counts: %s", self.name, renamed)
            return {}
        return {int(object_id): int(count) for object_id, count in pending.items()}

    def flush_due(self, apply: Apply, *, every: float = 10.0) -> bool:
        # Pushed whoever's turn it is, so the process that flushes finds them.
        gathered = self._take_gathered()

        def push_and_claim_the_turn() -> bool | None:
            pipe = self._pipeline_adding(gathered)
            pipe.set(self.lock_key, "1", nx=True, px=max(1, int(every * 1000)))
            return cast(bool | None, pipe.execute()[-1])

        if not self._guard.call(push_and_claim_the_turn):
            return False
        counts = self.take()
        if not counts:
            return False
        try:
            apply(counts)
        except BaseException:
            self._push(counts)  # back for the next flush
            raise
        return True

    def _push(self, counts: dict[int, int]) -> None:
        self._guard.call(lambda: self._pipeline_adding(counts).execute())

    def _take_gathered(self) -> dict[int, int]:
        """Return what this process gathered and not pushed yet, and forget it."""
        with self._lock:
            self._last_push = time.monotonic()
            gathered, self._gathered = self._gathered, Counter()
        return dict(gathered)

    def _pipeline_adding(self, counts: dict[int, int], *, transaction: bool = False) -> Pipeline:
        """Return a pipeline that adds `counts` to the hash, for more commands after."""
        pipe = self.client.pipeline(transaction=transaction)
        for object_id, count in counts.items():
            pipe.hincrby(self.key, str(object_id), count)
        return pipe


@functools.cache
def get_counter(name: str) -> BufferedCounter:
    """Return this process's counter called `name`: shared through Redis if REDIS_URL is set.

    Each name is one counter per process (the in-process buffer must be shared by every
    request), so reset with `get_counter.cache_clear()` after changing settings.
    """
    if settings.REDIS_URL:
        return RedisBufferedCounter(name, fail_fast_client(settings.REDIS_URL))
    return LocalBufferedCounter(name)
