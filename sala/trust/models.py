"""What the spam defence remembers: the domains spammers link to."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SpamDomain(models.Model):
    """A domain spammers link to, marked by a moderator's spammer clean-up or by hand:
    links to it weigh against a post."""

    #: Lower-cased, without "www.": `cheap-watches.example`.
    domain = models.CharField(_("domain"), max_length=253, unique=True)
    marked_at = models.DateTimeField(_("marked"), default=timezone.now)
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("spam domain")
        verbose_name_plural = _("spam domains")
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain
