"""The live streams' addresses as Django sees them: reached only where no live server runs.

Streams are served by `sala.live.app` (plain ASGI), which `sala/asgi.py` puts in front
of Django. A request that reaches these views came through a WSGI worker: it answers 204,
which tells EventSource not to retry, so the page simply stays as it was rendered.
Deployments route /live/ to the live server instead (see docs/subsystems/live.md).
"""

from django.http import HttpRequest, HttpResponse

from sala.accounts.models import User
from sala.live.kinds import StreamKind


def stream(request: HttpRequest, target_id: int, kind: StreamKind) -> HttpResponse:
    """Answer 404 for a target of `kind` that cannot be read, else 204: no stream here."""
    reader = request.user if isinstance(request.user, User) and request.user.is_active else None
    kind.check(target_id, reader)
    return HttpResponse(status=204)
