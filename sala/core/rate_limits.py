"""One limiter for the whole site: at most so many actions in so many seconds, per key.

Each limit is a name in SALA_RATE_LIMITS ("reply": "1/5" lets one reply through in any
5 seconds) counted per key (a member's id, an address). With REDIS_URL every process and
node counts in one sliding window per key: a Lua script drops the window's old entries,
counts the rest and adds this one in a single step on the Redis server, timed by the
server's clock, so 50 requests at once on many processes let exactly the limit through.

Without Redis, or while Redis does not answer, each process counts in its own memory:
the limits still hold per process, no page fails, and the outage is logged once. That
trades exactness for availability: with 4 workers, a member may get up to 4 times the
limit through while Redis is down.
"""

import functools
import logging
import math
import re
import threading
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Protocol

import redis
from django.conf import settings
from django.http import HttpResponse
from django.utils.translation import ngettext

from sala.core.client_address import address_network
from sala.core.redis_client import OutageGuard, fail_fast_client

logger = logging.getLogger(__name__)

_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd]?)\s*$")


@dataclass(frozen=True)
class Rate:
    """`count` actions in any `seconds`."""

    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> "Rate":
        """Return the rate written "N/S": N actions per S seconds ("3/d", "1/15", "5/10m").

        Raise ValueError, naming the form expected, for anything else.
        """
        match = _RATE.match(text)
        if not match:
            raise ValueError(f"{text!r} is not a rate: write N/S, such as 1/15, 10/5m or 3/d.")
        count, number, unit = match.groups()
        seconds = int(number or 1) * _UNITS[unit]
        if seconds <= 0:
            raise ValueError(f"{text!r} has no time: write N/S with S above 0.")
        return cls(int(count), seconds)

    def __str__(self) -> str:
        return f"{self.count}/{self.seconds}"


@dataclass(frozen=True)
class Decision:
    """What the limiter answered: `allowed`, or `retry_after` seconds to wait.

    `token` names the entry an allowed action took, so the caller can give it back
    (undo) when the action turned out not to count, such as a sign-in that succeeded.
    """

    allowed: bool
    retry_after: int = 0
    token: str = ""


ALLOWED = Decision(True)


class RateLimited(Exception):
    """Refused for going too fast: `message` for people, `retry_after` for scripts."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def wait_message(seconds: int) -> str:
    """Return "Try again in …" for a wait of `seconds`, in the largest unit that fits."""
    if seconds < 90:
        count = max(1, seconds)
        return ngettext("Try again in %(n)d second.", "Try again in %(n)d seconds.", count) % {
            "n": count
        }
    if seconds < 90 * 60:
        count = math.ceil(seconds / 60)
        return ngettext("Try again in %(n)d minute.", "Try again in %(n)d minutes.", count) % {
            "n": count
        }
    count = math.ceil(seconds / 3600)
    return ngettext("Try again in %(n)d hour.", "Try again in %(n)d hours.", count) % {"n": count}


def address_key(address: str) -> str:
    """Return the key an address is limited under: itself, or its /64 for IPv6
    (sala.core.client_address.address_network)."""
    return address_network(address)


class Windows(Protocol):
    def hit(self, key: str, rate: Rate) -> Decision: ...

    def undo(self, key: str, token: str) -> None: ...

    def forget(self, key: str) -> None: ...


class LocalWindows:
    """Sliding windows in this process's memory, the 100,000 most recent keys kept."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._windows: OrderedDict[str, deque[tuple[float, str]]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str, rate: Rate) -> Decision:
        now = time.monotonic()
        with self._lock:
            window = self._windows.setdefault(key, deque())
            self._windows.move_to_end(key)
            while window and window[0][0] <= now - rate.seconds:
                window.popleft()
            if len(window) >= rate.count:
                oldest = window[0][0] if window else now
                return Decision(False, max(1, math.ceil(oldest + rate.seconds - now)))
            token = uuid.uuid4().hex
            window.append((now, token))
            if len(self._windows) > self.size:
                self._windows.popitem(last=False)
            return Decision(True, token=token)

    def undo(self, key: str, token: str) -> None:
        with self._lock:
            window = self._windows.get(key)
            if window:
                kept = [entry for entry in window if entry[1] != token]
                window.clear()
                window.extend(kept)

    def forget(self, key: str) -> None:
        with self._lock:
            self._windows.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()


# KEYS[1]: the window. ARGV: the count allowed, the window in milliseconds, this entry's
# token. Answers {1, 0} when let through, or {0, milliseconds until the oldest entry
# leaves the window}. TIME is the server's clock, the same for every node.
_HIT_SCRIPT = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window - now}
"""


class RedisWindows:
    """Sliding windows in Redis, shared by every process and node; this process's own
    windows stand in while Redis does not answer."""

    def __init__(self, client: redis.Redis, *, prefix: str = "sala:rate:") -> None:
        self.client = client
        self.prefix = prefix
        self.fallback = LocalWindows()
        self._script = client.register_script(_HIT_SCRIPT)
        self._guard = OutageGuard(
            logger,
            down="Rate limits are counted per process: Redis does not answer",
            up="Rate limits are shared through Redis again",
        )

    def hit(self, key: str, rate: Rate) -> Decision:
        token = uuid.uuid4().hex
        answer = self._guard.call(
            lambda: self._script(
                keys=[self.prefix + key], args=[rate.count, rate.seconds * 1000, token]
            )
        )
        if answer is None:
            return self.fallback.hit(key, rate)
        allowed, wait_ms = (int(part) for part in answer)
        if allowed:
            return Decision(True, token=token)
        return Decision(False, max(1, math.ceil(wait_ms / 1000)))

    def undo(self, key: str, token: str) -> None:
        if self._guard.call(lambda: self.client.zrem(self.prefix + key, token)) is None:
            self.fallback.undo(key, token)

    def forget(self, key: str) -> None:
        self._guard.call(lambda: self.client.delete(self.prefix + key))
        self.fallback.forget(key)


@functools.cache
def get_windows() -> Windows:
    """Return this process's windows: shared through Redis if REDIS_URL is set."""
    if settings.REDIS_URL:
        return RedisWindows(fail_fast_client(settings.REDIS_URL))
    return LocalWindows()


@functools.cache
def _rate(text: str) -> Rate:
    return Rate.parse(text)


def rate_of(name: str) -> Rate | None:
    """Return the rate SALA_RATE_LIMITS sets for `name`; None when limits are off or it
    has none (an empty value or "off" turns one limit off)."""
    if not settings.SALA_RATE_LIMITS_ON:
        return None
    text = settings.SALA_RATE_LIMITS.get(name, "")
    if not text or text == "off":
        return None
    return _rate(text)


def hit(name: str, key: str | int, *, rate: Rate | None = None) -> Decision:
    """Count one `name` action for `key` and say whether it is let through.

    `rate` overrides SALA_RATE_LIMITS[name] (a limit that depends on who acts); it is
    ignored, like every limit, when SALA_RATE_LIMITS_ON is off.
    """
    if not settings.SALA_RATE_LIMITS_ON:
        return ALLOWED
    rate = rate or rate_of(name)
    if rate is None:
        return ALLOWED
    # The rate is part of the key: a window counted for one rate means nothing for another.
    return get_windows().hit(f"{name}:{rate}:{key}", rate)


def undo(name: str, key: str | int, decision: Decision, *, rate: Rate | None = None) -> None:
    """Give back the entry `decision` took: the action did not count after all."""
    rate = rate or rate_of(name)
    if decision.token and rate is not None:
        get_windows().undo(f"{name}:{rate}:{key}", decision.token)


def forget(name: str, key: str | int) -> None:
    """Empty `key`'s window of `name`: what it counted no longer counts."""
    rate = rate_of(name)
    if rate is not None:
        get_windows().forget(f"{name}:{rate}:{key}")


def refused(decision: Decision, message: str) -> RateLimited:
    """Return the RateLimited to raise for `decision`: `message`, then how long to wait."""
    return RateLimited(f"{message} {wait_message(decision.retry_after)}", decision.retry_after)


def answer(response: HttpResponse, refusal: RateLimited | None) -> HttpResponse:
    """Return `response` (the form shown again, the refusal at its field) as a 429 with
    Retry-After when `refusal` refused it; unchanged otherwise."""
    if refusal is not None:
        response.status_code = 429
        response["Retry-After"] = str(refusal.retry_after)
    return response


def reset() -> None:
    """Forget every window of this process (for tests); Redis's expire on their own."""
    get_windows.cache_clear()
    _rate.cache_clear()
