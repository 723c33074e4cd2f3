"""Reports and the review queue: members report posts; moderators claim, note and resolve
what waits, each resolution one transaction with its action (hide, delete) and its log.

A report locks its post's row, so the reports of one post are counted one after another
and the one that reaches the threshold hides the post exactly once. Two moderators
resolving one item meet at the item's lock: the second is told who resolved it, and how.
"""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sala.accounts.models import User
from sala.forums import services as forum_services
from sala.forums.events import HeldWithdrawn, PostHeld
from sala.forums.models import HeldPost, HeldState, Post, Topic
from sala.moderation import sanctions, services
from sala.moderation.models import OUTCOMES, WAITING, Reason, Report, ReviewItem, ReviewNote, State
from sala.staff import audit, permissions
from sala.staff.audit import Acting
from sala.trust import limits

#: What the log and the post's notice say when reports hid a post.
HIDDEN_AFTER_REPORTS = "Hidden after reports, pending review."


def report_weight(reporter: User) -> float:
    """Return what a report by `reporter` counts for in the queue's order: staff 3, an
    established member 2, a new member 1."""
    if permissions.powers_of(reporter).is_staff:
        return 3.0
    if reporter.post_count >= settings.SALA_ESTABLISHED_POSTS:
        return 2.0
    return 1.0


def auto_hide_threshold(author: User) -> int:
    """Return how many reports hide a post by `author` at once (0: never)."""
    if author.post_count < settings.SALA_ESTABLISHED_POSTS:
        return int(settings.SALA_AUTO_HIDE_REPORTS_NEW)
    return int(settings.SALA_AUTO_HIDE_REPORTS)


@transaction.atomic
def report_post(*, post: Post, reporter: User, reason: str, text: str = "") -> ReviewItem:
    """Report `post` for `reason`; return the queue's item for it, which the report
    joins (or opens). Enough reports hide a reply at once, pending review.

    Raise PermissionDenied outside the rules (permissions.check_report_post) and
    ValidationError for a second report of the post, or "other" without details;
    RateLimited past the day's cap of reports (trust.limits.check_report).
    """
    text = text.strip()
    if reason not in Reason.values:
        raise ValidationError({"reason": _("Choose why you report the post.")})
    if reason == Reason.OTHER and not text:
        raise ValidationError({"text": _("Say what is wrong with the post.")})
    Topic.objects.select_for_update().get(pk=post.topic_id)
    post = Post.objects.select_for_update().select_related("author", "topic").get(pk=post.pk)
    permissions.check_report_post(reporter, post)
    if Report.objects.filter(post=post, reporter=reporter).exists():
        raise ValidationError(_("You have reported this post already; the moderators have it."))
    limits.check_report(reporter)
    item = ReviewItem.objects.filter(post=post, state__in=WAITING).first()
    if item is None:
        item = ReviewItem.objects.create(post=post)
    weight = report_weight(reporter)
    Report.objects.create(
        item=item, post=post, reporter=reporter, reason=reason, text=text, weight=weight
    )
    item.report_count += 1
    item.weight += weight
    threshold = auto_hide_threshold(post.author)
    if (
        threshold
        and item.report_count >= threshold
        and not post.is_hidden
        and not post.is_first  # the first post carries its topic: moderators decide
    ):
        services.hide_post(post=post, acting=Acting.by_sala(HIDDEN_AFTER_REPORTS))
        item.auto_hidden = True
    item.save(update_fields=["report_count", "weight", "auto_hidden"])
    return item


def _locked_item(item: ReviewItem, actor: User) -> ReviewItem:
    """Return `item` as it is now, locked; refuse one already dealt with, saying how."""
    fresh = (
        ReviewItem.objects.select_for_update(of=("self",))
        .select_related("post__topic", "post__author", "held", "resolved_by")
        .get(pk=item.pk)
    )
    permissions.check_review_item(actor, fresh.forum_id)
    if not fresh.is_waiting:
        who = fresh.resolved_by.name if fresh.resolved_by else _("Sala")
        raise PermissionDenied(
            _("%(who)s dealt with this already: %(outcome)s.")
            % {"who": who, "outcome": OUTCOMES.get(fresh.outcome, fresh.outcome)}
        )
    return fresh


@transaction.atomic
def claim_item(*, item: ReviewItem, moderator: User) -> ReviewItem:
    """Take an item into review, as its assignee."""
    item = _locked_item(item, moderator)
    item.state = State.IN_REVIEW
    item.assignee = moderator
    item.save(update_fields=["state", "assignee"])
    return item


@transaction.atomic
def add_note(*, item: ReviewItem, author: User, text: str) -> ReviewNote:
    """Add a note for the other moderators to a waiting item."""
    text = text.strip()
    if not text:
        raise ValidationError({"note": _("Write the note first.")})
    item = _locked_item(item, author)
    return ReviewNote.objects.create(item=item, author=author, text=text)


@transaction.atomic
def resolve_item(
    *, item: ReviewItem, acting: Acting, outcome: str, points: int = 1, days: int = 1
) -> ReviewItem:
    """Deal with a waiting item: hide or delete its post, hide it and warn its author
    (`points`) or suspend them (`days`) (resolved), or dismiss its reports (rejected; a
    post reports hid is shown again). A reason is required.

    Raise PermissionDenied for an item another moderator dealt with first (saying who
    and how) or outside the rules, and ValidationError without a reason.
    """
    actor = acting.actor
    if actor is None:
        raise ValueError("A review item is resolved by a moderator.")
    if outcome not in OUTCOMES:
        raise ValidationError(_("That is not a way to resolve a report."))
    if not acting.reason:
        raise ValidationError({"reason": _("Say why, for the author and the other moderators.")})
    item = _locked_item(item, actor)
    post = item.post
    if post is None:
        raise ValidationError(_("This post awaits approval: approve or reject it."))
    hides = outcome in ("hide", "warn", "suspend")
    if hides and not post.is_hidden and not post.is_deleted and not post.is_first:
        services.hide_post(post=post, acting=acting)
    elif hides and post.is_hidden and post.hidden_by_id is None:
        services.keep_hidden(post=post, acting=acting)
    if outcome == "warn":
        sanctions.warn_member(member=post.author, acting=acting, points=points, post=post)
    elif outcome == "suspend":
        sanctions.suspend_member(
            member=post.author,
            acting=acting,
            until=timezone.now() + timedelta(days=days),
            forum_id=post.topic.forum_id,
        )
    if outcome == "delete" and not post.is_deleted:
        forum_services.delete_post(
            post=post, actor=actor, reason=acting.reason, address=acting.address
        )
    elif outcome == "dismiss" and item.auto_hidden and post.is_hidden and post.hidden_by_id is None:
        services.unhide_post(post=post, acting=acting)
    _close_item(
        item,
        acting,
        outcome,
        State.REJECTED if outcome == "dismiss" else State.RESOLVED,
        label=f"{post.topic.title} #{post.number}",
        forum_id=post.topic.forum_id,
        subject_id=post.author_id,
        after={"reports": item.report_count},
    )
    return item


def _close_item(
    item: ReviewItem,
    acting: Acting,
    outcome: str,
    state: State,
    *,
    label: str,
    forum_id: int,
    subject_id: int,
    after: dict[str, object],
) -> None:
    """Mark `item` dealt with by `acting`'s moderator (its assignee, if it had none) in
    `state`, for `outcome`, and log it as review.<outcome>."""
    actor = acting.actor
    item.state = state
    item.outcome = outcome
    item.resolved_by = actor
    item.resolved_at = timezone.now()
    item.assignee = item.assignee or actor
    item.save(update_fields=["state", "outcome", "resolved_by", "resolved_at", "assignee"])
    audit.record(
        acting,
        f"review.{outcome}",
        target_type="review_item",
        target_id=item.pk,
        target_label=label,
        forum_id=forum_id,
        subject_id=subject_id,
        after=after,
    )


# -- Posts held for approval -----------------------------------------------------------------

#: What a post awaiting approval weighs in the queue's order: its author is waiting, so
#: as much as an established member's report.
HELD_WEIGHT = 2.0


def open_held_item(event: PostHeld) -> None:
    """Put a post just held for approval in the queue (the listener of PostHeld)."""
    ReviewItem.objects.get_or_create(held_id=event.held_id, defaults={"weight": HELD_WEIGHT})


def open_missing_items() -> int:
    """Put in the queue the posts awaiting approval that are not there (held by a
    process that died before its listener ran); return how many."""
    missing = HeldPost.objects.filter(state=HeldState.WAITING, review_item__isnull=True)
    items = [ReviewItem(held=held, weight=HELD_WEIGHT) for held in missing[:1000]]
    ReviewItem.objects.bulk_create(items, ignore_conflicts=True)
    return len(items)


def close_withdrawn_item(event: HeldWithdrawn) -> None:
    """Take a post its author withdrew out of the queue (the listener of HeldWithdrawn)."""
    ReviewItem.objects.filter(held_id=event.held_id, state__in=WAITING).update(
        state=State.REJECTED, outcome="withdrawn", resolved_at=timezone.now()
    )


@transaction.atomic
def decide_held(*, item: ReviewItem, acting: Acting, approve: bool) -> ReviewItem:
    """Approve the post `item` holds, publishing it as its author's topic or reply now
    (with the events of any new post), or reject it (a reason required: nobody sees it).

    Raise PermissionDenied for an item another moderator dealt with first, outside the
    rules, or when the post can no longer be published (its author suspended or
    silenced, its topic locked or deleted since: reject it then), and ValidationError
    for a rejection without a reason.
    """
    actor = acting.actor
    if actor is None:
        raise ValueError("A post awaiting approval is decided by a moderator.")
    item = _locked_item(item, actor)
    if item.held is None:
        raise ValidationError(_("This item is a reported post, not one awaiting approval."))
    held = (
        HeldPost.objects.select_for_update(of=("self",))
        .select_related("forum", "author")
        .get(pk=item.held.pk)
    )
    permissions.check_approve_held(actor, held)
    if not approve and not acting.reason:
        raise ValidationError({"reason": _("Say why, for the author and the other moderators.")})
    published = None
    if approve:
        try:
            published = forum_services.publish_held(held)
        except PermissionDenied as refusal:
            raise PermissionDenied(
                _("It can no longer be published: %(why)s Reject it instead.") % {"why": refusal}
            ) from refusal
    forum_services.settle_held(
        held, HeldState.APPROVED if approve else HeldState.REJECTED, published
    )
    _close_item(
        item,
        acting,
        "approve" if approve else "reject",
        State.RESOLVED if approve else State.REJECTED,
        label=held.title or str(held),
        forum_id=held.forum_id,
        subject_id=held.author_id,
        after={"post": published.pk if published else None, "why_held": held.reason},
    )
    return item
