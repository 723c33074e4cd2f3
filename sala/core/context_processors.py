"""Template context every page's frame needs."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, Any]:
    """Return the community's name for the frame, and where pages open live streams."""
    return {"site_name": settings.SALA_SITE_NAME, "live_url": settings.SALA_LIVE_URL}
