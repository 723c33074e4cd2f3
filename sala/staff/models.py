"""Who keeps order (staff roles) and the record of what they did (the audit log)."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    GLOBAL_MODERATOR = "global_moderator", _("Global moderator")
    FORUM_MODERATOR = "forum_moderator", _("Forum moderator")


class StaffRole(models.Model):
    """A role held by a member, or by every member of a group; a forum moderator's for
    one forum.

    Superusers are administrators without a row. The forum is named by its id, not a
    foreign key: staff sits below the forums (docs/subsystems/layering.md) and answers
    for them without reading their tables; a role left by a deleted forum grants nothing.
    """

    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="staff_roles",
        verbose_name=_("member"),
    )
    group = models.ForeignKey(
        Group,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="staff_roles",
        verbose_name=_("group"),
    )
    forum_id = models.PositiveBigIntegerField(
        _("forum"), null=True, blank=True, help_text=_("Forum moderators only.")
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    granted_at = models.DateTimeField(_("granted"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("staff role")
        verbose_name_plural = _("staff roles")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(member__isnull=False, group__isnull=True)
                | models.Q(member__isnull=True, group__isnull=False),
                name="staff_role_member_or_group",
            ),
            models.CheckConstraint(
                condition=models.Q(role=Role.FORUM_MODERATOR, forum_id__isnull=False)
                | (~models.Q(role=Role.FORUM_MODERATOR) & models.Q(forum_id__isnull=True)),
                name="staff_role_forum_for_forum_moderators",
            ),
            # Each role once per holder (and forum): NULLs are distinct in a unique
            # index, and SQLite has no NULLS NOT DISTINCT, so with and without a forum
            # apart.
            models.UniqueConstraint(
                fields=["role", "member", "forum_id"],
                name="staff_role_member_forum_once",
                condition=models.Q(member__isnull=False, forum_id__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["role", "member"],
                name="staff_role_member_once",
                condition=models.Q(member__isnull=False, forum_id__isnull=True),
            ),
            models.UniqueConstraint(
                fields=["role", "group", "forum_id"],
                name="staff_role_group_forum_once",
                condition=models.Q(group__isnull=False, forum_id__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["role", "group"],
                name="staff_role_group_once",
                condition=models.Q(group__isnull=False, forum_id__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        holder = self.member or self.group
        where = f" of forum {self.forum_id}" if self.forum_id else ""
        return f"{holder}: {self.get_role_display()}{where}"

    def clean(self) -> None:
        if (self.member_id is None) == (self.group_id is None):
            raise ValidationError(_("Give the role to a member or to a group, not both."))
        if self.role == Role.FORUM_MODERATOR and self.forum_id is None:
            raise ValidationError({"forum_id": _("Choose the forum this member moderates.")})
        if self.role != Role.FORUM_MODERATOR and self.forum_id is not None:
            raise ValidationError({"forum_id": _("Only forum moderators have a forum.")})


class AuditEntry(models.Model):
    """One thing staff (or Sala on its own) did, written in the action's transaction.

    Read-only everywhere: the admin and the audit page list and filter entries, nothing
    changes or deletes them. Names are copied in, so an entry still reads right after
    the member or the object is renamed or gone.
    """

    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    #: None for what Sala did on its own (a post hidden after reports, a step of warnings).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    actor_name = models.CharField(_("by"), max_length=50, blank=True)
    action = models.CharField(_("action"), max_length=40, db_index=True)
    target_type = models.CharField(_("on"), max_length=20)
    target_id = models.PositiveBigIntegerField()
    target_label = models.CharField(_("object"), max_length=200)
    #: The forum the object was in, so an entry can be found by forum.
    forum_id = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    #: The member the action was about (a post's author, the member warned).
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("member concerned"),
    )
    reason = models.TextField(_("reason"), blank=True)
    before = models.JSONField(_("before"), default=dict, blank=True)
    after = models.JSONField(_("after"), default=dict, blank=True)
    address = models.GenericIPAddressField(_("address"), null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        indexes = [
            models.Index(fields=["target_type", "target_id"], name="staff_audit_target"),
            models.Index(fields=["actor", "-at"], name="staff_audit_actor"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_name or 'Sala'} {self.action} {self.target_label}"
