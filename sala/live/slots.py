"""How many live streams one client may hold: per address and per signed-in session.

A stream claims one slot under each of its keys (its address, and its session if it has
one) before it starts; the claim fails when any key is full, and the stream is answered
429. With REDIS_URL the slots are shared by every node, so a client cannot get around
the cap by landing on another node; without it each process counts its own.

A slot is a lease: the stream renews it while open (every 20 s) and releases it when it
ends. A node that dies without releasing leaves leases that lapse after LEASE seconds,
so the client's allowance comes back by itself.
"""

import functools
import logging
import math
import threading
import time
from collections.abc import Sequence
from typing import Protocol, cast

import redis
from django.conf import settings

from sala.core.redis_client import OutageGuard, fail_fast_client

logger = logging.getLogger(__name__)

#: How long a slot outlives its stream's last renewal, in seconds.
LEASE = 60.0

#: A key to count under and how many slots it allows, e.g. ("address:...", 100).
type Limit = tuple[str, int]


class Slots(Protocol):
    def claim(self, limits: Sequence[Limit], stream_id: str) -> str | None:
        """Take a slot under every key for `stream_id`, or none if one key is full.

        Return the key that was full, or None when every slot was taken.
        """

    def renew(self, keys: Sequence[str], stream_id: str) -> None:
        """Extend the stream's leases under `keys`."""

    def release(self, keys: Sequence[str], stream_id: str) -> None:
        """Give the stream's slots under `keys` back."""


class LocalSlots:
    """Slots counted in this process's memory: right for the single-process default."""

    def __init__(self, *, lease: float = LEASE) -> None:
        self.lease = lease
        self._held: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()

    def claim(self, limits: Sequence[Limit], stream_id: str) -> str | None:
        now = time.monotonic()
        with self._lock:
            for key, limit in limits:
                held = self._held.get(key, {})
                live = sum(1 for expiry in held.values() if expiry > now)
                if live >= limit:
                    return key
            for key, _ in limits:
                held = self._held.setdefault(key, {})
                for stale in [stream for stream, expiry in held.items() if expiry <= now]:
                    del held[stale]
                held[stream_id] = now + self.lease
        return None

    def renew(self, keys: Sequence[str], stream_id: str) -> None:
        with self._lock:
            for key in keys:
                if stream_id in self._held.get(key, {}):
                    self._held[key][stream_id] = time.monotonic() + self.lease

    def release(self, keys: Sequence[str], stream_id: str) -> None:
        with self._lock:
            for key in keys:
                held = self._held.get(key)
                if held is not None:
                    held.pop(stream_id, None)
                    if not held:
                        del self._held[key]  # keep one entry per client with streams open


# One round trip, atomic across every node: drop lapsed leases, refuse if any key is full,
# else lease a slot under every key. KEYS are the slot sets; ARGV is now, the lease's end,
# the stream id, then one limit per key.
_CLAIM = """
local now, expiry, stream = ARGV[1], ARGV[2], ARGV[3]
for i, key in ipairs(KEYS) do
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    if redis.call('ZCARD', key) >= tonumber(ARGV[3 + i]) then
        return i
    end
end
for _, key in ipairs(KEYS) do
    redis.call('ZADD', key, expiry, stream)
    redis.call('EXPIRE', key, math.ceil(expiry - now))
end
return 0
"""


class RedisSlots:
    """Slots shared by every node: one sorted set per key, scored by lease expiry.

    While Redis is unreachable, streams are counted by a LocalSlots of this process
    instead: the cap then holds per node, and no page loses its stream to an outage.
    """

    def __init__(
        self, client: redis.Redis, *, prefix: str = "sala:live-slots:", lease: float = LEASE
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.lease = lease
        self.fallback = LocalSlots(lease=lease)
        self._claim = client.register_script(_CLAIM)
        self._guard = OutageGuard(
            logger,
            down="Live stream caps are counted per node, Redis did not answer",
            up="Live stream caps are shared again, Redis answers.",
        )

    def claim(self, limits: Sequence[Limit], stream_id: str) -> str | None:
        now = time.time()
        keys = [self.prefix + key for key, _ in limits]
        args: list[str | int] = [repr(now), repr(now + self.lease), stream_id]
        args.extend(limit for _, limit in limits)
        full = self._guard.call(lambda: self._claim(keys=keys, args=args))
        if full is None:
            return self.fallback.claim(limits, stream_id)
        index = int(cast(int, full))
        return limits[index - 1][0] if index else None

    def renew(self, keys: Sequence[str], stream_id: str) -> None:
        expiry = time.time() + self.lease
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.zadd(self.prefix + key, {stream_id: expiry})
            pipe.expire(self.prefix + key, math.ceil(self.lease))
        self._guard.call(pipe.execute)
        self.fallback.renew(keys, stream_id)

    def release(self, keys: Sequence[str], stream_id: str) -> None:
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.zrem(self.prefix + key, stream_id)
        self._guard.call(pipe.execute)
        self.fallback.release(keys, stream_id)


@functools.cache
def get_slots() -> Slots:
    """Return this process's stream slots: shared through Redis if REDIS_URL is set."""
    if settings.REDIS_URL:
        return RedisSlots(fail_fast_client(settings.REDIS_URL))
    return LocalSlots()
