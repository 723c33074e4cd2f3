"""Domain events: what a write announces, once, after it commits, and who acts on it.

A service does its write and announces what happened (`announce(ReplyPosted(...))`); it
does not know who cares. Listeners, registered explicitly by the apps that own them
(`listen(ReplyPosted, drop_cached_pages)`, from an AppConfig's `ready()`), do the rest
once the transaction commits: drop the cached pages the write changed, tell open pages
over the live bus, and, as they land, index for search and notify followers. So a new
write cannot forget a side effect, and a new side effect is one listener, not an edit
to every write.

Why not Django's signals: they fire inside the transaction, from wherever a model is
saved, so half of a write would live in handlers nobody sees from the service; and
after-commit work would still have to be deferred by hand in each. Here an event is a
plain frozen dataclass the service builds from what it wrote, and delivery is always
after commit: a write that rolls back announces nothing (a savepoint rolled back takes
its events with it), and nothing is announced that a reader could not yet see.

Listeners run in the order they were registered (those of a base class first), in the
committing thread, right after the commit. They must be quick (a bump, a publish, an
enqueued task): the request waits for them. One that raises is logged and the others
still run: the write has committed, and a failed side effect must not turn it into an
error page.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """Something a write did, as its listeners need to know it: ids and facts, no rows.

    Subclass it per kind of write; a listener of a class hears its subclasses too.
    """


type Listener[E: DomainEvent] = Callable[[E], None]

_listeners: dict[type[DomainEvent], list[Listener[Any]]] = {}
#: Each event class's listeners, its bases' included, worked out at its first announcement.
_resolved: dict[type[DomainEvent], tuple[Listener[Any], ...]] = {}


def listen[E: DomainEvent](event_type: type[E], listener: Listener[E]) -> None:
    """Call `listener` with every `event_type` event (subclasses too) announced from now
    on, after its transaction commits. Registering the same pair again changes nothing."""
    registered = _listeners.setdefault(event_type, [])
    if listener not in registered:
        registered.append(listener)
        _resolved.clear()


def announce(*events: DomainEvent) -> None:
    """Hand `events` to their listeners once the current transaction commits (at once
    outside of one); never if it rolls back."""
    if events:
        transaction.on_commit(partial(_deliver, events))


def listeners_of(event_type: type[DomainEvent]) -> tuple[Listener[Any], ...]:
    """Return the listeners an `event_type` event is handed to, in order."""
    known = _resolved.get(event_type)
    if known is None:
        # Most general first: a listener of every DomainEvent runs before one of a kind.
        known = tuple(
            listener for cls in reversed(event_type.__mro__) for listener in _listeners.get(cls, ())
        )
        _resolved[event_type] = known
    return known


def _deliver(events: tuple[DomainEvent, ...]) -> None:
    for event in events:
        for listener in listeners_of(type(event)):
            try:
                listener(event)
            except Exception:
                logger.exception("Listener %r failed on %r", listener, event)
