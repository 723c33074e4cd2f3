"""Reads for the moderators' pages, each in a fixed number of queries."""

from collections import Counter
from dataclasses import dataclass

from django.db.models import Prefetch, Q
from django.http import Http404
from django.utils import timezone

from sala.forums.models import Forum, Topic
from sala.forums.selectors import MAX_ID, is_number
from sala.moderation.models import WAITING, Ban, Report, ReviewItem, ReviewNote, SpammerCleanup
from sala.staff.models import AuditEntry, StaffRole
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
    return Q(post__topic__forum_id__in=powers.forum_ids) | Q(held__forum_id__in=powers.forum_ids)


def list_queue(powers: Powers, *, closed: bool = False) -> list[QueueItem]:
    """Return the items of the forums `powers` moderates: those waiting, heaviest first
    (or, `closed`, the latest dealt with), with their posts, reports and notes: three
    queries whatever the queue's length."""
    items = (
        ReviewItem.objects.filter(_in_forums(powers))
        .select_related(
            "post__author",
            "post__topic__forum",
            "post__hidden_by",
            "held__author",
            "held__forum",
            "held__topic",
            "assignee",
            "resolved_by",
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
    """Return a review item with its post and topic (or its post awaiting approval), or
    raise Http404."""
    if item_id > MAX_ID:
        raise Http404("No such item.")
    item = ReviewItem.objects.select_related("post__topic", "held").filter(pk=item_id).first()
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


def get_cleanup(cleanup_id: int) -> SpammerCleanup:
    """Return a spammer clean-up with its member, or raise Http404."""
    cleanup = (
        SpammerCleanup.objects.select_related("member").filter(pk=cleanup_id).first()
        if cleanup_id <= MAX_ID
        else None
    )
    if cleanup is None:
        raise Http404("No such clean-up.")
    return cleanup


#: Entries shown on one page of the audit log, newest first.
AUDIT_PAGE = 50


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    #: The id the next (older) page starts before; None on the last page.
    next_cursor: int | None


def list_audit(
    *,
    action: str = "",
    actor: str = "",
    forum_id: int | None = None,
    text: str = "",
    before: int | None = None,
) -> AuditPage:
    """Return a page of the audit log, newest first, filtered by the start of the action
    (`post.` for every action on posts), who acted, the forum, and words of the object or
    the reason; pages follow the entries' ids (newer entries have higher ones): one query."""
    entries = AuditEntry.objects.order_by("-id")
    if action:
        entries = entries.filter(action__startswith=action)
    if actor:
        entries = entries.filter(actor_name__iexact=actor)
    if forum_id is not None:
        entries = entries.filter(forum_id=forum_id)
    if text:
        entries = entries.filter(Q(target_label__icontains=text) | Q(reason__icontains=text))
    if before is not None:
        entries = entries.filter(id__lt=before)
    found = list(entries[: AUDIT_PAGE + 1])
    more = len(found) > AUDIT_PAGE
    found = found[:AUDIT_PAGE]
    return AuditPage(entries=found, next_cursor=found[-1].pk if more else None)


def list_staff_roles() -> list[StaffRole]:
    """Return every staff role with its holder, who gave it and its forum's name (as
    `forum_name`): two queries."""
    roles = list(
        StaffRole.objects.select_related("member", "group", "granted_by").order_by(
            "role", "forum_id", "id"
        )
    )
    forums = Forum.objects.in_bulk({role.forum_id for role in roles if role.forum_id})
    for role in roles:
        forum = forums.get(role.forum_id) if role.forum_id else None
        role.forum_name = forum.name if forum else ""  # type: ignore[attr-defined]
    return roles


def get_staff_role(role_id: int) -> StaffRole:
    role = StaffRole.objects.filter(pk=role_id).first() if role_id <= MAX_ID else None
    if role is None:
        raise Http404("No such role.")
    return role


def list_topics_to_act_on(forum: Forum, raw_ids: list[str], limit: int) -> list[Topic]:
    """Return the topics of `forum` among the ids ticked on its page (`raw_ids`, as
    posted; what is not a number is left out, and so is anything past `limit` + 1, which
    is enough to say there are too many), in the order its page lists them."""
    ids = [int(raw) for raw in raw_ids if is_number(raw)][: limit + 1]
    return list(
        Topic.objects.filter(forum=forum, pk__in=ids, is_deleted=False).order_by(
            "-is_pinned", "-last_post_at", "-pk"
        )
    )
