"""What a guest's read still records when the page cache answers it: the middleware
below the cache never runs for it, so the apps that own those middleware register here
what they would have recorded (live: who is online), and a page of an app below them
passes `record` as its `on_hit` (sala.core.page_cache.depend_on).
"""

from collections.abc import Callable

from django.http import HttpRequest

_recorders: list[Callable[[HttpRequest], None]] = []


def record_with(recorder: Callable[[HttpRequest], None]) -> None:
    """Call `recorder(request)` for every guest read `record` is told of (once, at start-up)."""
    _recorders.append(recorder)


def record(request: HttpRequest) -> None:
    """Record a guest's read answered from the page cache, as a rendered one would be."""
    for recorder in _recorders:
        recorder(request)
