from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class TrustConfig(AppConfig):
    name = "sala.trust"
    label = "trust"
    verbose_name = _("Trust and spam defence")

    def ready(self) -> None:
        from sala.trust.checks import check_rate_limits

        checks.register(check_rate_limits)
