"""Where news comes in from: feed sources, the articles they brought, shared-link drafts."""

import uuid

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sala.forums.models import Forum, Topic


class FeedSource(models.Model):
    """A feed that Sala polls, turning each new item into a topic in `forum`."""

    url = models.URLField(_("feed address"), max_length=2000, unique=True)
    title = models.CharField(_("title"), max_length=200, blank=True)
    forum = models.ForeignKey(
        Forum, on_delete=models.PROTECT, related_name="feed_sources", verbose_name=_("forum")
    )
    poster = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("posting member"),
        help_text=_("The member the topics are posted as, e.g. a News account."),
    )
    interval_minutes = models.PositiveIntegerField(
        _("poll every (minutes)"), default=30, validators=[MinValueValidator(5)]
    )
    full_article = models.BooleanField(
        _("import the full article"),
        default=False,
        help_text=_("Fetch each item's page and import its article; else the feed's summary."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    # Conditional GET: what the feed's server said last time.
    etag = models.CharField(max_length=500, blank=True, editable=False)
    last_modified = models.CharField(max_length=100, blank=True, editable=False)
    next_poll_at = models.DateTimeField(_("next poll"), default=timezone.now, db_index=True)
    last_polled_at = models.DateTimeField(_("last polled"), null=True, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True, editable=False)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True, editable=False)
    imported_count = models.PositiveIntegerField(_("imported"), default=0, editable=False)
    created_at = models.DateTimeField(_("added"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["forum", "url"]
        verbose_name = _("feed source")
        verbose_name_plural = _("feed sources")

    def __str__(self) -> str:
        return self.title or self.url


class ImportedItem(models.Model):
    """An article brought in once: by a feed (under its GUID) or by a member's link.

    Its canonical address is unique, so the same article found again (in another feed,
    under a new GUID, shared by a member) is recognised and not imported twice.
    """

    source = models.ForeignKey(
        FeedSource, on_delete=models.SET_NULL, null=True, blank=True, related_name="items"
    )
    guid = models.CharField(max_length=1000, blank=True)
    canonical_url = models.URLField(max_length=2000, unique=True)
    topic = models.ForeignKey(
        Topic, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("imported article")
        verbose_name_plural = _("imported articles")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "guid"],
                condition=~models.Q(guid=""),
                name="news_item_guid_once_per_source",
            ),
        ]

    def __str__(self) -> str:
        return self.canonical_url


class LinkDraft(models.Model):
    """A member's shared link while its article is fetched, then the draft they edit.

    The fetch runs as a background task; the member's page waits on this row.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("fetching")
        READY = "ready", _("ready")
        FAILED = "failed", _("failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    forum = models.ForeignKey(Forum, on_delete=models.CASCADE, related_name="+")
    url = models.URLField(max_length=2000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    title = models.CharField(max_length=200, blank=True)
    text = models.TextField(blank=True)
    source_url = models.URLField(max_length=2000, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("shared link draft")
        verbose_name_plural = _("shared link drafts")

    def __str__(self) -> str:
        return self.url
