"""One address per registered kind of stream (`sala.live.kinds`), named `<kind>_stream`:
`live:topic_stream` is `/live/t/<id>/`. The kinds are registered by the apps' ready(),
which runs before any URL is resolved."""

from django.urls import URLPattern, path

from sala.live import views
from sala.live.kinds import stream_kinds

app_name = "live"


def _patterns() -> list[URLPattern]:
    return [
        path(
            f"live/{kind.letter}/<int:target_id>/",
            views.stream,
            {"kind": kind},
            name=f"{kind.name}_stream",
        )
        for kind in stream_kinds()
    ]


urlpatterns = _patterns()
