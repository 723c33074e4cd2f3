"""Reads for the moderators' pages, each in a fixed number of queries."""

from collections import Counter
from dataclasses import dataclass

from django.db.models import Prefetch, Q
from django.http import Http404
from django.utils import timezone

from sala.forums.selectors import MAX_ID
from sala.moderation.models import WAITING, Ban, Report, ReviewItem, ReviewNote
from sala.staff.permissions import Powers

#: Items shown on the queue's page, heaviest first.
QUEUE_PAGE = 50


@dataclass(frozen=True)
class QueueItem:
    """A waiting item as the queue shows it: the item, and its reports counted by reason."""

    item: ReviewItem
    reasons: list[tuple[str, int]]


def _in_forums(powers: Powers) -> Q:
    if powers.moderates_everywhere:
        return Q()
    return Q(post__topic__forum_id__in=powers.forum_ids)


def list_queue(powers: Powers, *, closed: bool = False) -> list[QueueItem]:
    """Return the items of the forums `powers` moderates: those waiting, heaviest first
    (or, `closed`, the latest dealt with), with their posts, reports and notes: three
    queries whatever the queue's length."""
    items = (
        ReviewItem.objects.filter(_in_forums(powers))
        .select_related(
            "post__author", "post__topic__forum", "post__hidden_by", "assignee", "resolved_by"
        )
        .prefetch_related(
            Prefetch("reports", Report.objects.select_related("reporter").order_by("created_at")),
            Prefetch("notes", ReviewNote.objects.select_related("author")),
        )
    )
    if closed:
        items = items.exclude(state__in=WAITING).order_by("-resolved_at", "-id")
    else:
        items = items.filter(state__in=WAITING).order_by("-weight", "created_at", "id")
    shown = []
    for item in items[:QUEUE_PAGE]:
        counted = Counter(report.get_reason_display() for report in item.reports.all())
        shown.append(QueueItem(item=item, reasons=counted.most_common()))
    return shown


def get_item(item_id: int) -> ReviewItem:
    """Return a review item with its post and topic, or raise Http404."""
    if item_id > MAX_ID:
        raise Http404("No such item.")
    item = ReviewItem.objects.select_related("post__topic").filter(pk=item_id).first()
    if item is None:
        raise Http404("No such item.")
    return item


def count_waiting(powers: Powers) -> int:
    """Return how many items wait in the forums `powers` moderates: one query."""
    return ReviewItem.objects.filter(_in_forums(powers), state__in=WAITING).count()


def list_bans() -> list[Ban]:
    """Return the bans in force, newest first, with who made them: one query."""
    in_force = Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    return list(Ban.objects.filter(in_force).select_related("created_by"))


def get_ban(ban_id: int) -> Ban:
    """Return a ban, or raise Http404."""
    ban = Ban.objects.filter(pk=ban_id).first() if ban_id <= MAX_ID else None
    if ban is None:
        raise Http404("No such ban.")
    return ban
