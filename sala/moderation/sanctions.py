"""Warnings, silences and suspensions: what moderators (and warnings' automatic steps) do
to a member, each one transaction with its audit entry.

A member whose posts are held writes as before, but their new topics and replies wait
for the moderators' approval (sala.forums.services.submit_topic, submit_reply) until the
holding ends by itself. A silenced member reads, edits their posts and reports, but starts
no topic and replies to none, until the silence ends by itself.

A suspended member reads everything but writes nothing (sala.staff.permissions refuses
every write and says why and until when); the suspension ends by itself. Saving the
member announces MemberChanged, so every process forgets the row it remembered and the
next request sees the suspension.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from sala.accounts.models import User
from sala.forums.models import Post
from sala.moderation.models import Warning
from sala.staff import audit, permissions
from sala.staff.audit import Acting


def _audit_member(acting: Acting, action: str, member: User, **changes: object) -> None:
    audit.record(
        acting,
        action,
        target_type="member",
        target_id=member.pk,
        target_label=member.username,
        subject_id=member.pk,
        **changes,  # type: ignore[arg-type]
    )


def active_points(member: User) -> int:
    """Return the points of `member`'s warnings that have not expired: one query."""
    total = Warning.objects.filter(member=member, expires_at__gt=timezone.now()).aggregate(
        points=Sum("points")
    )["points"]
    return int(total or 0)


@dataclass(frozen=True)
class Step:
    """An automatic step of warnings: what `points` active points do to a member."""

    points: int
    action: str  # "approve", "silence" or "suspend"
    days: int


def step_for(points: int) -> Step | None:
    """Return the step `points` active points reach (the highest of SALA_WARNING_STEPS),
    or None below the first."""
    reached = None
    for threshold, action, days in sorted(settings.SALA_WARNING_STEPS):
        if points >= threshold:
            reached = Step(threshold, action, days)
    return reached


@transaction.atomic
def warn_member(
    *,
    member: User,
    acting: Acting,
    points: int,
    post: Post | None = None,
    days: int | None = None,
) -> Warning:
    """Warn `member` for `acting.reason`, worth `points` for `days` (SALA_WARNING_DAYS);
    when the member's active points reach a step of SALA_WARNING_STEPS, hold their posts
    for approval, silence or suspend them for its days (Sala's own action, logged as
    such; a longer one already running is left as it is).

    Raise PermissionDenied outside the rules (permissions.check_warn_member, for the
    post's forum when there is a post) and ValidationError for a warning without a
    reason or with no points.
    """
    if acting.actor is not None:
        forum_id = post.topic.forum_id if post is not None else None
        permissions.check_warn_member(acting.actor, member, forum_id)
    if not acting.reason:
        raise ValidationError({"reason": _("Say why, for the member and the other moderators.")})
    if not 1 <= points <= 100:
        raise ValidationError({"points": _("Give between 1 and 100 points.")})
    member = User.objects.select_for_update().get(pk=member.pk)
    now = timezone.now()
    warning = Warning.objects.create(
        member=member,
        issued_by=acting.actor,
        post=post,
        points=points,
        reason=acting.reason,
        created_at=now,
        expires_at=now + timedelta(days=days or settings.SALA_WARNING_DAYS),
    )
    total = active_points(member)
    _audit_member(acting, "member.warn", member, after={"points": points, "active": total})
    step = step_for(total)
    if step is not None:
        until = now + timedelta(days=step.days)
        reason = _("%(points)s warning points: %(why)s") % {"points": total, "why": acting.reason}
        running: datetime | None = getattr(member, _RESTRICTIONS[step.action].until_field)
        if running is None or running < until:
            _restrict(member, Acting.by_sala(reason), until, step.action)
    return warning


@transaction.atomic
def suspend_member(
    *, member: User, acting: Acting, until: datetime, forum_id: int | None = None
) -> User:
    """Suspend `member` until `until`, with `acting.reason`, which they are shown.

    Raise PermissionDenied outside the rules (permissions.check_suspend_member: for a
    post in forum `forum_id`, its moderators; otherwise global moderators) and
    ValidationError without a reason or for a time past.
    """
    if acting.actor is not None:
        permissions.check_suspend_member(acting.actor, member, forum_id)
    if not acting.reason:
        raise ValidationError({"reason": _("Say why, for the member and the other moderators.")})
    if until <= timezone.now():
        raise ValidationError({"until": _("Choose a time still to come.")})
    member = User.objects.select_for_update().get(pk=member.pk)
    _restrict(member, acting, until, "suspend")
    return member


@transaction.atomic
def lift_suspension(*, member: User, acting: Acting) -> User:
    """End `member`'s suspension, silence and the holding of their posts now."""
    if acting.actor is not None:
        permissions.check_suspend_member(acting.actor, member)
    member = User.objects.select_for_update().get(pk=member.pk)
    fields = []
    for restriction in _RESTRICTIONS.values():
        setattr(member, restriction.until_field, None)
        setattr(member, restriction.reason_field, "")
        fields += [restriction.until_field, restriction.reason_field]
    member.save(update_fields=fields)
    _audit_member(acting, "member.unsuspend", member)
    return member


class _Restriction(NamedTuple):
    """What holding posts, silencing or suspending writes: the member's two fields, the
    log's action."""

    until_field: str
    reason_field: str
    action: str


_RESTRICTIONS = {
    "approve": _Restriction("approval_until", "approval_reason", "member.hold_posts"),
    "silence": _Restriction("silenced_until", "silence_reason", "member.silence"),
    "suspend": _Restriction("suspended_until", "suspension_reason", "member.suspend"),
}


def _restrict(member: User, acting: Acting, until: datetime, kind: str) -> None:
    """Hold the posts of (`kind` "approve"), silence or suspend `member` until `until`,
    for `acting.reason`, logged."""
    until_field, reason_field, action = _RESTRICTIONS[kind]
    was: datetime | None = getattr(member, until_field)
    setattr(member, until_field, until)
    setattr(member, reason_field, acting.reason[:500])
    # save() announces MemberChanged: every process forgets the member it remembered.
    member.save(update_fields=[until_field, reason_field])
    _audit_member(
        acting,
        action,
        member,
        before={until_field: was.isoformat() if was else None},
        after={until_field: until.isoformat()},
    )
