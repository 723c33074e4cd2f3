"""The kinds of live stream: what the app that owns a page tells live about keeping it live.

Live knows how to hold a stream open cheaply, claim its slots, record presence, follow a
channel of the bus and catch up after an outage; it does not know what a page is about.
The app that owns the page registers a kind once, from its `AppConfig.ready()`, with
`register_stream_kind(...)`: the letter of its address (`/live/<letter>/<id>/`), how to
check that the page's target exists and may be read, the bus channel it follows, and
the hooks of its shape:

- a `PresenceKind` is a page whose readers see each other ("Recently Browsing"): its
  stream records its reader, sends the block the app renders whenever readers come and
  go, and passes on the target's events, catching up on a numbered one (a reply) from
  `Last-Event-ID`;
- an `ActivityKind` is a page that lists things (topics of a forum): its stream records
  no presence and reports which of its items had activity, folded over a moment, and
  catches up from a moment the page was rendered at (`?since=`) or last told of.

Hooks are plain synchronous functions: live calls them on its small thread pool, with
the reader's language active, never on the event loop.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.utils.functional import Promise

from sala.accounts.models import User
from sala.live.presence import Browsing


@dataclass(frozen=True, kw_only=True)
class StreamKind:
    """What every kind of stream tells live."""

    #: The kind's name: the URL name of its address is `live:<name>_stream`.
    name: str
    #: The letter of its address: `/live/<letter>/<target id>/`.
    letter: str
    #: Raise Http404 if the target `id` does not exist or may not be read by the reader
    #: (the member, or None for a guest): the owning app asks sala.staff.permissions.
    check: Callable[[int, User | None], object]
    #: What a refused stream's 404 says (a lazy translation).
    missing: str | Promise
    #: The name of the bus channel the target's stream follows (`sala.live.bus`).
    channel: Callable[[int], str]


@dataclass(frozen=True, kw_only=True)
class PresenceKind(StreamKind):
    """A page whose readers see each other, and that hears its target's events.

    Readers' comings and goings are announced on the target's own channel
    (`sala.live.bus.topic_channel`), so that is the channel a presence kind follows.
    """

    #: Return the HTML of the block that shows who is reading the target.
    render_presence: Callable[[int, Browsing], str]
    #: The kind of event whose `number` is the page's position: a reconnecting stream
    #: sends the last one it saw as Last-Event-ID and hears of a newer one at once.
    numbered_event: str
    #: Return the target's current position (the number of its newest numbered event);
    #: raise Http404 if the target went away.
    position: Callable[[int], int]


@dataclass(frozen=True, kw_only=True)
class ActivityKind(StreamKind):
    """A page that lists items, told which of them had activity (`activity` events)."""

    #: Return up to `limit` ids of the target's items active after a moment.
    active_since: Callable[[int, datetime, int], list[int]]
    #: The field of an `activity` event that names the items (the page's script reads it).
    items_field: str
    #: How the page names a moment (`?since=`, event ids), both ways; parsing returns
    #: None for anything malformed.
    format_moment: Callable[[datetime], int]
    parse_moment: Callable[[str | None], datetime | None]


_kinds: dict[str, StreamKind] = {}


def register_stream_kind(kind: StreamKind) -> None:
    """Register `kind`; refuse (ValueError) a second kind with its name or letter."""
    for known in _kinds.values():
        if known.name == kind.name or known.letter == kind.letter:
            if known == kind:
                return  # the same registration, again (ready() run twice)
            raise ValueError(f"A stream kind named {kind.name!r} or at /live/{kind.letter}/ exists")
    _kinds[kind.letter] = kind


def stream_kind_at(letter: str) -> StreamKind | None:
    """Return the kind whose streams live at `/live/<letter>/`, if one is registered."""
    return _kinds.get(letter)


def stream_kinds() -> list[StreamKind]:
    """Return the registered kinds, in the order they were registered."""
    return list(_kinds.values())
