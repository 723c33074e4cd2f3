"""Per-request member context: their time zone, and when they were last seen."""

import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from sala.accounts import services


class MemberTimeZoneMiddleware:
    """Show times in the signed-in member's zone and keep their "last seen" current.

    Guests are left untouched: no session is read or created for them, so a guest's
    request writes nothing and sets no cookie.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated:
            try:
                timezone.activate(zoneinfo.ZoneInfo(user.time_zone))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
            services.touch_last_seen(member=user)
        else:
            timezone.deactivate()
        return self.get_response(request)
