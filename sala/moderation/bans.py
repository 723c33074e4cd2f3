"""Bans on usernames, email addresses and IP ranges: made and lifted by moderators,
checked at sign-up, at sign-in and on every request of a signed-in member (sessions
already open too: the member is signed out and told why).

Every process keeps the active bans in memory, read again within a few seconds of a
change anywhere (`_active`), so checking a request costs no query: a ban reaches every
open session within five seconds, and this process's own at once.
"""

import fnmatch
import ipaddress
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from sala.accounts.models import User
from sala.core import local_memo
from sala.moderation.models import Ban, BanKind
from sala.staff import audit, permissions
from sala.staff.audit import Acting

type Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class ActiveBan:
    """A ban as requests are checked against it."""

    pk: int
    kind: str
    value: str
    registration_only: bool
    expires_at: datetime | None
    user_message: str
    network: Network | None = None

    def matches(self, *, username: str, email: str, address: str) -> bool:
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return False
        if self.kind == BanKind.USERNAME:
            return bool(username) and fnmatch.fnmatchcase(username.lower(), self.value)
        if self.kind == BanKind.EMAIL:
            return bool(email) and fnmatch.fnmatchcase(email.lower(), self.value)
        if self.network is None or not address:
            return False
        try:
            return ipaddress.ip_address(address) in self.network
        except ValueError:
            return False

    @property
    def message(self) -> str:
        return self.user_message or _("This account or address is banned from the community.")


_memo = local_memo.memo(seconds=5)


def _active() -> tuple[ActiveBan, ...]:
    """Return the bans in force, as this process read them in the last few seconds."""
    known = _memo.get("bans")
    if isinstance(known, tuple):
        return known
    rows = Ban.objects.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
    bans = tuple(
        ActiveBan(
            pk=ban.pk,
            kind=ban.kind,
            value=ban.value,
            registration_only=ban.registration_only,
            expires_at=ban.expires_at,
            user_message=ban.user_message,
            network=ipaddress.ip_network(ban.value) if ban.kind == BanKind.ADDRESS else None,
        )
        for ban in rows
    )
    _memo.put("bans", bans)
    return bans


def forget() -> None:
    """Make this process read the bans again at its next check."""
    _memo.clear()


def find_ban(
    *, username: str = "", email: str = "", address: str = "", signing_up: bool = False
) -> ActiveBan | None:
    """Return the ban in force on any of these, or None; registration-only bans count
    only `signing_up`."""
    for ban in _active():
        if ban.registration_only and not signing_up:
            continue
        if ban.matches(username=username, email=email, address=address):
            return ban
    return None


def find_member_ban(member: User, address: str) -> ActiveBan | None:
    """Return the ban in force on a signed-in member (name, email or address), or None;
    never for staff, whom a moderator cannot ban."""
    ban = find_ban(username=member.username, email=member.email, address=address)
    if ban is None or permissions.powers_of(member).is_staff:
        return None
    return ban


def clean_value(kind: str, value: str) -> str:
    """Return a ban's value as stored; raise ValidationError, at the field, for one that
    cannot match what it names."""
    value = value.strip().lower()
    if not value:
        raise ValidationError({"value": _("Say what to ban.")})
    if kind == BanKind.EMAIL and "@" not in value:
        raise ValidationError(
            {"value": _("An email ban needs an @: a whole address, or *@spam.example.")}
        )
    if kind == BanKind.ADDRESS:
        try:
            return str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValidationError(
                {"value": _("Give an IP address (203.0.113.7) or a range (203.0.113.0/24).")}
            ) from None
    if kind == BanKind.EMAIL or kind == BanKind.USERNAME:
        if value.strip("*") == "":
            raise ValidationError({"value": _("A ban on everyone would lock the doors.")})
        return value
    raise ValidationError({"kind": _("Choose what the ban is on.")})


def _staff_caught(kind: str, value: str) -> list[str]:
    """Return the usernames of staff the ban would catch (by name or email)."""
    if kind == BanKind.ADDRESS:
        return []
    field = "username" if kind == BanKind.USERNAME else "email"
    caught = []
    for member in User.objects.filter(
        Q(staff_roles__isnull=False) | Q(groups__staff_roles__isnull=False) | Q(is_superuser=True)
    ).distinct():
        if fnmatch.fnmatchcase(str(getattr(member, field)).lower(), value):
            caught.append(member.username)
    return caught


@transaction.atomic
def create_ban(
    *,
    acting: Acting,
    kind: str,
    value: str,
    expires_at: datetime | None = None,
    registration_only: bool = False,
    user_message: str = "",
    staff_note: str = "",
) -> Ban:
    """Ban `value` (a username, an email pattern, an address or range) until `expires_at`.

    Raise PermissionDenied outside the rules (permissions.check_ban), or for a ban that
    would catch staff made by anyone but an administrator; ValidationError at the field
    for a value that cannot match, or an expiry past.
    """
    actor = acting.actor
    if actor is not None:
        permissions.check_ban(actor)
    value = clean_value(kind, value)
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": _("Choose a time still to come, or none.")})
    caught = _staff_caught(kind, value)
    if caught and not (actor is not None and permissions.powers_of(actor).admin):
        raise PermissionDenied(
            _("This ban would catch staff (%(names)s): only administrators can ban staff.")
            % {"names": ", ".join(caught)}
        )
    ban = Ban.objects.create(
        kind=kind,
        value=value,
        expires_at=expires_at,
        registration_only=registration_only,
        user_message=user_message.strip(),
        staff_note=staff_note.strip(),
        created_by=actor,
    )
    _audit(acting, "ban.create", ban)
    transaction.on_commit(forget)
    return ban


@transaction.atomic
def lift_ban(*, ban: Ban, acting: Acting) -> None:
    """Lift a ban now (it stays in the log)."""
    if acting.actor is not None:
        permissions.check_ban(acting.actor)
    _audit(acting, "ban.lift", ban)
    ban.delete()
    transaction.on_commit(forget)


def _audit(acting: Acting, action: str, ban: Ban) -> None:
    audit.record(
        acting,
        action,
        target_type="ban",
        target_id=ban.pk,
        target_label=str(ban)[:200],
        after={
            "kind": ban.kind,
            "value": ban.value,
            "registration_only": ban.registration_only,
            "expires_at": ban.expires_at.isoformat() if ban.expires_at else None,
            "staff_note": ban.staff_note,
        },
    )
