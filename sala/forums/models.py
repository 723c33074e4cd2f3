"""Categories, forums, topics and posts: what members read and write."""

import uuid
from datetime import datetime

from django.conf import settings
from django.core.validators import URLValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import iri_to_uri
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from sala.forums.querysets import PostQuerySet, TopicQuerySet

#: Posts shown on one page of a topic.
POSTS_PER_PAGE = 20
#: Topics shown on one page of a forum.
TOPICS_PER_PAGE = 25


def validate_source_url(url: str) -> str:
    """Return `url` as a link-safe http(s) address; raise ValidationError otherwise.

    Quotes and angle brackets are percent-encoded, so the address is safe in any
    attribute and valid HTML wherever it is shown.
    """
    URLValidator(schemes=["http", "https"])(url)
    return iri_to_uri(url)


def make_slug(title: str) -> str:
    """Return the URL slug for `title`: lowercase words joined by hyphens, any script."""
    return slugify(title, allow_unicode=True)[:80].strip("-") or "topic"


class Category(models.Model):
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.name


class Forum(models.Model):
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="forums", verbose_name=_("category")
    )
    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=100, allow_unicode=True)
    description = models.TextField(_("description"), blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    approve_new_topics = models.BooleanField(
        _("approve every new topic"),
        default=False,
        help_text=_("New topics wait for its moderators' approval before anyone else sees them."),
    )
    # Counters kept by the services in the write's own transaction.
    topic_count = models.PositiveIntegerField(_("topics"), default=0, editable=False)
    post_count = models.PositiveIntegerField(_("posts"), default=0, editable=False)
    last_post = models.ForeignKey(
        "Post", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )

    class Meta:
        ordering = ["category__position", "position", "id"]
        verbose_name = _("forum")
        verbose_name_plural = _("forums")

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        if not self.slug:
            self.slug = make_slug(self.name)
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def get_absolute_url(self) -> str:
        return reverse("forums:forum", kwargs={"forum_id": self.pk, "slug": self.slug})


class Topic(models.Model):
    forum = models.ForeignKey(
        Forum, on_delete=models.PROTECT, related_name="topics", verbose_name=_("forum")
    )
    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=80, allow_unicode=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="topics"
    )
    source_url = models.URLField(_("source"), max_length=2000, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    is_pinned = models.BooleanField(_("pinned"), default=False)
    is_locked = models.BooleanField(_("locked"), default=False)
    is_deleted = models.BooleanField(_("deleted"), default=False)
    #: The topic this one was merged into: its address sends readers there.
    merged_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    #: Closed to replies until then (a timed close); reopens by itself once it passes.
    closed_until = models.DateTimeField(_("closed until"), null=True, blank=True)
    # Counters kept by the services; never recounted on the read path.
    last_post_at = models.DateTimeField(_("last activity"), default=timezone.now)
    last_poster = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )
    #: Highest post number handed out; numbers are never reused, so links stay right.
    last_number = models.PositiveIntegerField(default=0, editable=False)
    reply_count = models.PositiveIntegerField(_("replies"), default=0, editable=False)
    view_count = models.PositiveIntegerField(_("views"), default=0, editable=False)

    objects = TopicQuerySet.as_manager()

    class Meta:
        verbose_name = _("topic")
        verbose_name_plural = _("topics")
        indexes = [
            # The forum page reads pinned topics, then the rest by last activity, by
            # walking this index from a (last_post_at, id) key: no OFFSET scans.
            models.Index(
                fields=["forum", "is_deleted", "is_pinned", "-last_post_at", "-id"],
                name="forums_topic_listing",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("forums:topic", kwargs={"topic_id": self.pk, "slug": self.slug})

    @property
    def reopens_at(self) -> datetime | None:
        """Return when a topic closed for a time opens again; None when it is not."""
        if self.closed_until is not None and self.closed_until > timezone.now():
            return self.closed_until
        return None

    @property
    def page_count(self) -> int:
        """Return how many pages the topic's posts fill."""
        return max(1, -(-self.last_number // POSTS_PER_PAGE))


def page_of(number: int) -> int:
    """Return the topic page that shows post `number`."""
    return (number - 1) // POSTS_PER_PAGE + 1


class Post(models.Model):
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="posts")
    #: Position in the topic, from 1, dense: page N holds numbers (N-1)*20+1 .. N*20.
    number = models.PositiveIntegerField(_("number"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="posts"
    )
    text = models.TextField(_("text"))
    #: `text` cooked into sanitised HTML when written; pages show this, never `text`.
    html = models.TextField(editable=False)
    created_at = models.DateTimeField(_("posted"), default=timezone.now)
    edited_at = models.DateTimeField(_("edited"), null=True, blank=True, editable=False)
    edit_count = models.PositiveIntegerField(default=0, editable=False)
    is_deleted = models.BooleanField(_("deleted"), default=False)
    #: Hidden by moderators (or by reports, pending review): shown to its author and the
    #: forum's moderators, marked; to everyone else, a line saying it is hidden.
    is_hidden = models.BooleanField(_("hidden"), default=False)
    hidden_reason = models.CharField(_("why hidden"), max_length=500, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    hidden_at = models.DateTimeField(null=True, blank=True, editable=False)
    recommended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    recommended_at = models.DateTimeField(null=True, blank=True, editable=False)
    #: The key the posting form carried, so a repeated submission finds this post again.
    submission_key = models.UUIDField(null=True, blank=True, editable=False)

    objects = PostQuerySet.as_manager()

    class Meta:
        verbose_name = _("post")
        verbose_name_plural = _("posts")
        constraints = [
            models.UniqueConstraint(fields=["topic", "number"], name="forums_post_number"),
            models.UniqueConstraint(
                fields=["author", "submission_key"], name="forums_post_submission_once"
            ),
        ]
        indexes = [
            models.Index(
                fields=["topic", "recommended_at"],
                name="forums_post_recommended",
                condition=models.Q(recommended_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.topic} #{self.number}"

    def get_absolute_url(self) -> str:
        return reverse(
            "forums:post",
            kwargs={"topic_id": self.topic_id, "slug": self.topic.slug, "number": self.number},
        )

    @property
    def page(self) -> int:
        """Return the topic page this post is on."""
        return page_of(self.number)

    @property
    def page_url(self) -> str:
        """Return the address of the topic page that shows this post, scrolled to it:
        where a write lands, straight there rather than through the permalink."""
        suffix = f"?page={self.page}" if self.page > 1 else ""
        return f"{self.topic.get_absolute_url()}{suffix}#post-{self.number}"

    @property
    def is_first(self) -> bool:
        return self.number == 1


class PostRevision(models.Model):
    """A post's text as it was before an edit."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    text = models.TextField()
    html = models.TextField()
    title = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    editor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    #: Why the edit that replaced this version was made (asked of moderators editing
    #: another member's post).
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["post", "number"]
        constraints = [
            models.UniqueConstraint(fields=["post", "number"], name="forums_revision_number"),
        ]

    def __str__(self) -> str:
        return f"{self.post} revision {self.number}"


def new_submission_key() -> uuid.UUID:
    """Return a fresh key for a posting form."""
    return uuid.uuid4()


class Upload(models.Model):
    """An image a member uploaded for their posts, stored re-encoded."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads"
    )
    file = models.ImageField(upload_to="uploads/", width_field="width", height_field="height")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("upload")
        verbose_name_plural = _("uploads")

    def __str__(self) -> str:
        return self.file.name or ""


class TopicRead(models.Model):
    """How far a member has read a topic, so the forum page can mark new replies."""

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="+")
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "topic"], name="forums_read_once"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} read {self.topic_id} to #{self.last_number}"


class HoldReason(models.TextChoices):
    """Why a post waits for approval."""

    WARNINGS = "warnings", _("the author's warnings hold their posts")
    FORUM = "forum", _("the forum approves every new topic")
    FIRST_POSTS = "first_posts", _("a new member's first posts")


class HeldState(models.TextChoices):
    WAITING = "waiting", _("awaiting approval")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")
    WITHDRAWN = "withdrawn", _("withdrawn by its author")


class HeldPost(models.Model):
    """A new topic or a reply waiting for moderators' approval.

    It is not a post yet: nobody but its author and the forum's moderators can see it,
    it takes no number and counts nowhere. Approving it publishes it (a topic, or a reply
    at the end of its topic, as if written then), with the events of any new post.
    """

    forum = models.ForeignKey(Forum, on_delete=models.CASCADE, related_name="+")
    #: The topic a reply answers; None for a new topic.
    topic = models.ForeignKey(
        Topic, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(_("title"), max_length=200, blank=True)
    source_url = models.URLField(_("source"), max_length=2000, blank=True)
    text = models.TextField(_("text"))
    html = models.TextField(editable=False)
    created_at = models.DateTimeField(_("written"), default=timezone.now)
    reason = models.CharField(_("why held"), max_length=20, choices=HoldReason.choices)
    #: More about why, for moderators: the warning's reason, a score...
    reason_detail = models.CharField(_("details"), max_length=500, blank=True)
    state = models.CharField(
        _("state"), max_length=10, choices=HeldState.choices, default=HeldState.WAITING
    )
    #: The post it became once approved.
    post = models.ForeignKey(
        Post, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    submission_key = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("post awaiting approval")
        verbose_name_plural = _("posts awaiting approval")
        constraints = [
            models.UniqueConstraint(
                fields=["author", "submission_key"], name="forums_held_submission_once"
            ),
        ]
        indexes = [
            models.Index(
                fields=["author", "forum", "topic"],
                condition=models.Q(state="waiting"),
                name="forums_held_waiting",
            ),
        ]

    def __str__(self) -> str:
        return self.title or f"{self.topic} (reply)"

    def get_absolute_url(self) -> str:
        return reverse("forums:held_post", kwargs={"held_id": self.pk})

    @property
    def is_topic(self) -> bool:
        return self.topic_id is None

    @property
    def is_waiting(self) -> bool:
        return self.state == HeldState.WAITING


class PostAddress(models.Model):
    """Where a post was before moderators merged or split its topic: links to the old
    address (`/t/<topic>/post/<number>/`) are sent to where the post is now."""

    topic_id_was = models.PositiveBigIntegerField()
    number_was = models.PositiveIntegerField()
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["topic_id_was", "number_was"], name="forums_post_address_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.topic_id_was} #{self.number_was} -> {self.post_id}"
