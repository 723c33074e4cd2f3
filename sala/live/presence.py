"""Who has a topic open right now: the "Recently Browsing" list under a topic.

A page view touches the topic; the list shows members seen within the window (most recent
first) and a count of guests. Guests are told apart by `visitor_key`, an anonymous hash, so
presence needs no cookie and stores no IP address. With REDIS_URL every process shares one
view; without it each process keeps its own, which is right for the single-process default.

Presence is a side channel: a page must render even when Redis is unreachable, so the
Redis backend never raises; it logs once per outage and reports nobody browsing.
"""

import functools
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import redis
from django.conf import settings
from django.http import HttpRequest
from django.utils.crypto import salted_hmac
from redis.client import Pipeline

from sala.accounts.models import User
from sala.core.client_address import client_address
from sala.core.redis_client import OutageGuard, fail_fast_client
from sala.core.throttle import once_in

logger = logging.getLogger(__name__)

#: How long a touch is remembered, in seconds; also the default window of `browsing()`.
RETAIN = 900.0


@dataclass(frozen=True)
class Browsing:
    """Who has a topic open: members by id, most recent first, and how many guests."""

    member_ids: tuple[int, ...]
    guest_count: int


class Presence(Protocol):
    def touch(
        self,
        topic_id: int,
        *,
        member_id: int | None,
        visitor_key: str,
        hidden: bool = False,
        now: float | None = None,
    ) -> None:
        """Record that a visitor has `topic_id` open at `now` (default: the current time).

        A member touching the topic stops counting as the guest they were under
        `visitor_key`; a `hidden` member counts as one guest, however many devices.
        """

    def browsing(
        self, topic_id: int, *, within: float = RETAIN, now: float | None = None
    ) -> Browsing:
        """Return who touched `topic_id` in the `within` seconds before `now`."""

    def leave(self, topic_id: int, *, member_id: int | None, visitor_key: str) -> None:
        """Forget the visitor on `topic_id` at once, without waiting for the window."""


def _hidden_key(member_id: int) -> str:
    # A hidden member is a guest keyed by their id rather than their device, so two tabs
    # on two devices count once and a later visible touch can take the place back.
    return f"member:{member_id}"


@dataclass
class _Topic:
    members: dict[int, float] = field(default_factory=dict)
    guests: dict[str, float] = field(default_factory=dict)


class LocalPresence:
    """Presence held in this process's memory, behind one lock.

    Entries older than `retain` are pruned on every read of their topic, and every
    `retain` seconds a sweep drops topics nobody has opened since.
    """

    def __init__(self, *, retain: float = RETAIN) -> None:
        self.retain = retain
        self._topics: dict[int, _Topic] = {}
        self._lock = threading.Lock()
        self._last_sweep = 0.0

    def touch(
        self,
        topic_id: int,
        *,
        member_id: int | None,
        visitor_key: str,
        hidden: bool = False,
        now: float | None = None,
    ) -> None:
        now = time.time() if now is None else now
        with self._lock:
            topic = self._topics.setdefault(topic_id, _Topic())
            if member_id is None:
                topic.guests[visitor_key] = now
            else:
                topic.guests.pop(visitor_key, None)
                if hidden:
                    topic.members.pop(member_id, None)
                    topic.guests[_hidden_key(member_id)] = now
                else:
                    topic.guests.pop(_hidden_key(member_id), None)
                    topic.members[member_id] = now
            if now - self._last_sweep > self.retain:
                self._sweep(now)

    def browsing(
        self, topic_id: int, *, within: float = RETAIN, now: float | None = None
    ) -> Browsing:
        now = time.time() if now is None else now
        with self._lock:
            topic = self._topics.get(topic_id)
            if topic is None:
                return Browsing((), 0)
            self._prune(topic, now - max(within, self.retain))
            since = now - within
            members = sorted(
                (seen, member_id) for member_id, seen in topic.members.items() if seen >= since
            )
            guest_count = sum(1 for seen in topic.guests.values() if seen >= since)
        return Browsing(tuple(member_id for _, member_id in reversed(members)), guest_count)

    def leave(self, topic_id: int, *, member_id: int | None, visitor_key: str) -> None:
        with self._lock:
            topic = self._topics.get(topic_id)
            if topic is None:
                return
            topic.guests.pop(visitor_key, None)
            if member_id is not None:
                topic.members.pop(member_id, None)
                topic.guests.pop(_hidden_key(member_id), None)
            if not topic.members and not topic.guests:
                del self._topics[topic_id]

    def _prune(self, topic: _Topic, before: float) -> None:
        topic.members = {key: seen for key, seen in topic.members.items() if seen >= before}
        topic.guests = {key: seen for key, seen in topic.guests.items() if seen >= before}

    def _sweep(self, now: float) -> None:
        for topic_id, topic in list(self._topics.items()):
            self._prune(topic, now - self.retain)
            if not topic.members and not topic.guests:
                del self._topics[topic_id]
        self._last_sweep = now


class RedisPresence:
    """Presence shared through Redis: per topic, two sorted sets scored by time.

    `<prefix><topic>:members` holds member ids and `<prefix><topic>:guests` holds visitor
    keys. Every call is one pipelined round trip; reads prune what is older than `retain`
    and touches renew an expiry, so a topic nobody opens again vanishes on its own.
    """

    def __init__(
        self, client: redis.Redis, *, prefix: str = "sala:browsing:", retain: float = RETAIN
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.retain = retain
        self._guard = OutageGuard(
            logger,
            down="Presence is unavailable, Redis did not answer",
            up="Presence is available again, Redis answers.",
        )

    def touch(
        self,
        topic_id: int,
        *,
        member_id: int | None,
        visitor_key: str,
        hidden: bool = False,
        now: float | None = None,
    ) -> None:
        now = time.time() if now is None else now
        members, guests = self._keys(topic_id)
        pipe = self.client.pipeline()
        if member_id is None:
            pipe.zadd(guests, {visitor_key: now})
        elif hidden:
            pipe.zrem(guests, visitor_key)
            pipe.zrem(members, member_id)
            pipe.zadd(guests, {_hidden_key(member_id): now})
        else:
            pipe.zrem(guests, visitor_key, _hidden_key(member_id))
            pipe.zadd(members, {str(member_id): now})
        ttl = math.ceil(self.retain)
        pipe.expire(members, ttl)
        pipe.expire(guests, ttl)
        self._execute(pipe)

    def browsing(
        self, topic_id: int, *, within: float = RETAIN, now: float | None = None
    ) -> Browsing:
        now = time.time() if now is None else now
        members, guests = self._keys(topic_id)
        before = f"({now - max(within, self.retain)!r}"
        since = now - within
        pipe = self.client.pipeline()
        pipe.zremrangebyscore(members, "-inf", before)
        pipe.zremrangebyscore(guests, "-inf", before)
        pipe.zrevrangebyscore(members, "+inf", since)
        pipe.zcount(guests, since, "+inf")
        results = self._execute(pipe)
        if results is None:
            return Browsing((), 0)
        member_ids = cast(list[bytes], results[2])
        return Browsing(tuple(int(member_id) for member_id in member_ids), int(results[3]))

    def leave(self, topic_id: int, *, member_id: int | None, visitor_key: str) -> None:
        members, guests = self._keys(topic_id)
        pipe = self.client.pipeline()
        if member_id is None:
            pipe.zrem(guests, visitor_key)
        else:
            pipe.zrem(guests, visitor_key, _hidden_key(member_id))
            pipe.zrem(members, member_id)
        self._execute(pipe)

    def _keys(self, topic_id: int) -> tuple[str, str]:
        return f"{self.prefix}{topic_id}:members", f"{self.prefix}{topic_id}:guests"

    def _execute(self, pipe: Pipeline) -> list[Any] | None:
        """Run `pipe`; on a Redis error return None (the guard logs the outage once)."""
        return self._guard.call(pipe.execute)


@functools.cache
def get_presence() -> Presence:
    """Return this process's presence: shared through Redis if REDIS_URL is set."""
    if settings.REDIS_URL:
        return RedisPresence(fail_fast_client(settings.REDIS_URL))
    return LocalPresence()


def visitor_key(request: HttpRequest) -> str:
    """Return an anonymous key for the browser behind `request`, without any cookie.

    It is a keyed hash of the address and User-Agent, truncated: stable enough to count a
    guest once, useless for recovering the address, which is never stored.
    """
    address = client_address(request)
    user_agent = request.META.get("HTTP_USER_AGENT", "")
    digest = salted_hmac(
        "sala.live.presence.visitor_key", f"{address}\n{user_agent}", algorithm="sha256"
    )
    return digest.hexdigest()[:20]


def visitor_hash(request: HttpRequest) -> int:
    """Return a cheap stand-in for `visitor_key`, for throttling in this process only.

    A hash of the headers visitor_key is made of (Python's, salted per process): equal
    for requests visitor_key cannot tell apart, and a fraction of its cost, so a read
    that records nothing new never pays for the keyed hash. Never stored or sent.
    """
    meta = request.META
    return hash(
        (meta.get("REMOTE_ADDR"), meta.get("HTTP_X_FORWARDED_FOR"), meta.get("HTTP_USER_AGENT"))
    )


def record_visit(request: HttpRequest, place: int, member: User | None, *, every: float) -> bool:
    """Record the visitor behind `request` (`member`, or a guest for None) in `place`'s
    presence unless this process did within `every` seconds; return whether it did now.

    Throttled by `visitor_hash`: a read that records nothing new pays neither the keyed
    visitor hash nor, with Redis, a round trip. A member hiding their presence is
    recorded as hidden (counted among the guests).
    """
    hidden = bool(member and member.hide_presence)
    if not once_in(every, (place, visitor_hash(request), hidden)):
        return False
    get_presence().touch(
        place,
        member_id=member.pk if member else None,
        visitor_key=visitor_key(request),
        hidden=hidden,
    )
    return True
