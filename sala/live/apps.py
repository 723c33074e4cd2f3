from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LiveConfig(AppConfig):
    name = "sala.live"
    label = "live"
    verbose_name = _("Live")

    def ready(self) -> None:
        # Pages of the apps below live (profiles) are answered from the page cache above
        # OnlineMiddleware: their hits still count the guest online.
        from sala.core import cached_reads
        from sala.live import online

        cached_reads.record_with(online.record_guest_online)
