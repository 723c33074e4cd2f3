"""Members: the custom user model, with what a forum shows beside every post."""

import hashlib
import zoneinfo
from datetime import datetime
from functools import cache
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sala.accounts.events import MemberChanged
from sala.accounts.validators import validate_display_name, validate_username
from sala.core.events import announce

#: How many avatar colours the initials fallback cycles through (one CSS class each).
AVATAR_HUES = 12


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    """Return every IANA time zone as form choices, sorted by name."""
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


def avatar_upload_path(member: "User", filename: str) -> str:
    """Return where a member's avatar is stored; the name changes with the content."""
    return f"avatars/{member.pk}/{filename}"


class User(AbstractUser):
    username = models.CharField(
        _("username"),
        max_length=30,
        unique=True,
        validators=[validate_username],
        help_text=_("Up to 30 letters, digits and _ . - characters."),
        error_messages={"unique": _("That username is taken.")},
    )
    display_name = models.CharField(
        _("display name"),
        max_length=50,
        blank=True,
        validators=[validate_display_name],
        help_text=_("Shown beside your posts instead of your username."),
    )
    avatar = models.ImageField(_("avatar"), upload_to=avatar_upload_path, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    post_count = models.PositiveIntegerField(_("posts"), default=0)
    last_seen = models.DateTimeField(_("last seen"), null=True, blank=True)
    hide_presence = models.BooleanField(
        _("hide my presence"),
        default=False,
        help_text=_('Count me as an anonymous reader in "Recently Browsing".'),
    )

    #: Suspended until then (set by moderators, or by warnings' steps): the member reads
    #: but cannot write; it ends by itself.
    suspended_until = models.DateTimeField(_("suspended until"), null=True, blank=True)
    suspension_reason = models.CharField(_("why suspended"), max_length=500, blank=True)
    #: Silenced until then (by warnings' steps): the member reads, edits and reports,
    #: but starts no topic and replies to none; it ends by itself.
    silenced_until = models.DateTimeField(_("silenced until"), null=True, blank=True)
    silence_reason = models.CharField(_("why silenced"), max_length=500, blank=True)
    #: Their posts wait for moderators' approval until then (by warnings' steps); it
    #: ends by itself.
    approval_until = models.DateTimeField(_("posts held until"), null=True, blank=True)
    approval_reason = models.CharField(_("why posts are held"), max_length=500, blank=True)
    #: Their posts waiting for approval now (sala.forums.HeldPost): the pages look for
    #: them only while there are some.
    held_count = models.PositiveIntegerField(_("posts awaiting approval"), default=0)
    #: Where the member signed up from, and last signed in from: what the spammer
    #: clean-up bans besides their address (sala.moderation.spammers).
    signup_address = models.GenericIPAddressField(_("signed up from"), null=True, blank=True)
    last_address = models.GenericIPAddressField(_("last signed in from"), null=True, blank=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        constraints = [
            # "Alice" and "alice" are one name; the database enforces it as well as the forms.
            models.UniqueConstraint(Lower("username"), name="accounts_user_username_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.username

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save the member, but never the counters over what is stored: `post_count`,
        `held_count` and `last_seen` are written by UPDATEs of their own (F() for the
        counts), and a copy
        loaded before one of them (a member remembered between requests) would otherwise
        write the old value back. A new member is saved whole."""
        if not self._state.adding and not args and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = _saved_fields()
        super().save(*args, **kwargs)
        # Announced here, not by a service: allauth, the admin and Django's own password
        # forms save members too, and every process remembering this row must hear of it.
        announce(MemberChanged(self.pk))

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        member_id = self.pk
        deleted = super().delete(*args, **kwargs)
        announce(MemberChanged(member_id))
        return deleted

    def get_absolute_url(self) -> str:
        return reverse("accounts:profile", kwargs={"username": self.username})

    @property
    def name(self) -> str:
        """Return the name shown for this member: the display name, else the username."""
        return self.display_name or self.username

    @property
    def suspended_now_until(self) -> datetime | None:
        """Return when the member's suspension ends, while it lasts; None otherwise."""
        if self.suspended_until is not None and self.suspended_until > timezone.now():
            return self.suspended_until
        return None

    @property
    def silenced_now_until(self) -> datetime | None:
        """Return when the member's silence ends, while it lasts; None otherwise."""
        if self.silenced_until is not None and self.silenced_until > timezone.now():
            return self.silenced_until
        return None

    @property
    def approval_now_until(self) -> datetime | None:
        """Return when the holding of the member's posts for approval ends, while it
        lasts; None otherwise."""
        if self.approval_until is not None and self.approval_until > timezone.now():
            return self.approval_until
        return None

    @property
    def initials(self) -> str:
        """Return up to two initials for the generated avatar."""
        words = self.name.replace("_", " ").replace(".", " ").replace("-", " ").split()
        letters = "".join(word[0] for word in words[:2]) or self.username[:1]
        return letters.upper()

    @property
    def avatar_hue(self) -> int:
        """Return a stable colour index for the generated avatar, from the username."""
        digest = hashlib.blake2s(self.username.lower().encode(), digest_size=2).digest()
        return int.from_bytes(digest) % AVATAR_HUES


#: What `User.save` writes counters aside: what only UPDATEs of their own write.
COUNTERS = frozenset({"post_count", "last_seen", "held_count"})


@cache
def _saved_fields() -> list[str]:
    return [
        field.name
        for field in User._meta.concrete_fields
        if not field.primary_key and field.name not in COUNTERS
    ]
