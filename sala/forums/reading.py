"""What reading a forum page records: who is browsing a topic, its view count, and a
member's reading point.

A page's data comes from `selectors`; what the read itself leaves behind is here, for
rendered reads and for guests' reads the page cache answers alike. Each record is
throttled or remembered per process, since with Redis every one is a round trip on a
read that otherwise costs none.
"""

from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import translation

from sala.accounts.models import User
from sala.core import cached_reads, local_memo
from sala.core.buffered_counts import get_counter
from sala.core.throttle import once_in
from sala.forums import selectors, services
from sala.live.presence import Browsing, get_presence, record_visit

#: Seconds within which a visitor reading a topic again is not recorded in its presence
#: again: Recently Browsing looks back 15 minutes.
PRESENCE_REFRESH_SECONDS = 30.0
#: Seconds between two checks of whether the buffered view counts are due to be written.
VIEW_FLUSH_CHECK_SECONDS = 1.0

BROWSING_TEMPLATE = "forums/_recently_browsing.html"

#: Who browses each topic, as read lately: with Redis, a round trip per read otherwise.
#: Others arriving show within these seconds (the live stream shows them at once).
_browsing_now = local_memo.memo(seconds=2, size=10_000)
#: Recently Browsing as rendered lately, by who is listed: on a busy topic every read
#: lists the same readers.
_browsing_blocks = local_memo.memo(seconds=5, size=1000)
#: The reading points this process recorded lately, so reading a page again writes nothing.
_read_marks = local_memo.memo(seconds=300)


def record_cached_read(request: HttpRequest, *, topic_id: int | None = None) -> None:
    """Record a guest's read answered by the guest page cache, as a rendered one is.

    The cache answers above the middleware that records who is online, so that is
    recorded here too (sala.core.cached_reads); a topic's read also counts the guest as
    browsing it (without JavaScript nothing else would; with it, the page's stream
    records them again) and counts a view.
    """
    cached_reads.record(request)
    if topic_id is not None:
        record_visit(request, topic_id, None, every=PRESENCE_REFRESH_SECONDS)
        count_view(topic_id)


def record_browsing(request: HttpRequest, topic_id: int, member: User | None) -> dict[str, Any]:
    """Record the visitor as browsing the topic and count the view; return who is
    browsing, as the template of Recently Browsing takes it."""
    if record_visit(request, topic_id, member, every=PRESENCE_REFRESH_SECONDS):
        _browsing_now.put(topic_id, None)  # the visitor sees themselves listed at once
    browsing = _browsing_now.get(topic_id)
    if not isinstance(browsing, Browsing):
        browsing = get_presence().browsing(topic_id)
        _browsing_now.put(topic_id, browsing)
    count_view(topic_id)
    return {
        "browsing_members": selectors.list_browsing_members(browsing),
        "browsing_guests": browsing.guest_count,
    }


def render_browsing(request: HttpRequest, topic_id: int, member: User) -> dict[str, str]:
    """Record the member as browsing the topic (and count the view); return Recently
    Browsing rendered, by its template's name, for a page members share."""
    browsing = record_browsing(request, topic_id, member)
    members = browsing["browsing_members"]
    key = (tuple(m.pk for m in members), browsing["browsing_guests"], translation.get_language())
    html = _browsing_blocks.get(key)
    if not isinstance(html, str):
        html = render_to_string(BROWSING_TEMPLATE, browsing)
        _browsing_blocks.put(key, html)
    return {BROWSING_TEMPLATE: html}


def count_view(topic_id: int) -> None:
    """Count a read of the topic in the buffer, flushing the buffer when it is due
    (asked once a second: with Redis, asking is a round trip)."""
    views = get_counter("topic_views")
    views.add(topic_id)
    if once_in(VIEW_FLUSH_CHECK_SECONDS, "topic_views"):
        views.flush_due(services.add_views)


def mark_read(member: User, topic_id: int, number: int) -> None:
    """Record that `member` read the topic up to post `number`, unless this process
    recorded it (or further) lately; nothing for a page without posts (number 0)."""
    marked = _read_marks.get((member.pk, topic_id))
    if number and not (isinstance(marked, int) and marked >= number):
        services.mark_read(member=member, topic_id=topic_id, number=number)
        _read_marks.put((member.pk, topic_id), number)
