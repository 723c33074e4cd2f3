from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ModerationConfig(AppConfig):
    name = "sala.moderation"
    label = "moderation"
    verbose_name = _("Moderation")

    def ready(self) -> None:
        from sala.core import events
        from sala.forums.events import HeldWithdrawn, PostHeld
        from sala.moderation import reports

        events.listen(PostHeld, reports.open_held_item)
        events.listen(HeldWithdrawn, reports.close_withdrawn_item)
