"""Who is online on the whole site: the forum index's "who is online" block.

Every page a visitor reads records them under the site's presence key (topic 0), so
the count covers the last 15 minutes of the whole community. The record ("most ever
online") is kept in the database and written only on the rare request that beats it.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from sala.accounts.models import User
from sala.live.models import OnlineRecord
from sala.live.presence import get_presence, record_visit

#: The presence key that stands for "anywhere on the site".
SITE = 0
#: Paths whose requests are not page reads.
_NOT_PAGES = ("/static/", "/media/", "/live/", "/admin/")


@dataclass(frozen=True)
class Online:
    members: list[User]
    guest_count: int
    record: OnlineRecord

    @property
    def total(self) -> int:
        return len(self.members) + self.guest_count


def get_online() -> Online:
    """Return the members and guests online now, and the record, raising it if beaten."""
    browsing = get_presence().browsing(SITE)
    found = User.objects.in_bulk(browsing.member_ids)
    members = [found[pk] for pk in browsing.member_ids if pk in found]
    record, _created = OnlineRecord.objects.get_or_create(pk=1)
    total = len(members) + browsing.guest_count
    if total > record.count:
        # Guarded by the old count so two processes racing only raise it, never lower it.
        OnlineRecord.objects.filter(pk=1, count__lt=total).update(
            count=total, reached_at=timezone.now()
        )
        record.count, record.reached_at = total, timezone.now()
    return Online(members=members, guest_count=browsing.guest_count, record=record)


#: Seconds within which a visitor's pages are not recorded in the site's presence again:
#: "who is online" looks back 15 minutes.
ONLINE_REFRESH_SECONDS = 30.0


def record_guest_online(request: HttpRequest) -> None:
    """Record a guest's page read answered from the page cache, as OnlineMiddleware does."""
    if request.method == "GET":
        record_visit(request, SITE, None, every=ONLINE_REFRESH_SECONDS)


class OnlineMiddleware:
    """Record every page read under the site's presence, for "who is online"."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Recorded before the page is made, so a reader counts themselves among the online.
        if request.method == "GET" and not request.path.startswith(_NOT_PAGES):
            member = request.user if isinstance(request.user, User) else None
            record_visit(request, SITE, member, every=ONLINE_REFRESH_SECONDS)
        return self.get_response(request)
