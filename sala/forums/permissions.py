"""Who may do what with topics and posts: checks that raise PermissionDenied."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, PermissionsMixin
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext as _

from sala.forums.models import Forum, Post, Topic

AnyUser = AbstractBaseUser | AnonymousUser


def can_moderate(user: AnyUser) -> bool:
    """Return whether `user` moderates the forums."""
    return (
        isinstance(user, PermissionsMixin) and user.is_active and user.has_perm("forums.moderate")
    )


def _check_member(user: AnyUser) -> None:
    if not user.is_authenticated or not user.is_active:
        raise PermissionDenied(_("You need to be a member to do that."))


def check_start_topic(user: AnyUser, forum: Forum) -> None:
    """Refuse guests and inactive members."""
    _check_member(user)


def check_reply(user: AnyUser, topic: Topic) -> None:
    """Refuse guests, and everyone but moderators in a locked or deleted topic."""
    _check_member(user)
    if topic.is_deleted:
        raise PermissionDenied(_("This topic was deleted."))
    if topic.is_locked and not can_moderate(user):
        raise PermissionDenied(_("This topic is locked: no new replies."))


def check_edit_post(user: AnyUser, post: Post) -> None:
    """Let authors edit their own posts within the edit window; moderators any post."""
    _check_member(user)
    if can_moderate(user):
        return
    if post.author_id != user.pk:
        raise PermissionDenied(_("You can only edit your own posts."))
    if post.is_deleted or post.topic.is_deleted:
        raise PermissionDenied(_("This post was deleted."))
    if post.topic.is_locked:
        raise PermissionDenied(_("This topic is locked: its posts can't be edited."))
    window = timedelta(minutes=settings.SALA_EDIT_WINDOW_MINUTES)
    if timezone.now() - post.created_at > window:
        raise PermissionDenied(_("This post is too old to edit."))


def check_delete_post(user: AnyUser, post: Post) -> None:
    """Let authors delete their own replies, and their topic while nobody has replied."""
    _check_member(user)
    if post.is_deleted:
        raise PermissionDenied(_("This post is already deleted."))
    if can_moderate(user):
        return
    if post.author_id != user.pk:
        raise PermissionDenied(_("You can only delete your own posts."))
    if post.topic.is_locked:
        raise PermissionDenied(_("This topic is locked: its posts can't be deleted."))
    if post.is_first and post.topic.reply_count > 0:
        raise PermissionDenied(_("Others have replied, so the first post stays."))


def check_recommend_post(user: AnyUser, post: Post) -> None:
    """Let moderators recommend replies (not the opening post, which leads anyway)."""
    if not can_moderate(user):
        raise PermissionDenied(_("Only moderators recommend posts."))
    if post.is_first or post.is_deleted:
        raise PermissionDenied(_("Only visible replies can be recommended."))
