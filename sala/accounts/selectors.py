"""Reads on members: what profile pages need."""

from django.db.models import QuerySet
from django.http import Http404

from sala.accounts.models import User


def get_member_by_username(username: str) -> User:
    """Return the active member named `username`, whatever its case; raise Http404 if none."""
    member = find_member(username)
    if member is None:
        raise Http404("No such member.")
    return member


def list_newest_members(limit: int = 10) -> QuerySet[User]:
    """Return the most recently joined active members, newest first."""
    return User.objects.filter(is_active=True).order_by("-date_joined")[:limit]


def find_member(username: str) -> User | None:
    """Return the active member named `username` (any case), or None."""
    return User.objects.filter(username__iexact=username, is_active=True).first()
