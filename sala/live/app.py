"""The live server: a plain ASGI application for `/live/`, beside Django's for the rest.

It serves the kinds of stream the apps registered (`sala.live.kinds`; the forums': a
topic page's at `/live/t/<topic id>/`, a forum page's at `/live/f/<forum id>/`), through
the same checks (host, origin, the kind's visibility check, caps).

A stream lives as long as its page is open, so it must cost little while it waits. Django's
ASGI handler runs every request through the (synchronous) middleware on one shared thread
and keeps a thread busy for the response; thousands of open pages would queue behind it.
Here a stream is parsed, authenticated and checked in one call on a small thread pool,
then served as a coroutine that waits on the bus: no thread, no database connection.

`route(django)` sends `/live/` here and everything else to Django.
"""

import asyncio
import io
import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import import_module
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from sala.accounts.models import User
from sala.core.client_address import client_network
from sala.live.kinds import ActivityKind, PresenceKind, StreamKind, stream_kind_at
from sala.live.presence import visitor_key
from sala.live.slots import Limit, get_slots
from sala.live.stream import Reader, activity_events, events, in_pool

logger = logging.getLogger(__name__)

type Scope = dict[str, Any]
type Message = Mapping[str, Any]
type Receive = Callable[[], Awaitable[Message]]
type Send = Callable[[Message], Awaitable[None]]
type ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: `/live/<kind's letter>/<target id>/` (`/live/t/<topic id>/`, a topic page's stream);
#: an id longer than a bigint can hold names nothing.
STREAM = re.compile(r"/live/([a-z]+)/([0-9]{1,18})/")


@dataclass(frozen=True)
class Target:
    """What a stream follows: a target of a registered kind, by id."""

    kind: StreamKind
    id: int

    @classmethod
    def at(cls, path: str) -> "Target | None":
        """Return the target `path` names, or None if it names no stream."""
        match = STREAM.fullmatch(path)
        kind = stream_kind_at(match[1]) if match else None
        if match is None or kind is None:
            return None
        return cls(kind, int(match[2]))


class Refusal(Exception):
    """A stream that is not served: its status and the message the client reads."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Opening:
    reader: Reader
    cors: list[tuple[bytes, bytes]]


def route(django: ASGIApp) -> ASGIApp:
    """Return an ASGI app that serves `/live/` itself and hands the rest to `django`."""

    async def application(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/live/"):
            await live(scope, receive, send)
        else:
            await django(scope, receive, send)

    return application


async def live(scope: Scope, receive: Receive, send: Send) -> None:
    """Serve one request for a live stream."""
    request = ASGIRequest(scope, io.BytesIO())
    cors = _cors_headers(request)
    target = Target.at(scope["path"])
    if target is None:
        await _answer(send, 404, _("There is no live stream at this address."), cors)
        return
    if request.method == "OPTIONS":
        await _answer(send, 204, "", cors)
        return
    if request.method not in ("GET", "HEAD"):
        await _answer(send, 405, _("Live streams are only read (GET)."), cors)
        return
    try:
        opening = await _open(request, target, cors)
    except Refusal as refusal:
        await _answer(send, refusal.status, refusal.message, cors)
        return
    headers = [
        (b"content-type", b"text/event-stream; charset=utf-8"),
        (b"cache-control", b"no-store"),
        (b"x-accel-buffering", b"no"),  # nginx must pass events on at once
        *opening.cors,
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if request.method == "HEAD":
        await send({"type": "http.response.body", "body": b""})
        get_slots().release(opening.reader.slot_keys, opening.reader.stream_id)
        return
    last_seen = request.headers.get("Last-Event-ID", "")
    kind = target.kind
    if isinstance(kind, PresenceKind):
        chunks = events(kind, target.id, opening.reader, last_seen)
    elif isinstance(kind, ActivityKind):
        chunks = activity_events(kind, target.id, opening.reader, _since(kind, request, last_seen))
    else:
        raise TypeError(f"A stream kind of no shape live serves: {kind!r}")
    await _pump(chunks, receive, send)


def _since(kind: ActivityKind, request: ASGIRequest, last_seen: str) -> datetime:
    """Return the moment an activity page's stream reports activity after.

    A reconnecting stream sends the id of its last report (Last-Event-ID); a new one
    the moment its page was rendered (`?since=`); failing both, now.
    """
    return (
        kind.parse_moment(last_seen)
        or kind.parse_moment(request.GET.get("since"))
        or timezone.now()
    )


@in_pool
def _open(request: ASGIRequest, target: Target, cors: list[tuple[bytes, bytes]]) -> Opening:
    """Check a stream request and claim its slots: one trip to the thread pool."""
    try:
        request.get_host()
    except DisallowedHost:
        raise Refusal(400, _("This host is not served here.")) from None
    if request.headers.get("Origin") and not cors:
        raise Refusal(403, _("Live streams are only opened by this site's pages."))
    if request.headers.get("Sec-Fetch-Mode") == "navigate":
        # A link (from anywhere) would carry the member's cookies and count them browsing.
        raise Refusal(400, _("Live streams are read by this site's pages, not opened directly."))
    engine = import_module(settings.SESSION_ENGINE)
    session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    request.session = engine.SessionStore(session_key)
    user = get_user(request)
    member = user if isinstance(user, User) and user.is_active else None
    try:
        target.kind.check(target.id, member)
    except Http404:
        raise Refusal(404, str(target.kind.missing)) from None
    limits: list[Limit] = [
        (f"address:{client_network(request)}", settings.SALA_LIVE_STREAMS_PER_ADDRESS)
    ]
    if member is not None and request.session.session_key:
        limits.append(
            (f"session:{request.session.session_key}", settings.SALA_LIVE_STREAMS_PER_SESSION)
        )
    reader = Reader(
        member_id=member.pk if member else None,
        visitor_key=visitor_key(request),
        hidden=bool(member and member.hide_presence),
        language=translation.get_language_from_request(request),
        slot_keys=tuple(key for key, _ in limits),
        stream_id=uuid.uuid4().hex,
    )
    if get_slots().claim(limits, reader.stream_id) is not None:
        raise Refusal(
            429, _("Too many live pages are open from here; close some and reload this one.")
        )
    return Opening(reader=reader, cors=cors)


async def _pump(chunks: AsyncIterator[str], receive: Receive, send: Send) -> None:
    """Send `chunks` until they end or the client goes away, then close them."""

    async def forward() -> None:
        async for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk.encode(), "more_body": True})

    async def until_disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    sending = asyncio.ensure_future(forward())
    listening = asyncio.ensure_future(until_disconnect())
    try:
        await asyncio.wait({sending, listening}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sending, listening):
            task.cancel()
        for outcome in await asyncio.gather(sending, listening, return_exceptions=True):
            if isinstance(outcome, Exception) and not isinstance(outcome, OSError):
                logger.error("A live stream failed", exc_info=outcome)
        await chunks.aclose()  # type: ignore[attr-defined]


def _cors_headers(request: ASGIRequest) -> list[tuple[bytes, bytes]]:
    """Return the headers that let one of this site's pages read a stream cross-origin.

    Pages served by the WSGI workers open their stream on the live server's own port
    (SALA_LIVE_URL) when no proxy puts both under one origin: that is a cross-origin read,
    allowed, with the member's cookies, for origins named in CSRF_TRUSTED_ORIGINS and for
    http(s) origins whose host ALLOWED_HOSTS names exactly: a pattern ("*", ".example.org")
    says which Host headers to answer, not which sites to trust.
    """
    origin = request.headers.get("Origin", "")
    parts = urlsplit(origin)
    exact_host = parts.hostname in settings.ALLOWED_HOSTS and parts.scheme in ("http", "https")
    if not (exact_host or origin in settings.CSRF_TRUSTED_ORIGINS):
        return []
    return [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-allow-credentials", b"true"),
        (b"access-control-allow-headers", b"last-event-id"),
        (b"vary", b"origin"),
    ]


async def _answer(send: Send, status: int, text: str, cors: list[tuple[bytes, bytes]]) -> None:
    body = text.encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *cors,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
