"""The live stream of a topic page: one Server-Sent Events connection per open page.

The page is complete without it; the stream keeps "Recently Browsing" current and
announces new replies. It runs on ASGI (an async view): one open stream is a coroutine
waiting on the bus, not a thread.
"""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from sala.accounts.models import User
from sala.forums import selectors as forum_selectors
from sala.live.bus import Event, get_bus
from sala.live.presence import get_presence, visitor_key

#: How often an open stream re-announces its visitor (presence entries last 60 s).
TOUCH_EVERY = 20.0
#: How long a quiet stream waits before sending a heartbeat comment.
HEARTBEAT_EVERY = 15.0
#: How often a waiting stream looks at the bus's health, so "paused" shows within ~1 s.
HEALTH_CHECK_EVERY = 1.0

# Open streams per client address in this process; the cap keeps one client from
# holding thousands of connections.
_open_streams: dict[str, int] = {}


def _sse(kind: str, data: object, event_id: str | None = None) -> str:
    lines = [f"event: {kind}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"data: {json.dumps(data)}")
    return "\n".join(lines) + "\n\n"


# Streams call the database and presence from a small shared thread pool, not one
# thread (and one database connection) per open stream, which Django's default for a
# long-lived request would give.
def _in_pool[**P, R](function: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    return sync_to_async(function, thread_sensitive=False)


@_in_pool
def _load_topic(topic_id: int) -> tuple[int, int]:
    topic = forum_selectors.get_topic(topic_id)
    return topic.pk, topic.last_number


@_in_pool
def _render_browsing(topic_id: int, language: str) -> str:
    browsing = get_presence().browsing(topic_id)
    members = forum_selectors.list_browsing_members(browsing)
    with translation.override(language):
        return render_to_string(
            "forums/_recently_browsing.html",
            {"browsing_members": members, "browsing_guests": browsing.guest_count},
        )


# One render of a topic's "Recently Browsing" block serves every stream of this process
# that needs the same change: with N readers, a change costs one render, not N. Each
# announcement carries its time; a render made for that time (or a later one) is reused.
_rendered: dict[tuple[int, str], tuple[float, str]] = {}
#: How often, at most, a topic's change of readers is announced, and a stream re-sends
#: the block; together they keep "Recently Browsing" under a second behind.
SHARE_FOR = 0.5


async def _browsing_html(topic_id: int, language: str, changed_at: float = 0.0) -> str:
    key = (topic_id, language)
    cached = _rendered.get(key)
    if cached is not None and cached[0] >= changed_at > 0:
        return cached[1]
    html = await _render_browsing(topic_id, language)
    _rendered[key] = (max(changed_at, cached[0] if cached else 0.0), html)
    return html


_announcing: set[int] = set()


def _announce_browsing(topic_id: int) -> None:
    """Tell every page of the topic that who is browsing changed, at most every SHARE_FOR.

    Changes within SHARE_FOR are folded into one event sent at its end, so a hundred
    readers arriving at once cause one re-render per stream, not a hundred.
    """
    if topic_id in _announcing:
        return
    _announcing.add(topic_id)

    def announce() -> None:
        _announcing.discard(topic_id)
        get_bus().publish(Event("browsing", topic_id, {"at": time.time()}))

    asyncio.get_running_loop().call_later(SHARE_FOR, announce)


async def topic_stream(request: HttpRequest, topic_id: int) -> HttpResponseBase:
    """Stream a topic's events: who is browsing, and new replies after Last-Event-ID.

    Answer 204 (which tells EventSource not to retry) when reached through a WSGI
    worker: a stream there would hold a worker thread for as long as the page is open.
    Deployments route /live/ to an ASGI server instead (see docs/subsystems/live.md).
    """
    if not isinstance(request, ASGIRequest):
        await _load_topic(topic_id)  # a missing topic is a 404 here too
        return HttpResponse(status=204)
    await _load_topic(topic_id)  # raises Http404 for a missing or hidden topic
    user = await request.auser()
    member = user if isinstance(user, User) else None
    visitor = visitor_key(request)
    address = request.META.get("REMOTE_ADDR", "")
    if _open_streams.get(address, 0) >= settings.SALA_LIVE_STREAMS_PER_CLIENT:
        return HttpResponse(
            _("Too many live pages are open from your address; close some and reload."),
            status=429,
            content_type="text/plain; charset=utf-8",
        )
    last_seen = request.headers.get("Last-Event-ID", "")
    language = translation.get_language() or settings.LANGUAGE_CODE

    async def events() -> AsyncIterator[str]:
        _open_streams[address] = _open_streams.get(address, 0) + 1
        presence = get_presence()
        member_id = member.pk if member else None
        hidden = bool(member and member.hide_presence)
        try:
            yield "retry: 2000\n\n"
            async with get_bus().subscribe(topic_id) as subscription:
                await _in_pool(presence.touch)(
                    topic_id, member_id=member_id, visitor_key=visitor, hidden=hidden
                )
                _announce_browsing(topic_id)
                yield _sse("browsing", {"html": await _browsing_html(topic_id, language)})
                _, last_number = await _load_topic(topic_id)
                if last_seen.isascii() and last_seen.isdigit() and int(last_seen) < last_number:
                    yield _sse("reply", {"number": last_number}, str(last_number))
                touched = sent = time.monotonic()
                browsing_sent = 0.0
                healthy = True
                changed_at = 0.0  # the newest unsent change of readers, if any
                while True:
                    if changed_at and time.monotonic() - browsing_sent >= SHARE_FOR:
                        html = await _browsing_html(topic_id, language, changed_at)
                        yield _sse("browsing", {"html": html})
                        changed_at = 0.0
                        browsing_sent = sent = time.monotonic()
                    if time.monotonic() - touched > TOUCH_EVERY:
                        await _in_pool(presence.touch)(
                            topic_id, member_id=member_id, visitor_key=visitor, hidden=hidden
                        )
                        touched = time.monotonic()
                    if subscription.healthy != healthy:
                        healthy = subscription.healthy
                        yield _sse("status", {"paused": not healthy})
                        if healthy:
                            # Events published during the outage were lost: catch up.
                            yield _sse(
                                "browsing", {"html": await _browsing_html(topic_id, language)}
                            )
                            _, newest = await _load_topic(topic_id)
                            if newest > last_number:
                                last_number = newest
                                yield _sse("reply", {"number": newest}, str(newest))
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
                    elif event.kind == "reply":
                        number = int(event.data["number"])
                        last_number = max(last_number, number)
                        yield _sse("reply", event.data, str(number))
                    else:
                        yield _sse(event.kind, event.data)
        except asyncio.CancelledError:
            raise
        finally:
            _open_streams[address] -= 1
            if not _open_streams[address]:
                del _open_streams[address]  # keep one entry per address with streams open
            await _in_pool(presence.leave)(topic_id, member_id=member_id, visitor_key=visitor)
            _announce_browsing(topic_id)

    response = StreamingHttpResponse(events(), content_type="text/event-stream")
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"  # nginx must pass events on at once
    return response
