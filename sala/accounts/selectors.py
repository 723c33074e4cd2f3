"""Reads on members: what profile pages need."""

from django.db.models import QuerySet, Value
from django.db.models.functions import Lower
from django.http import Http404

from sala.accounts.models import User


def get_member_id_by_username(username: str) -> int:
    """Return the id of the active member named `username`, whatever its case; raise
    Http404 if none."""
    member_id = _named(username).values_list("pk", flat=True).first()
    if member_id is None:
        raise Http404("No such member.")
    return member_id


def get_member(member_id: int) -> User:
    """Return the active member `member_id`; raise Http404 if none (since deactivated)."""
    member = User.objects.filter(pk=member_id, is_active=True).first()
    if member is None:
        raise Http404("No such member.")
    return member


def list_newest_members(limit: int = 10) -> QuerySet[User]:
    """Return the most recently joined active members, newest first."""
    return User.objects.filter(is_active=True).order_by("-date_joined")[:limit]


def find_member(username: str) -> User | None:
    """Return the active member named `username` (any case), or None."""
    return _named(username).first()


def _named(username: str) -> QuerySet[User]:
    # LOWER(username) = LOWER(%s) is what the unique index on LOWER(username)
    # (accounts_user_username_ci_unique) is built on, so the lookup is an index probe;
    # `username__iexact` compiles to UPPER(...) on PostgreSQL and LIKE on SQLite, which
    # neither database can match to that index: a scan of every member per lookup. Both
    # sides are lowered by the database, so the lookup folds case exactly as the index does.
    return User.objects.alias(username_lower=Lower("username")).filter(
        username_lower=Lower(Value(username)), is_active=True
    )
