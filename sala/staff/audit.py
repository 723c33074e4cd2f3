"""The audit log: every staff action, and every one Sala takes on its own, recorded in
the action's own transaction (so an action rolled back leaves no entry, and no action
commits without one)."""

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from sala.accounts.models import User
from sala.core.client_address import client_address
from sala.staff.models import AuditEntry


@dataclass(frozen=True)
class Acting:
    """Who does an action, why, and from where: what each entry of the log says of it.

    `actor` None is Sala itself (a post hidden after reports, a step of warnings).
    """

    actor: User | None
    reason: str = ""
    address: str | None = None

    @classmethod
    def from_request(cls, request: HttpRequest, actor: User, reason: str = "") -> "Acting":
        """Return the acting of `actor` through `request`, with its client's address."""
        return cls(actor=actor, reason=reason.strip(), address=client_address(request) or None)

    @classmethod
    def by_sala(cls, reason: str) -> "Acting":
        """Return the acting of Sala itself, for `reason`."""
        return cls(actor=None, reason=reason)


def record(
    acting: Acting,
    action: str,
    *,
    target_type: str,
    target_id: int,
    target_label: str,
    forum_id: int | None = None,
    subject_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Write an entry of the log for `action` (a verb such as "post.hide") done on the
    object `target_type` `target_id`; call it inside the action's transaction."""
    actor = acting.actor
    return AuditEntry.objects.create(
        actor=actor,
        actor_name=actor.username if actor is not None else "",
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label[:200],
        forum_id=forum_id,
        subject_id=subject_id,
        reason=acting.reason,
        before=before or {},
        after=after or {},
        address=acting.address,
    )
