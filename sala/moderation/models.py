"""Reports of posts and the one review queue they land in, with moderators' notes."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Reason(models.TextChoices):
    SPAM = "spam", _("Spam or advertising")
    ABUSIVE = "abusive", _("Abusive or harassing")
    OFF_TOPIC = "off_topic", _("Off topic")
    RULES = "rules", _("Breaks the rules")
    OTHER = "other", _("Something else")


class State(models.TextChoices):
    OPEN = "open", _("Open")
    IN_REVIEW = "in_review", _("In review")
    RESOLVED = "resolved", _("Resolved")
    REJECTED = "rejected", _("Rejected")


#: What each way of resolving an item is called on the queue.
OUTCOMES = {
    "hide": _("post hidden"),
    "delete": _("post deleted"),
    "warn": _("post hidden, author warned"),
    "suspend": _("post hidden, author suspended"),
    "dismiss": _("reports dismissed"),
    "approve": _("approved and published"),
    "reject": _("rejected"),
    "withdrawn": _("withdrawn by its author"),
}

#: The states an item is still waiting for a moderator in.
WAITING = (State.OPEN, State.IN_REVIEW)


class ReviewItem(models.Model):
    """One thing waiting for moderators, and why: a post and its reports, or a post held
    for approval (`held`, and its reason).

    A post has at most one waiting item: new reports join it. Once resolved or rejected
    the item stays, as a record, and a later report opens a new one.
    """

    post = models.ForeignKey(
        "forums.Post",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="review_items",
        verbose_name=_("post"),
    )
    held = models.OneToOneField(
        "forums.HeldPost",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="review_item",
        verbose_name=_("post awaiting approval"),
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    #: The reports' weights summed: what the queue sorts by, heaviest first.
    weight = models.FloatField(_("weight"), default=0)
    report_count = models.PositiveIntegerField(_("reports"), default=0)
    #: Whether Sala hid the post as enough reports came in.
    auto_hidden = models.BooleanField(_("hidden after reports"), default=False)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assignee"),
    )
    created_at = models.DateTimeField(_("opened"), default=timezone.now)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolved by"),
    )
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    #: What was done, as moderators and the log say it ("post.hide", "dismiss"...).
    outcome = models.CharField(_("outcome"), max_length=40, blank=True)

    class Meta:
        verbose_name = _("review item")
        verbose_name_plural = _("review queue")
        constraints = [
            models.UniqueConstraint(
                fields=["post"],
                condition=models.Q(state__in=["open", "in_review"]),
                name="moderation_one_waiting_item_per_post",
            ),
            # A reported post or a held one, never both nor neither.
            models.CheckConstraint(
                condition=models.Q(post__isnull=False, held__isnull=True)
                | models.Q(post__isnull=True, held__isnull=False),
                name="moderation_item_post_or_held",
            ),
        ]
        indexes = [
            models.Index(
                fields=["-weight", "created_at"],
                condition=models.Q(state__in=["open", "in_review"]),
                name="moderation_queue_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.post or self.held} ({self.get_state_display()})"

    @property
    def forum_id(self) -> int:
        """Return the id of the forum the item's post is (or would be) in."""
        if self.held is not None:
            return self.held.forum_id
        assert self.post is not None  # noqa: S101  (the check constraint: one of the two)
        return self.post.topic.forum_id

    @property
    def is_waiting(self) -> bool:
        return self.state in WAITING

    @property
    def outcome_label(self) -> str:
        return str(OUTCOMES.get(self.outcome, self.outcome))


class Report(models.Model):
    """A member's report of a post; the post's author never learns who made it."""

    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="reports")
    post = models.ForeignKey("forums.Post", on_delete=models.CASCADE, related_name="+")
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices)
    text = models.CharField(_("details"), max_length=1000, blank=True)
    #: What the reporter's standing made this report count for.
    weight = models.FloatField(default=1)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        constraints = [
            models.UniqueConstraint(fields=["post", "reporter"], name="moderation_report_once"),
        ]

    def __str__(self) -> str:
        return f"{self.post}: {self.get_reason_display()}"


class ReviewNote(models.Model):
    """A note between moderators on a review item."""

    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    text = models.CharField(_("note"), max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.text[:50]


class Warning(models.Model):
    """A warning to a member, worth points until it expires; enough active points take
    the steps of SALA_WARNING_STEPS (a suspension)."""

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="warnings",
        verbose_name=_("member"),
    )
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    post = models.ForeignKey(
        "forums.Post", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    points = models.PositiveSmallIntegerField(_("points"))
    reason = models.CharField(_("reason"), max_length=500)
    created_at = models.DateTimeField(_("given"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"))

    class Meta:
        verbose_name = _("warning")
        verbose_name_plural = _("warnings")
        indexes = [models.Index(fields=["member", "expires_at"], name="moderation_warning_active")]

    def __str__(self) -> str:
        return f"{self.member}: {self.points} ({self.reason[:40]})"


class BanKind(models.TextChoices):
    USERNAME = "username", _("Username")
    EMAIL = "email", _("Email address")
    ADDRESS = "address", _("IP address or range")


class Ban(models.Model):
    """A ban on usernames, email addresses (`*` wildcards: `*@spam.example`) or an IP
    address or CIDR range, until it expires; a registration-only ban stops sign-ups
    alone, leaving members already there be."""

    kind = models.CharField(_("on"), max_length=10, choices=BanKind.choices)
    #: Lower-cased; an address is stored as a network (`203.0.113.0/24`, `198.51.100.7/32`).
    value = models.CharField(_("value"), max_length=254)
    registration_only = models.BooleanField(
        _("registration only"),
        default=False,
        help_text=_("Stop new sign-ups only; members already signed up are left be."),
    )
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    user_message = models.CharField(_("message for the user"), max_length=500, blank=True)
    staff_note = models.CharField(_("note for staff"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("banned"), default=timezone.now)

    class Meta:
        verbose_name = _("ban")
        verbose_name_plural = _("bans")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"


class SpammerCleanup(models.Model):
    """A member removed as a spammer in one action, with all it did, so that it can be
    undone for SALA_SPAMMER_UNDO_DAYS (sala.moderation.spammers)."""

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    acted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("cleaned up"), default=timezone.now)
    reason = models.CharField(_("reason"), max_length=500)
    #: What the clean-up did, each undone in turn: the first posts of the topics it
    #: deleted, the replies it hid, the bans and the spam domains it made.
    deleted_topic_posts = models.JSONField(default=list)
    hidden_posts = models.JSONField(default=list)
    bans = models.JSONField(default=list)
    spam_domains = models.JSONField(default=list)
    #: The member's password hash before it was made unusable (which signed them out).
    password = models.CharField(max_length=128, blank=True)
    undone_at = models.DateTimeField(_("undone"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        verbose_name = _("spammer clean-up")
        verbose_name_plural = _("spammer clean-ups")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.member_id} cleaned up at {self.created_at:%Y-%m-%d %H:%M}"
