"""The forums' pages that live keeps live: a topic's and a forum's first page.

Registered with `sala.live.kinds` from the app's ready(); live then serves
`/live/t/<topic id>/` and `/live/f/<forum id>/` without knowing what either is. What
open pages hear of the forums' writes is published by `sala.forums.listeners`.
"""

from django.contrib.auth.models import AnonymousUser
from django.http import Http404
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _

from sala.accounts.models import User
from sala.forums import selectors
from sala.forums.models import Forum, Topic
from sala.live.bus import forum_channel, topic_channel
from sala.live.kinds import ActivityKind, PresenceKind, register_stream_kind
from sala.live.presence import Browsing
from sala.staff import permissions


def render_recently_browsing(topic_id: int, browsing: Browsing) -> str:
    """Return the topic's "Recently Browsing" block for `browsing`."""
    return render_to_string(
        "forums/_recently_browsing.html",
        {
            "browsing_members": selectors.list_browsing_members(browsing),
            "browsing_guests": browsing.guest_count,
        },
    )


def check_topic(topic_id: int, reader: User | None) -> Topic:
    """Return the topic if `reader` may read it; raise Http404 otherwise: a deleted topic
    is read only by its forum's moderators (sala.staff.permissions), who restore it."""
    topic = selectors.get_topic(topic_id, with_deleted=True)
    if topic.is_deleted:
        user = reader or AnonymousUser()
        if not permissions.allows(permissions.check_see_deleted, user, topic):
            raise Http404("No such topic.")
    return topic


def check_forum(forum_id: int, reader: User | None) -> Forum:
    """Return the forum (every forum is read by everyone); raise Http404 if there is none."""
    return selectors.get_forum(forum_id)


def last_number(topic_id: int) -> int:
    """Return the number of the topic's newest post; raise Http404 if it went away."""
    return selectors.get_topic(topic_id, with_deleted=True).last_number


#: A topic page: who is browsing it, and its replies, edits and deletions.
TOPIC = PresenceKind(
    name="topic",
    letter="t",
    check=check_topic,
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
    check=check_forum,
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
