"""The forums' pages that live keeps live: a topic's and a forum's first page.

Registered with `sala.live.kinds` from the app's ready(); live then serves
`/live/t/<topic id>/` and `/live/f/<forum id>/` without knowing what either is. What
open pages hear of the forums' writes is published by `sala.forums.listeners`.
"""

from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _

from sala.forums import selectors
from sala.live.bus import forum_channel, topic_channel
from sala.live.kinds import ActivityKind, PresenceKind, register_stream_kind
from sala.live.presence import Browsing


def render_recently_browsing(topic_id: int, browsing: Browsing) -> str:
    """Return the topic's "Recently Browsing" block for `browsing`."""
    return render_to_string(
        "forums/_recently_browsing.html",
        {
            "browsing_members": selectors.list_browsing_members(browsing),
            "browsing_guests": browsing.guest_count,
        },
    )


def last_number(topic_id: int) -> int:
    """Return the number of the topic's newest post; raise Http404 if it went away."""
    return selectors.get_topic(topic_id).last_number


#: A topic page: who is browsing it, and its replies, edits and deletions.
TOPIC = PresenceKind(
    name="topic",
    letter="t",
    check=selectors.get_topic,
    missing=_("This topic does not exist or is not visible."),
    channel=topic_channel,
    render_presence=render_recently_browsing,
    numbered_event="reply",
    position=last_number,
)

#: A forum's first page: which of its topics were started or replied to.
FORUM = ActivityKind(
    name="forum",
    letter="f",
    check=selectors.get_forum,
    missing=_("This forum does not exist or is not visible."),
    channel=forum_channel,
    active_since=selectors.list_active_topic_ids,
    items_field="topics",
    format_moment=selectors.micros,
    parse_moment=selectors.parse_micros,
)


def register() -> None:
    """Register the forums' kinds of live stream (called once, from the app's ready())."""
    register_stream_kind(TOPIC)
    register_stream_kind(FORUM)
