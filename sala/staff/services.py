"""Giving and taking staff roles, each logged in the audit log in its own transaction."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from sala.accounts.models import User
from sala.staff import audit, permissions
from sala.staff.audit import Acting
from sala.staff.models import Role, StaffRole


def record_role_change(acting: Acting, action: str, role: StaffRole) -> None:
    """Record in the audit log that `role` was given, changed or taken."""
    audit.record(
        acting,
        action,
        target_type="staff_role",
        target_id=role.pk,
        target_label=str(role),
        forum_id=role.forum_id,
        subject_id=role.member_id,
        after={"role": role.role, "forum_id": role.forum_id},
    )


@transaction.atomic
def grant_role(
    *, member: User, role: str, acting: Acting, forum_id: int | None = None
) -> StaffRole:
    """Give `member` the role `role` (of forum `forum_id`, for a forum moderator).

    Raise PermissionDenied for anyone but an administrator, ValidationError for a role
    the member holds already or a forum moderator without a forum.
    """
    if acting.actor is not None:
        permissions.check_manage_staff(acting.actor)
    granted = StaffRole(
        role=role,
        member=member,
        forum_id=forum_id if role == Role.FORUM_MODERATOR else None,
        granted_by=acting.actor,
    )
    granted.full_clean(exclude=["granted_by"], validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            granted.save()
    except IntegrityError:
        raise ValidationError(
            _("%(name)s holds that role already.") % {"name": member.name}
        ) from None
    record_role_change(acting, "staff.grant", granted)
    return granted


@transaction.atomic
def revoke_role(*, role: StaffRole, acting: Acting) -> None:
    """Take a role away; an administrator cannot take their own administrator role (so
    the site always keeps one who can give roles)."""
    if acting.actor is not None:
        permissions.check_manage_staff(acting.actor)
        if role.member_id == acting.actor.pk and role.role == Role.ADMIN:
            raise ValidationError(_("You can't take away your own administrator role."))
    record_role_change(acting, "staff.revoke", role)
    role.delete()
