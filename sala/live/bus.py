"""The live bus: "something happened in topic N", from the writer to every open stream.

A write announces itself with `publish_on_commit(Event(...))` in a WSGI worker thread; the
Server-Sent-Events streams (async code in ASGI processes, on any node) each hold a
subscription and pass what arrives to the page. There are two kinds of channel: a topic's
(`subscribe(topic_id)`, what a topic page hears) and a forum's (`subscribe_forum(forum_id)`,
what a forum page hears). Every event goes to its topic's channel; an event that names a
forum (a new topic, a new reply) goes to that forum's channel too, so a forum page hears
the activity of its own topics and nothing else. With REDIS_URL the bus is Redis pub/sub,
so every process on every node hears every event; without it the bus is this process's
memory, which is right for the single-process default.

Live is a side channel: an event is a hint to refresh, never the only copy of anything.
Publishing never raises for the backend and never waits long, and an event that finds no
listener, or arrives while Redis is down, is simply lost; a subscription says so through
`healthy`, so the stream can tell the page "updates paused" and catch up afterwards.
"""

import asyncio
import functools
import json
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Protocol

import redis
import redis.asyncio
from django.conf import settings
from django.db import transaction
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff

from sala.core.redis_client import OutageGuard, fail_fast_client

logger = logging.getLogger(__name__)

#: How many events wait for a slow reader, per subscription; beyond it the oldest go.
QUEUE_SIZE = 256
#: Seconds before the first attempt to reach Redis again, doubling up to RETRY_MAX.
RETRY_FIRST = 0.5
RETRY_MAX = 5.0
#: Seconds a new subscription waits for Redis to confirm it before carrying on.
CONFIRM_TIMEOUT = 2.0
#: Seconds of silence on the pub/sub connection before it is pinged; no answer within as
#: long again counts as an outage (a dead peer behind a silent network never closes).
PING_EVERY = 15.0


@dataclass(frozen=True)
class Event:
    """Something that happened in a topic; `data` must be JSON-serialisable.

    An event with a `forum_id` is also heard on that forum's channel.
    """

    kind: str
    topic_id: int
    data: dict[str, Any]
    forum_id: int | None = None


def topic_channel(topic_id: int) -> str:
    """Return the name of a topic's channel, without the backend's prefix."""
    return f"topic:{topic_id}"


def forum_channel(forum_id: int) -> str:
    """Return the name of a forum's channel, without the backend's prefix."""
    return f"forum:{forum_id}"


def _channels(event: Event) -> list[str]:
    """Return the channels `event` is published on: its topic's, and its forum's if named."""
    if event.forum_id is None:
        return [topic_channel(event.topic_id)]
    return [topic_channel(event.topic_id), forum_channel(event.forum_id)]


class Subscription(Protocol):
    """The events of one channel, from `__aenter__` until `__aexit__`, oldest first."""

    async def __aenter__(self) -> "Subscription": ...

    async def __aexit__(self, *exc: object) -> None: ...

    def __aiter__(self) -> AsyncIterator[Event]: ...

    async def next(self, timeout: float) -> Event | None:
        """Return the next event, or None if none arrives within `timeout` seconds."""

    @property
    def healthy(self) -> bool:
        """Return False while events may be going missing because the backend is down."""


class Bus(Protocol):
    def publish(self, event: Event) -> None:
        """Announce `event` to its topic's subscribers, and its forum's if it names one.

        Safe from any thread. Never raise for the backend (an outage is logged once);
        raise TypeError for data that is not JSON-serialisable.
        """

    def subscribe(self, topic_id: int) -> Subscription:
        """Return a subscription to `topic_id`'s events, to be entered with `async with`."""

    def subscribe_channel(self, channel: str) -> Subscription:
        """Return a subscription to `channel` (`topic_channel(id)`, `forum_channel(id)`)."""

    def subscribe_forum(self, forum_id: int) -> Subscription:
        """Return a subscription to the events that name `forum_id`, for `async with`."""


def _encode(event: Event) -> str:
    fields: dict[str, Any] = {"kind": event.kind, "topic_id": event.topic_id, "data": event.data}
    if event.forum_id is not None:
        fields["forum_id"] = event.forum_id
    return json.dumps(fields)


def _decode(payload: str | bytes) -> Event:
    fields = json.loads(payload)
    forum_id = fields.get("forum_id")
    return Event(
        kind=fields["kind"],
        topic_id=int(fields["topic_id"]),
        data=fields["data"],
        forum_id=None if forum_id is None else int(forum_id),
    )


class _Inbox:
    """One subscriber's bounded queue, living on the event loop that reads it."""

    def __init__(self, size: int) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=size)

    def put(self, event: Event) -> None:
        """Queue `event`, dropping the oldest one if full; call on the inbox's loop."""
        # A reader that has fallen this far behind wants the latest news, not all of it,
        # and a stalled connection must not grow the process's memory.
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(event)

    async def get(self, timeout: float) -> Event | None:
        try:
            async with asyncio.timeout(timeout):
                return await self.queue.get()
        except TimeoutError:
            return None


class _Events:
    """What both backends' subscriptions share: an inbox and how to read it."""

    _inbox: _Inbox | None = None

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            yield await self._entered().queue.get()

    async def next(self, timeout: float) -> Event | None:
        return await self._entered().get(timeout)

    def _entered(self) -> _Inbox:
        if self._inbox is None:
            raise RuntimeError("Enter the subscription with `async with` before reading it.")
        return self._inbox


# --- In-process ---------------------------------------------------------------------------


class LocalBus:
    """A bus within this process: publishers hand events to each subscriber's loop."""

    def __init__(self, *, queue_size: int = QUEUE_SIZE) -> None:
        self.queue_size = queue_size
        self._inboxes: dict[str, set[_Inbox]] = {}
        self._lock = threading.Lock()

    def publish(self, event: Event) -> None:
        # The round trip through JSON holds this backend to Redis's contract: data that
        # would not cross processes fails here too, and subscribers get their own copy.
        event = _decode(_encode(event))
        for channel in _channels(event):
            with self._lock:
                inboxes = list(self._inboxes.get(channel, ()))
            for inbox in inboxes:
                try:
                    inbox.loop.call_soon_threadsafe(inbox.put, event)
                except RuntimeError:
                    # The subscriber's loop closed without leaving; nobody reads this inbox.
                    self._leave(channel, inbox)

    def subscribe(self, topic_id: int) -> Subscription:
        return self.subscribe_channel(topic_channel(topic_id))

    def subscribe_forum(self, forum_id: int) -> Subscription:
        return self.subscribe_channel(forum_channel(forum_id))

    def subscribe_channel(self, channel: str) -> Subscription:
        return LocalSubscription(self, channel)

    def _join(self, channel: str, inbox: _Inbox) -> None:
        with self._lock:
            self._inboxes.setdefault(channel, set()).add(inbox)

    def _leave(self, channel: str, inbox: _Inbox) -> None:
        with self._lock:
            inboxes = self._inboxes.get(channel, set())
            inboxes.discard(inbox)
            if not inboxes:
                self._inboxes.pop(channel, None)


class LocalSubscription(_Events):
    def __init__(self, bus: LocalBus, channel: str) -> None:
        self.bus = bus
        self.channel = channel

    async def __aenter__(self) -> "LocalSubscription":
        self._inbox = _Inbox(self.bus.queue_size)
        self.bus._join(self.channel, self._inbox)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._inbox is not None:
            self.bus._leave(self.channel, self._inbox)
            self._inbox = None

    @property
    def healthy(self) -> bool:
        return True


# --- Redis --------------------------------------------------------------------------------


class RedisBus:
    """A bus through Redis pub/sub: `<prefix>topic:<id>` and `<prefix>forum:<id>`.

    Publishing is one round trip on a fail-fast client (a PUBLISH per channel, pipelined).
    Subscribing shares one pub/sub connection among all the subscriptions of an event loop
    (an ASGI process has one), so a thousand open streams cost Redis one connection per
    process, not a thousand.
    """

    def __init__(
        self, url: str, *, prefix: str = "sala:live:", queue_size: int = QUEUE_SIZE
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.queue_size = queue_size
        self.client = fail_fast_client(url)
        self._publish_guard = OutageGuard(
            logger,
            down="Live updates are not being sent, Redis did not answer",
            up="Live updates are being sent again, Redis answers.",
        )
        self._hubs: dict[asyncio.AbstractEventLoop, _RedisHub] = {}
        self._hubs_lock = threading.Lock()
        # Listening outages are logged once per bus, however many loops notice them.
        self._listening_down = False

    def publish(self, event: Event) -> None:
        channels = [self.prefix + channel for channel in _channels(event)]
        payload = _encode(event)

        def send() -> None:
            pipeline = self.client.pipeline(transaction=False)
            for channel in channels:
                pipeline.publish(channel, payload)
            pipeline.execute()

        self._publish_guard.call(send)

    def subscribe(self, topic_id: int) -> Subscription:
        return self.subscribe_channel(topic_channel(topic_id))

    def subscribe_forum(self, forum_id: int) -> Subscription:
        return self.subscribe_channel(forum_channel(forum_id))

    def subscribe_channel(self, channel: str) -> Subscription:
        return RedisSubscription(self, self.prefix + channel)

    def _hub(self) -> "_RedisHub":
        """Return the running loop's hub, starting one if it has none."""
        loop = asyncio.get_running_loop()
        with self._hubs_lock:
            # A loop closed while it still had subscribers leaves its hub behind.
            for closed in [other for other in self._hubs if other.is_closed()]:
                del self._hubs[closed]
            hub = self._hubs.get(loop)
            if hub is None:
                hub = self._hubs[loop] = _RedisHub(self)
            return hub

    def _retire(self, hub: "_RedisHub") -> None:
        """Forget `hub`, which has no subscribers left; the next one starts afresh."""
        with self._hubs_lock:
            if self._hubs.get(hub.loop) is hub:
                del self._hubs[hub.loop]

    def _report_down(self, error: BaseException) -> None:
        if not self._listening_down:
            self._listening_down = True
            logger.warning("Live updates are paused, Redis did not answer: %s", error)

    def _report_up(self) -> None:
        if self._listening_down:
            self._listening_down = False
            logger.info("Live updates are flowing again, Redis answers.")


class RedisSubscription(_Events):
    def __init__(self, bus: RedisBus, channel: str) -> None:
        self.bus = bus
        self.channel = channel
        self._hub: _RedisHub | None = None

    async def __aenter__(self) -> "RedisSubscription":
        self._hub = self.bus._hub()
        self._inbox = _Inbox(self.bus.queue_size)
        try:
            await self._hub.join(self.channel, self._inbox)
        except BaseException:
            # Cancelled while waiting for Redis: `async with` will not call __aexit__.
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        hub, inbox = self._hub, self._inbox
        self._hub = self._inbox = None
        if hub is not None and inbox is not None:
            await hub.leave(self.channel, inbox)

    @property
    def healthy(self) -> bool:
        return self._hub is not None and self._hub.healthy


class _RedisHub:
    """One event loop's pub/sub connection, fanning messages out to its subscriptions.

    A pump task owns the connection: it connects, subscribes every channel somebody
    listens to, reads, and when Redis drops it reconnects with backoff and subscribes all
    again. The hub lives while it has subscribers; the last one to leave stops it.
    """

    def __init__(self, bus: RedisBus) -> None:
        self.bus = bus
        self.loop = asyncio.get_running_loop()
        self.inboxes: dict[str, set[_Inbox]] = {}
        self.healthy = False
        self._pubsub: PubSub | None = None
        # Channels sent to Redis on the current connection, and those not yet confirmed.
        self._subscribed: set[str] = set()
        self._unconfirmed: dict[str, asyncio.Future[None]] = {}
        # Set while no connection attempt is under way, so joiners know whether to wait.
        self._settled = asyncio.Event()
        self._broken = False
        self._pump: asyncio.Task[None] | None = None

    async def join(self, channel: str, inbox: _Inbox) -> None:
        """Deliver `channel` to `inbox`; return once Redis confirms, or is known down."""
        self.inboxes.setdefault(channel, set()).add(inbox)
        if self._pump is None:
            self._pump = asyncio.create_task(self._run(), name=f"live bus {self.bus.prefix}")
        await self._settled.wait()
        if not self.healthy:
            return
        await self._sync()
        confirmation = self._unconfirmed.get(channel)
        if confirmation is not None:
            # An event published before Redis has taken the SUBSCRIBE would be missed.
            with suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(confirmation), CONFIRM_TIMEOUT)

    async def leave(self, channel: str, inbox: _Inbox) -> None:
        """Stop delivering `channel` to `inbox`; stop the hub if it was the last."""
        inboxes = self.inboxes.get(channel, set())
        inboxes.discard(inbox)
        if not inboxes:
            self.inboxes.pop(channel, None)
        if self.inboxes:
            await self._sync()
            return
        self.bus._retire(self)
        pump, self._pump = self._pump, None
        if pump is not None:
            pump.cancel()
            with suppress(asyncio.CancelledError):
                await pump

    async def _sync(self) -> None:
        """Subscribe the channels somebody listens to and unsubscribe the others."""
        pubsub = self._pubsub
        if pubsub is None or not self.healthy:
            return
        wanted = set(self.inboxes)
        added, removed = wanted - self._subscribed, self._subscribed - wanted
        # Claimed before the first await, so concurrent callers never send a channel twice.
        self._subscribed = wanted
        for channel in added:
            self._unconfirmed.setdefault(channel, self.loop.create_future())
        try:
            if added:
                await pubsub.subscribe(*added)
            if removed:
                await pubsub.unsubscribe(*removed)
        except (redis.RedisError, OSError):
            # The pump reconnects and subscribes everything again; a write can fail while
            # the read that would notice is still waiting, so tell it.
            self._broken = True

    async def _run(self) -> None:
        delay = RETRY_FIRST
        while True:
            self._settled.clear()
            client = redis.asyncio.Redis.from_url(
                self.bus.url,
                socket_timeout=0.5,
                socket_connect_timeout=0.5,
                # Reconnecting is the pump's job, with backoff and a fresh subscription.
                retry=AsyncRetry(NoBackoff(), retries=0),
            )
            pubsub = client.pubsub()
            try:
                # redis-py leaves PubSub.connect and PubSub.aclose unannotated.
                await pubsub.connect()  # type: ignore[no-untyped-call]
                await self._resubscribe(pubsub)
                self._pubsub, self.healthy, self._broken = pubsub, True, False
                self._settled.set()
                self.bus._report_up()
                delay = RETRY_FIRST
                await self._sync()
                await self._read(pubsub)
            except (redis.RedisError, OSError) as error:
                self.bus._report_down(error)
            except Exception:
                # A bug here must not silence every stream of the process for good.
                logger.exception("The live bus failed reading from Redis; reconnecting.")
            finally:
                self._disconnected()
                with suppress(Exception):
                    await pubsub.aclose()
                with suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)

    async def _resubscribe(self, pubsub: PubSub) -> None:
        """Subscribe every channel listened to and wait until Redis confirms them all.

        Only then is the hub healthy: a stream told "live again" must not miss what is
        published next.
        """
        channels = set(self.inboxes)
        self._subscribed = set(channels)
        if not channels:
            return
        await pubsub.subscribe(*channels)
        while channels:
            message = await pubsub.get_message(timeout=CONFIRM_TIMEOUT)
            if message is None:
                raise redis.TimeoutError("Redis did not confirm the subscriptions")
            channels.discard(self._handle(message) or "")

    def _disconnected(self) -> None:
        self._pubsub, self.healthy = None, False
        self._subscribed = set()
        for confirmation in self._unconfirmed.values():
            if not confirmation.done():
                confirmation.set_result(None)
        self._unconfirmed.clear()
        self._settled.set()

    async def _read(self, pubsub: PubSub) -> None:
        """Handle messages until the connection fails (raise RedisError)."""
        pinged = False
        while True:
            message = await pubsub.get_message(timeout=PING_EVERY)
            if self._broken:
                raise redis.ConnectionError("a subscription could not be sent")
            if message is None:
                if pinged:
                    raise redis.TimeoutError(f"no answer to a ping within {PING_EVERY} s")
                await pubsub.ping()
                pinged = True
                continue
            pinged = False
            self._handle(message)

    def _handle(self, message: dict[str, Any]) -> str | None:
        """Deliver a published message or note a confirmation; return a confirmed channel."""
        channel = message["channel"]
        if isinstance(channel, bytes):
            channel = channel.decode()
        if message["type"] == "subscribe":
            confirmation = self._unconfirmed.pop(channel, None)
            if confirmation is not None and not confirmation.done():
                confirmation.set_result(None)
            return str(channel)
        if message["type"] == "message":
            self._deliver(channel, message["data"])
        return None

    def _deliver(self, channel: str, payload: bytes) -> None:
        try:
            event = _decode(payload)
        except (ValueError, KeyError, TypeError):
            logger.warning("Ignored a malformed live event on %s: %r", channel, payload[:200])
            return
        for inbox in list(self.inboxes.get(channel, ())):
            inbox.put(event)


# --- Choosing and using the bus -----------------------------------------------------------


@functools.cache
def get_bus() -> Bus:
    """Return this process's bus: through Redis if REDIS_URL is set, else in memory."""
    if settings.REDIS_URL:
        return RedisBus(settings.REDIS_URL)
    return LocalBus()


def publish_on_commit(event: Event) -> None:
    """Publish `event` once the current transaction commits; never if it rolls back.

    Raise TypeError at once, inside the transaction, if `event.data` is not
    JSON-serialisable: after the commit the write could no longer be refused.
    """
    _encode(event)
    transaction.on_commit(lambda: get_bus().publish(event))
