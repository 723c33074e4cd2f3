from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ForumsConfig(AppConfig):
    name = "sala.forums"
    label = "forums"
    verbose_name = _("Forums")

    def ready(self) -> None:
        from sala.forums import listeners, live_streams

        listeners.register()
        live_streams.register()
