"""What one open page hears, by its kind (`sala.live.kinds`): a presence page (a topic's),
who is reading it and its target's events (new replies, edits, deletions); an activity
page (a forum's), which of its items had activity.

`events()` and `activity_events()` are the bodies of Server-Sent Events streams, as text
chunks. They are served by `sala.live.app` (plain ASGI); they call the kind's hooks and
presence only from a small shared thread pool, so an open stream is a coroutine waiting
on the bus, not a thread.
"""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from asgiref.sync import sync_to_async
from django.db import close_old_connections
from django.utils import timezone, translation

from sala.live.bus import Event, get_bus
from sala.live.kinds import ActivityKind, PresenceKind
from sala.live.presence import get_presence
from sala.live.slots import get_slots

#: How often an open stream re-announces its visitor (presence entries last 60 s).
TOUCH_EVERY = 20.0
#: How long a quiet stream waits before sending a heartbeat comment.
HEARTBEAT_EVERY = 15.0
#: How often a waiting stream looks at the bus's health, so "paused" shows within ~1 s.
HEALTH_CHECK_EVERY = 1.0


def _sse(kind: str, data: object, event_id: str | None = None) -> str:
    lines = [f"event: {kind}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"data: {json.dumps(data)}")
    return "\n".join(lines) + "\n\n"


# Streams call the database and presence from a small shared thread pool, not one
# thread (and one database connection) per open stream, which Django's default for a
# long-lived request would give.
def in_pool[**P, R](function: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    def fresh(*args: P.args, **kwargs: P.kwargs) -> R:
        # No request cycle closes these threads' connections: drop a broken or expired
        # one before use, as Django does at the start of each request.
        close_old_connections()
        return function(*args, **kwargs)

    return sync_to_async(fresh, thread_sensitive=False)


@in_pool
def _render_presence(kind: PresenceKind, target_id: int, language: str) -> str:
    browsing = get_presence().browsing(target_id)
    with translation.override(language):
        return kind.render_presence(target_id, browsing)


# One render of a target's presence block ("Recently Browsing") serves every stream of
# this process that needs the same change: with N readers, a change costs one render,
# not N. Each announcement carries its time; a render made for that time (or a later
# one) is reused.
_rendered: dict[tuple[str, int, str], tuple[float, str]] = {}
#: How often, at most, a target's change of readers is announced, and a stream re-sends
#: the block; together they keep "Recently Browsing" under a second behind.
SHARE_FOR = 0.5


async def _presence_html(
    kind: PresenceKind, target_id: int, language: str, changed_at: float = 0.0
) -> str:
    key = (kind.name, target_id, language)
    cached = _rendered.get(key)
    if cached is not None and cached[0] >= changed_at > 0:
        return cached[1]
    html = await _render_presence(kind, target_id, language)
    _rendered[key] = (max(changed_at, cached[0] if cached else 0.0), html)
    return html


_announcing: set[int] = set()


def _announce_browsing(target_id: int) -> None:
    """Tell every page of the target that who is reading changed, at most every SHARE_FOR.

    Changes within SHARE_FOR are folded into one event sent at its end, so a hundred
    readers arriving at once cause one re-render per stream, not a hundred. The event is
    the target's (Event.topic_id), heard on its channel (`topic_channel`).
    """
    if target_id in _announcing:
        return
    _announcing.add(target_id)

    def announce() -> None:
        _announcing.discard(target_id)
        get_bus().publish(Event("browsing", target_id, {"at": time.time()}))

    asyncio.get_running_loop().call_later(SHARE_FOR, announce)


@dataclass(frozen=True)
class Reader:
    """Who holds a stream, as presence and the caps know them."""

    member_id: int | None
    visitor_key: str
    hidden: bool
    language: str
    #: The slot keys the stream holds (its address, its session); renewed while open.
    slot_keys: tuple[str, ...]
    stream_id: str


async def events(
    kind: PresenceKind, target_id: int, reader: Reader, last_seen: str
) -> AsyncIterator[str]:
    """Yield the stream of `target_id` for `reader`, who last saw number `last_seen` (of
    the kind's numbered event: a topic's post number).

    The stream holds the reader's slots (claimed by the caller) and releases them, and
    the reader's presence, when it ends.
    """
    presence = get_presence()
    slots = get_slots()
    language = reader.language
    position = in_pool(kind.position)

    def touch() -> None:
        presence.touch(
            target_id,
            member_id=reader.member_id,
            visitor_key=reader.visitor_key,
            hidden=reader.hidden,
        )

    def renew() -> None:
        touch()
        slots.renew(reader.slot_keys, reader.stream_id)

    def leave() -> None:
        presence.leave(target_id, member_id=reader.member_id, visitor_key=reader.visitor_key)
        slots.release(reader.slot_keys, reader.stream_id)

    def numbered(number: int) -> str:
        return _sse(kind.numbered_event, {"number": number}, str(number))

    try:
        yield "retry: 2000\n\n"
        async with get_bus().subscribe_channel(kind.channel(target_id)) as subscription:
            await in_pool(touch)()
            _announce_browsing(target_id)
            yield _sse("browsing", {"html": await _presence_html(kind, target_id, language)})
            last_number = await position(target_id)
            if last_seen.isascii() and last_seen.isdigit() and int(last_seen) < last_number:
                yield numbered(last_number)
            touched = sent = time.monotonic()
            browsing_sent = 0.0
            healthy = True
            changed_at = 0.0  # the newest unsent change of readers, if any
            while True:
                if changed_at and time.monotonic() - browsing_sent >= SHARE_FOR:
                    html = await _presence_html(kind, target_id, language, changed_at)
                    yield _sse("browsing", {"html": html})
                    changed_at = 0.0
                    browsing_sent = sent = time.monotonic()
                if time.monotonic() - touched > TOUCH_EVERY:
                    await in_pool(renew)()
                    touched = time.monotonic()
                if subscription.healthy != healthy:
                    healthy = subscription.healthy
                    yield _sse("status", {"paused": not healthy})
                    if healthy:
                        # Events published during the outage were lost: catch up.
                        html = await _presence_html(kind, target_id, language)
                        yield _sse("browsing", {"html": html})
                        newest = await position(target_id)
                        if newest > last_number:
                            last_number = newest
                            yield numbered(newest)
                    sent = time.monotonic()
                wait = SHARE_FOR / 2 if changed_at else HEALTH_CHECK_EVERY
                event = await subscription.next(timeout=wait)
                if event is None:
                    if time.monotonic() - sent >= HEARTBEAT_EVERY:
                        yield ": heartbeat\n\n"
                        sent = time.monotonic()
                    continue
                sent = time.monotonic()
                if event.kind == "browsing":
                    changed_at = max(changed_at, float(event.data.get("at", 0.0)) or 1.0)
                elif event.kind == kind.numbered_event:
                    number = int(event.data["number"])
                    last_number = max(last_number, number)
                    yield _sse(event.kind, event.data, str(number))
                else:
                    yield _sse(event.kind, event.data)
    finally:
        await in_pool(leave)()
        _announce_browsing(target_id)


# --- Activity pages (a forum's) -------------------------------------------------------------

#: How long an activity stream gathers activity before telling its page: a burst of
#: replies becomes one report (one notice update), not one per reply.
FOLD_FOR = 0.5
#: The most items one catch-up names; a page that missed more reloads its list anyway.
CATCH_UP_LIMIT = 100
#: How far before its last report a reconnecting stream looks again: a write stamped just
#: before a report but committed just after it is still found. Looking twice is harmless,
#: the page counts each item once.
CATCH_UP_MARGIN = timedelta(seconds=1)


def _activity(kind: ActivityKind, item_ids: Iterable[int], checked: datetime) -> str:
    """Return an `activity` event naming `item_ids`, all active before `checked`.

    Its id is where a reconnecting stream catches up from (sent back as Last-Event-ID).
    """
    resume_from = kind.format_moment(checked - CATCH_UP_MARGIN)
    return _sse("activity", {kind.items_field: sorted(item_ids)}, str(resume_from))


async def _catch_up(kind: ActivityKind, target_id: int, since: datetime) -> str | None:
    """Return an `activity` event for the target's items active after `since`, if any."""
    checked = timezone.now()
    missed = await in_pool(kind.active_since)(target_id, since, CATCH_UP_LIMIT)
    return _activity(kind, missed, checked) if missed else None


async def activity_events(
    kind: ActivityKind, target_id: int, reader: Reader, since: datetime
) -> AsyncIterator[str]:
    """Yield the stream of `target_id` (a forum): which of its items have new activity.

    Activity after `since` (when the page was rendered, or the last report before the
    stream reconnected) is reported at once; then what the bus brings on the target's
    channel (each event names its item, Event.topic_id), folded over FOLD_FOR. Such a
    page is not "browsing" anything, so the stream records no presence; it holds the
    reader's slots (claimed by the caller) and releases them when it ends.
    """
    slots = get_slots()

    def renew() -> None:
        slots.renew(reader.slot_keys, reader.stream_id)

    def release() -> None:
        slots.release(reader.slot_keys, reader.stream_id)

    try:
        yield "retry: 2000\n\n"
        async with get_bus().subscribe_channel(kind.channel(target_id)) as subscription:
            if missed := await _catch_up(kind, target_id, since):
                yield missed
            # From here on nothing is missed (and tests know when to write).
            yield ": listening\n\n"
            renewed = sent = time.monotonic()
            healthy = True
            # Everything active before this reached the stream (or was caught up with).
            heard_until = since
            pending: set[int] = set()
            due = 0.0  # when the pending activity is reported
            while True:
                if pending and time.monotonic() >= due:
                    yield _activity(kind, pending, timezone.now())
                    pending = set()
                    sent = time.monotonic()
                if time.monotonic() - renewed > TOUCH_EVERY:
                    await in_pool(renew)()
                    renewed = time.monotonic()
                if subscription.healthy != healthy:
                    healthy = subscription.healthy
                    yield _sse("status", {"paused": not healthy})
                    # Activity during the outage went unheard: look it up.
                    if healthy and (missed := await _catch_up(kind, target_id, heard_until)):
                        yield missed
                    sent = time.monotonic()
                if healthy:
                    heard_until = timezone.now() - CATCH_UP_MARGIN
                wait = HEALTH_CHECK_EVERY
                if pending:
                    wait = min(wait, max(0.0, due - time.monotonic()))
                event = await subscription.next(timeout=wait)
                if event is None:
                    if not pending and time.monotonic() - sent >= HEARTBEAT_EVERY:
                        yield ": heartbeat\n\n"
                        sent = time.monotonic()
                    continue
                if not pending:
                    due = time.monotonic() + FOLD_FOR
                pending.add(event.topic_id)
    finally:
        await in_pool(release)()
