"""What the forums do after one of their writes commits: drop the cached pages it
changed, then tell the pages open on it (sala.core.events delivers; `register` is called
once, from the app's ready()).

Pages first: a reader told of a reply who loads the page must get the new copy, never
the one the reply made stale.
"""

from sala.core import events, page_cache
from sala.forums import cached_pages
from sala.forums.events import (
    ForumsChanged,
    PostDeleted,
    PostEdited,
    PostEvent,
    PostHidden,
    PostRestored,
    ReplyPosted,
    TopicChanged,
    TopicStarted,
)
from sala.live.bus import Event, get_bus

#: What open pages hear of each write, by the event's class: the kind their scripts know.
_LIVE_KINDS: dict[type[PostEvent], str] = {
    TopicStarted: "topic",
    ReplyPosted: "reply",
    PostEdited: "edit",
    PostDeleted: "delete",
    # Open pages fetch the post again, as its reader may see it now.
    PostHidden: "edit",
    PostRestored: "edit",
}


def drop_cached_pages(event: PostEvent | TopicChanged | ForumsChanged) -> None:
    """Bump the generations of the pages `event`'s write changed, in every process."""
    names = cached_pages.changed_by(event)
    if names:
        page_cache.get_generations().bump(names)


def tell_open_pages(event: PostEvent) -> None:
    """Announce `event` on the live bus: to its topic's open pages, and to its forum's
    for a new topic or reply (a forum page shows their activity, not edits)."""
    kind = _LIVE_KINDS.get(type(event))
    if kind is None:
        return
    names_forum = isinstance(event, TopicStarted | ReplyPosted)
    get_bus().publish(
        Event(
            kind,
            event.topic_id,
            {"number": event.number},
            forum_id=event.forum_id if names_forum else None,
        )
    )


def tell_open_topic_pages(event: TopicChanged) -> None:
    """Tell a topic's open pages that its state changed (locked, pinned, closed, moved):
    they say so, and a reload shows it (the reply box comes or goes)."""
    get_bus().publish(Event("changed", event.topic_id, {}))


def register() -> None:
    """Register the forums' listeners, pages before live (see the module's docstring)."""
    events.listen(PostEvent, drop_cached_pages)
    events.listen(TopicChanged, drop_cached_pages)
    events.listen(ForumsChanged, drop_cached_pages)
    events.listen(PostEvent, tell_open_pages)
    events.listen(TopicChanged, tell_open_topic_pages)
