"""The session and the member behind a request, remembered by each process.

A signed-in page needs the member's session and their row, two queries on every request
(a third of a member's page, measured). Each process remembers both, each under a
generation of its own (sala.core.page_cache's generations, which the guest page cache
keeps in Redis, mirrored in every process, or in a file shared by this machine's
processes): saving or deleting a session bumps `session_generation`; a member's row
saved or deleted (a new password, being made inactive, a new name...) is announced as
MemberChanged, whose listener here bumps `member_generation`.
A process answers from memory only while the generation it read before loading the row
is still current, so a sign-out, a password change or an admin's ban reaches every
process as soon as the bump does (with Redis, when its message arrives: a millisecond or
so), not when a memo expires.

The generation is read before the row is loaded, never after: a change committed in
between bumps a generation already read, and the copy is refused at the next request.
When the generations cannot be read (Redis away), every request loads the rows again.
The memos still expire after REMEMBER_SECONDS, which bounds how long a bump lost to a
Redis outage can leave another process with an old copy.

Settings: SESSION_ENGINE = "sala.accounts.remembered"; AUTHENTICATION_BACKENDS name the
two backends below.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from allauth.account import auth_backends as allauth_backends
from django.contrib.auth import backends as django_backends
from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.utils import timezone

from sala.accounts.events import MemberChanged
from sala.accounts.models import User
from sala.core import local_memo, page_cache

#: How long a remembered session or member may be used at most, however current.
REMEMBER_SECONDS = 60.0

_sessions = local_memo.memo(seconds=REMEMBER_SECONDS, size=20_000)
_members = local_memo.memo(seconds=REMEMBER_SECONDS, size=20_000)

#: The member's columns, as stored, in the order `User.from_db` takes them.
_MEMBER_COLUMNS = tuple(field.attname for field in User._meta.concrete_fields)


def session_generation(session_key: str) -> str:
    return f"session:{session_key}"


def member_generation(member_id: int) -> str:
    return f"member:{member_id}"


def _read(name: str) -> tuple[int, ...] | None:
    return page_cache.get_generations().read((name,))


@dataclass(frozen=True)
class _SessionRow:
    generations: tuple[int, ...]
    data: str
    expires: datetime


class SessionStore(db.SessionStore):
    """Django's database sessions, each remembered while its generation stands."""

    def _get_session_from_db(self) -> Session | None:
        key = self.session_key
        if not key:
            return None
        values = _read(session_generation(key))
        if values is None:
            return self._load_row()
        known = _sessions.get(key)
        if isinstance(known, _SessionRow) and known.generations == values:
            if known.expires > timezone.now():
                return Session(session_key=key, session_data=known.data, expire_date=known.expires)
            _sessions.put(key, None)
        row = self._load_row()
        if row is not None:
            _sessions.put(key, _SessionRow(values, row.session_data, row.expire_date))
        return row

    def _load_row(self) -> Session | None:
        # Django's own lookup (private, so absent from its type stubs).
        row: Session | None = super()._get_session_from_db()  # type: ignore[misc]
        return row

    def save(self, must_create: bool = False) -> None:
        super().save(must_create)
        if self.session_key:
            _forget_session(self.session_key)

    def delete(self, session_key: str | None = None) -> None:
        session_key = session_key or self.session_key
        super().delete(session_key)
        if session_key:
            _forget_session(session_key)


def _forget_session(session_key: str) -> None:
    _sessions.put(session_key, None)
    page_cache.bump_on_commit(session_generation(session_key))


@dataclass(frozen=True)
class _MemberRow:
    generations: tuple[int, ...]
    columns: tuple[Any, ...]

    def member(self) -> User:
        return User.from_db("default", _MEMBER_COLUMNS, self.columns)


def _remembered_member(user_id: Any, load: Callable[[], Any]) -> Any:
    """Return the member `load` would, from memory while their generation stands."""
    try:
        member_id = User._meta.pk.to_python(user_id)
    except ValidationError:  # what Django's own lookup would refuse: let it
        return load()
    values = _read(member_generation(member_id))
    if values is None:
        return load()
    known = _members.get(member_id)
    if isinstance(known, _MemberRow) and known.generations == values:
        return known.member()
    member = load()
    if isinstance(member, User):
        columns = tuple(member.__dict__[column] for column in _MEMBER_COLUMNS)
        _members.put(member_id, _MemberRow(values, columns))
    return member


class _RemembersMembers:
    """What both backends add to their `get_user`: the member from memory."""

    def get_user(self, user_id: Any) -> Any:
        load = super().get_user  # type: ignore[misc]  # the backend's, next in line
        member = _remembered_member(user_id, lambda: load(user_id))
        can_authenticate = self.user_can_authenticate  # type: ignore[attr-defined]
        return member if member is not None and can_authenticate(member) else None


class ModelBackend(_RemembersMembers, django_backends.ModelBackend):
    """Django's backend (the admin's sign-in by username), members remembered."""


class AuthenticationBackend(_RemembersMembers, allauth_backends.AuthenticationBackend):  # type: ignore[misc]
    """allauth's backend (sign-in by username or email), members remembered."""


def forget_member(event: MemberChanged) -> None:
    """Make every process load the member's row again (the listener of MemberChanged)."""
    _members.put(event.member_id, None)
    page_cache.get_generations().bump([member_generation(event.member_id)])
