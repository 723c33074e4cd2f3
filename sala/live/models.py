"""What the live side keeps in the database: the most members and guests ever online."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class OnlineRecord(models.Model):
    """The most visitors online at once, and when; one row, written only when beaten."""

    count = models.PositiveIntegerField(_("most online"), default=0)
    reached_at = models.DateTimeField(_("reached"), default=timezone.now)

    class Meta:
        verbose_name = _("online record")

    def __str__(self) -> str:
        return f"{self.count} at {self.reached_at:%Y-%m-%d %H:%M}"
