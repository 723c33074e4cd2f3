"""Who may do what: every "may this member do that to this thing" of Sala, in one place.

Each action has a `check_<action>(user, thing)` that returns quietly or raises
PermissionDenied with the sentence to show, and views, services, templates (through the
views' context) and the live streams all ask these, never deciding on their own. `allows`
turns a check into a yes or no, for the links and buttons a page shows.

The rules read the attributes of the things they are given (a topic's forum and state, a
post's author, number and state), never the forums' tables: staff sits below the forums
(docs/subsystems/layering.md), so it names what it reads in Protocols and the forums'
models fit them. What it does read is the member's roles, once per request
(`powers_of`). docs/subsystems/moderation.md has the roles and the matrix of actions.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from sala.staff.models import Role, StaffRole

type AnyUser = AbstractBaseUser | AnonymousUser


class TopicFacts(Protocol):
    """What the rules read of a topic."""

    @property
    def forum_id(self) -> int: ...
    @property
    def is_locked(self) -> bool: ...
    @property
    def is_deleted(self) -> bool: ...


class PostFacts(Protocol):
    """What the rules read of a post."""

    @property
    def author_id(self) -> int: ...
    @property
    def number(self) -> int: ...
    @property
    def is_deleted(self) -> bool: ...
    @property
    def is_hidden(self) -> bool: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def topic(self) -> "TopicFactsWithReplies": ...


class TopicFactsWithReplies(TopicFacts, Protocol):
    @property
    def reply_count(self) -> int: ...


# -- New members ---------------------------------------------------------------------------


def is_new_member(user: AnyUser) -> bool:
    """Return whether `user` is still a new member, held to the new members' limits:
    fewer posts than SALA_ESTABLISHED_POSTS. (Trust level 0 will take this place.)"""
    return int(getattr(user, "post_count", 0)) < settings.SALA_ESTABLISHED_POSTS


# -- Roles ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Powers:
    """The roles a member holds, as the rules use them."""

    admin: bool = False
    global_moderator: bool = False
    #: The forums the member moderates as a forum moderator.
    forum_ids: frozenset[int] = frozenset()

    def moderates(self, forum_id: int) -> bool:
        """Return whether these powers moderate forum `forum_id`."""
        return self.admin or self.global_moderator or forum_id in self.forum_ids

    @property
    def moderates_everywhere(self) -> bool:
        return self.admin or self.global_moderator

    @property
    def is_staff(self) -> bool:
        """Whether the member holds any role (staff cannot be banned by a moderator...)."""
        return self.moderates_everywhere or bool(self.forum_ids)

    @property
    def key(self) -> str:
        """Name these powers for a render that shows them: members with the same key see a
        page the same way."""
        if self.admin:
            return "admin"
        if self.global_moderator:
            return "global"
        if self.forum_ids:
            return "forums:" + ",".join(map(str, sorted(self.forum_ids)))
        return "member"


NO_POWERS = Powers()
ADMIN_POWERS = Powers(admin=True)

#: Where a member's powers are kept on the member's object, for the rest of the request.
_POWERS_ATTRIBUTE = "_sala_powers"


def powers_of(user: AnyUser) -> Powers:
    """Return the roles `user` holds, their own and their groups': one query, once per
    request (kept on the user object). Guests and inactive members hold none;
    superusers are administrators."""
    if not user.is_authenticated or not user.is_active:
        return NO_POWERS
    if getattr(user, "is_superuser", False):
        return ADMIN_POWERS
    known = getattr(user, _POWERS_ATTRIBUTE, None)
    if isinstance(known, Powers):
        return known
    rows = (
        StaffRole.objects.filter(Q(member_id=user.pk) | Q(group__user=user.pk))
        .values_list("role", "forum_id")
        .distinct()
    )
    roles = set(rows)
    powers = Powers(
        admin=(Role.ADMIN, None) in roles,
        global_moderator=(Role.GLOBAL_MODERATOR, None) in roles,
        forum_ids=frozenset(
            forum_id
            for role, forum_id in roles
            if role == Role.FORUM_MODERATOR and forum_id is not None
        ),
    )
    setattr(user, _POWERS_ATTRIBUTE, powers)
    return powers


def forget_powers(user: AnyUser) -> None:
    """Make the next `powers_of(user)` read the roles again (after they changed)."""
    if hasattr(user, _POWERS_ATTRIBUTE):
        delattr(user, _POWERS_ATTRIBUTE)


def moderates(user: AnyUser, forum_id: int) -> bool:
    """Return whether `user` moderates forum `forum_id`: an administrator, a global
    moderator, or a moderator of that forum."""
    return powers_of(user).moderates(forum_id)


def allows[*Args](check: Callable[[AnyUser, *Args], None], user: AnyUser, *args: *Args) -> bool:
    """Return whether `check` lets `user` act on `args`: `allows(check_hide_post, user, post)`."""
    try:
        check(user, *args)
    except PermissionDenied:
        return False
    return True


# -- Members' own actions --------------------------------------------------------------------


def _check_member(user: AnyUser) -> None:
    if not user.is_authenticated or not user.is_active:
        raise PermissionDenied(_("You need to be a member to do that."))


def _check_may_write(user: AnyUser) -> None:
    """Refuse guests, and members suspended (they read, and are told why and until when)."""
    _check_member(user)
    until: datetime | None = getattr(user, "suspended_now_until", None)
    if until is not None:
        reason = getattr(user, "suspension_reason", "")
        moment = formats.date_format(timezone.localtime(until), "DATETIME_FORMAT")
        message = _("You are suspended until %(moment)s, so you can read but not post.") % {
            "moment": moment
        }
        raise PermissionDenied(f"{message} {_('Reason:')} {reason}" if reason else message)


def _check_moderates(user: AnyUser, forum_id: int) -> None:
    _check_member(user)
    if not moderates(user, forum_id):
        raise PermissionDenied(_("Only moderators of this forum can do that."))


def _check_may_post(user: AnyUser) -> None:
    """Refuse what _check_may_write refuses, and members silenced (they still read, edit
    and report, and are told why and until when)."""
    _check_may_write(user)
    until: datetime | None = getattr(user, "silenced_now_until", None)
    if until is not None:
        reason = getattr(user, "silence_reason", "")
        moment = formats.date_format(timezone.localtime(until), "DATETIME_FORMAT")
        message = _(
            "You are silenced until %(moment)s: you can read, but not start topics or reply."
        ) % {"moment": moment}
        raise PermissionDenied(f"{message} {_('Reason:')} {reason}" if reason else message)


def check_start_topic(user: AnyUser, forum_id: int | None = None) -> None:
    """Refuse guests, inactive, suspended and silenced members (in any forum: `forum_id`
    None, or in that one)."""
    _check_may_post(user)


def topic_is_closed(topic: TopicFacts) -> bool:
    """Return whether `topic` takes no more replies: locked, or closed until a time
    that has not come yet (a timed close ends by itself)."""
    # The forums' Topic.reopens_at says whether a timed close is still running.
    return topic.is_locked or getattr(topic, "reopens_at", None) is not None


def check_reply(user: AnyUser, topic: TopicFacts) -> None:
    """Refuse guests, suspended and silenced members, and everyone but the forum's
    moderators in a closed or deleted topic."""
    _check_may_post(user)
    if topic.is_deleted:
        if moderates(user, topic.forum_id):
            raise PermissionDenied(_("This topic was deleted: restore it to reply."))
        raise PermissionDenied(_("This topic was deleted."))
    if topic_is_closed(topic) and not moderates(user, topic.forum_id):
        raise PermissionDenied(_("This topic is locked: no new replies."))


def check_edit_post(user: AnyUser, post: PostFacts) -> None:
    """Let authors edit their own posts within the edit window, while the topic is open
    and the post visible; the forum's moderators any post. Suspended members edit nothing."""
    _check_may_write(user)
    topic = post.topic
    if moderates(user, topic.forum_id):
        return
    if post.author_id != user.pk:
        raise PermissionDenied(_("You can only edit your own posts."))
    if post.is_deleted or topic.is_deleted:
        raise PermissionDenied(_("This post was deleted."))
    if post.is_hidden:
        raise PermissionDenied(_("This post is hidden by the moderators: it can't be edited."))
    if topic_is_closed(topic):
        raise PermissionDenied(_("This topic is locked: its posts can't be edited."))
    window = timedelta(minutes=settings.SALA_EDIT_WINDOW_MINUTES)
    if timezone.now() - post.created_at > window:
        raise PermissionDenied(_("This post is too old to edit."))


def check_delete_post(user: AnyUser, post: PostFacts) -> None:
    """Let authors delete their own replies, and their topic while nobody has replied;
    the forum's moderators any post."""
    _check_may_write(user)
    if post.is_deleted:
        raise PermissionDenied(_("This post is already deleted."))
    topic = post.topic
    if moderates(user, topic.forum_id):
        return
    if post.author_id != user.pk:
        raise PermissionDenied(_("You can only delete your own posts."))
    if post.is_hidden:
        raise PermissionDenied(_("This post is hidden by the moderators: it can't be deleted."))
    if topic_is_closed(topic):
        raise PermissionDenied(_("This topic is locked: its posts can't be deleted."))
    if post.number == 1 and topic.reply_count > 0:
        raise PermissionDenied(_("Others have replied, so the first post stays."))


# -- Moderators' tools on posts ------------------------------------------------------------


def check_recommend_post(user: AnyUser, post: PostFacts) -> None:
    """Let the forum's moderators recommend visible replies (not the opening post, which
    leads anyway)."""
    _check_moderates(user, post.topic.forum_id)
    if post.number == 1 or post.is_deleted or post.is_hidden:
        raise PermissionDenied(_("Only visible replies can be recommended."))


def check_unrecommend_post(user: AnyUser, post: PostFacts) -> None:
    """Let the forum's moderators take any post out of "Recommended Posts"."""
    _check_moderates(user, post.topic.forum_id)


def check_hide_post(user: AnyUser, post: PostFacts) -> None:
    """Let the forum's moderators hide a visible post."""
    _check_moderates(user, post.topic.forum_id)
    if post.is_deleted:
        raise PermissionDenied(_("This post was deleted."))
    if post.is_hidden:
        raise PermissionDenied(_("This post is already hidden."))
    if post.number == 1:
        raise PermissionDenied(
            _("The first post carries its topic: lock or delete the topic instead.")
        )


def check_unhide_post(user: AnyUser, post: PostFacts) -> None:
    """Let the forum's moderators show a hidden post again."""
    _check_moderates(user, post.topic.forum_id)
    if not post.is_hidden:
        raise PermissionDenied(_("This post is not hidden."))


def check_restore_post(user: AnyUser, post: PostFacts) -> None:
    """Let the forum's moderators bring back a deleted post."""
    _check_moderates(user, post.topic.forum_id)
    if not post.is_deleted:
        raise PermissionDenied(_("This post is not deleted."))
    if post.number != 1 and post.topic.is_deleted:
        raise PermissionDenied(_("Its topic was deleted: restore the topic first."))


def can_see_hidden_post(user: AnyUser, post: PostFacts) -> bool:
    """Return whether `user` may read a hidden post: its author and the forum's moderators."""
    return user.is_authenticated and (
        post.author_id == user.pk or moderates(user, post.topic.forum_id)
    )


# -- Posts held for approval ---------------------------------------------------------------


@dataclass(frozen=True)
class Hold:
    """Why a member's new post waits for approval: `reason` is one of the forums'
    HoldReason values, `detail` says more for the moderators."""

    reason: str
    detail: str = ""


def hold_for(user: AnyUser, forum_id: int, *, forum_approves: bool = False) -> Hold | None:
    """Return why a post `user` is about to publish in forum `forum_id` must wait for its
    moderators' approval, or None when it need not: while warnings hold their posts
    (`approval_now_until`), when the post is a new topic in a forum that approves every
    new topic (`forum_approves`), or while they have fewer than SALA_APPROVE_FIRST_POSTS
    posts. The forum's moderators' posts are never held."""
    hold = None
    if getattr(user, "approval_now_until", None) is not None:
        hold = Hold("warnings", getattr(user, "approval_reason", ""))
    elif forum_approves:
        hold = Hold("forum")
    elif getattr(user, "post_count", 0) < settings.SALA_APPROVE_FIRST_POSTS:
        hold = Hold("first_posts")
    # The roles last: most posts are held by nothing, and need not read them.
    if hold is None or moderates(user, forum_id):
        return None
    return hold


class HeldFacts(Protocol):
    """What the rules read of a post awaiting approval."""

    @property
    def author_id(self) -> int: ...
    @property
    def forum_id(self) -> int: ...
    @property
    def is_waiting(self) -> bool: ...


def can_see_held(user: AnyUser, held: HeldFacts) -> bool:
    """Return whether `user` may read a post awaiting approval: its author and the
    forum's moderators."""
    return user.is_authenticated and (held.author_id == user.pk or moderates(user, held.forum_id))


def check_withdraw_held(user: AnyUser, held: HeldFacts) -> None:
    """Let the author take back their post while it still waits."""
    _check_member(user)
    if held.author_id != user.pk:
        raise PermissionDenied(_("Only its author can withdraw a post."))
    if not held.is_waiting:
        raise PermissionDenied(_("This post no longer awaits approval."))


def check_approve_held(user: AnyUser, held: HeldFacts) -> None:
    """Let the forum's moderators approve or reject a post awaiting approval."""
    _check_moderates(user, held.forum_id)
    if not held.is_waiting:
        raise PermissionDenied(_("This post no longer awaits approval."))


# -- Moderators' tools on topics -----------------------------------------------------------


def check_lock_topic(user: AnyUser, topic: TopicFacts) -> None:
    """Let the forum's moderators lock and unlock a topic, and close it for a time."""
    _check_moderates(user, topic.forum_id)
    if topic.is_deleted:
        raise PermissionDenied(_("This topic was deleted."))


def check_pin_topic(user: AnyUser, topic: TopicFacts) -> None:
    """Let the forum's moderators pin and unpin a topic."""
    _check_moderates(user, topic.forum_id)
    if topic.is_deleted:
        raise PermissionDenied(_("This topic was deleted."))


def check_move_topic(user: AnyUser, topic: TopicFacts, to_forum_id: int | None = None) -> None:
    """Let moderators of both forums move a topic from one to the other (`to_forum_id`
    None: whether they may move it anywhere at all)."""
    _check_moderates(user, topic.forum_id)
    if topic.is_deleted:
        raise PermissionDenied(_("This topic was deleted."))
    if to_forum_id is None:
        return
    if to_forum_id == topic.forum_id:
        raise PermissionDenied(_("The topic is in that forum already."))
    if not moderates(user, to_forum_id):
        raise PermissionDenied(_("You can only move topics into forums you moderate."))


def check_merge_topics(user: AnyUser, topic: TopicFacts, into: TopicFacts | None = None) -> None:
    """Let moderators of both forums merge a topic into another (`into` None: whether they
    may merge it at all)."""
    _check_moderates(user, topic.forum_id)
    if topic.is_deleted:
        raise PermissionDenied(_("This topic was deleted."))
    if into is None:
        return
    if into is topic or getattr(into, "pk", None) == getattr(topic, "pk", 0):
        raise PermissionDenied(_("A topic can't be merged into itself."))
    if into.is_deleted:
        raise PermissionDenied(_("That topic was deleted."))
    if not moderates(user, into.forum_id):
        raise PermissionDenied(_("You can only merge into topics of forums you moderate."))


def check_split_topic(user: AnyUser, topic: TopicFacts, to_forum_id: int | None = None) -> None:
    """Let the forum's moderators split replies off into a new topic, in a forum they
    moderate."""
    _check_moderates(user, topic.forum_id)
    if topic.is_deleted:
        raise PermissionDenied(_("This topic was deleted."))
    if to_forum_id is not None and not moderates(user, to_forum_id):
        raise PermissionDenied(_("You can only move topics into forums you moderate."))


def check_bulk_topics(user: AnyUser, forum_id: int) -> None:
    """Let the forum's moderators act on several of its topics at once from its page;
    each topic is then checked as its own tool checks it."""
    _check_moderates(user, forum_id)


def check_see_deleted(user: AnyUser, topic: TopicFacts) -> None:
    """Let the forum's moderators open a deleted topic (to restore it)."""
    _check_moderates(user, topic.forum_id)


# -- Reports and the review queue ----------------------------------------------------------


def check_report_post(user: AnyUser, post: PostFacts) -> None:
    """Let members report others' posts that are still there (not while suspended)."""
    _check_may_write(user)
    if post.author_id == user.pk:
        raise PermissionDenied(_("You can't report your own post; edit or delete it instead."))
    if post.is_deleted or post.topic.is_deleted:
        raise PermissionDenied(_("This post was deleted."))


def check_review_queue(user: AnyUser) -> None:
    """Let moderators (of any forum) open the review queue: each sees their forums' items."""
    _check_member(user)
    if not powers_of(user).is_staff:
        raise PermissionDenied(_("Only moderators see the review queue."))


def check_review_item(user: AnyUser, forum_id: int) -> None:
    """Let the moderators of the item's forum act on it."""
    _check_moderates(user, forum_id)


# -- Members: warnings and suspensions -------------------------------------------------------


class MemberFacts(Protocol):
    @property
    def pk(self) -> int: ...


def check_warn_member(user: AnyUser, member: MemberFacts, forum_id: int | None = None) -> None:
    """Let moderators warn a member: for a post, the moderators of its forum (`forum_id`);
    otherwise global moderators. Staff are warned by administrators only."""
    _check_member(user)
    powers = powers_of(user)
    if forum_id is not None and not powers.moderates(forum_id):
        raise PermissionDenied(_("Only moderators of this forum can do that."))
    if forum_id is None and not powers.moderates_everywhere:
        raise PermissionDenied(_("Only global moderators act on members outside a forum."))
    if member.pk == user.pk:
        raise PermissionDenied(_("You can't warn or suspend yourself."))
    if isinstance(member, AbstractBaseUser) and powers_of(member).is_staff and not powers.admin:
        raise PermissionDenied(_("Staff can be warned or suspended by administrators only."))


def check_suspend_member(user: AnyUser, member: MemberFacts, forum_id: int | None = None) -> None:
    """Let moderators suspend a member, as they may warn them."""
    check_warn_member(user, member, forum_id)


def check_ban(user: AnyUser) -> None:
    """Let global moderators and administrators ban and lift bans (a ban reaches every
    forum, so forum moderators do not)."""
    _check_member(user)
    if not powers_of(user).moderates_everywhere:
        raise PermissionDenied(_("Only global moderators and administrators can ban."))


def check_mark_spammer(user: AnyUser, member: AbstractBaseUser) -> None:
    """Let global moderators and administrators remove a member as a spammer (it bans
    them everywhere), and undo it; never a member of staff, nor themselves."""
    check_ban(user)
    if member.pk == user.pk:
        raise PermissionDenied(_("You can't mark yourself as a spammer."))
    if powers_of(member).is_staff:
        raise PermissionDenied(
            _("Staff can't be marked as spammers: an administrator takes their roles first.")
        )


# -- Staff ---------------------------------------------------------------------------------


def check_manage_staff(user: AnyUser) -> None:
    """Let administrators give and take staff roles."""
    _check_member(user)
    if not powers_of(user).admin:
        raise PermissionDenied(_("Only administrators can change who is staff."))


def check_read_audit_log(user: AnyUser) -> None:
    """Let administrators read the audit log."""
    _check_member(user)
    if not powers_of(user).admin:
        raise PermissionDenied(_("Only administrators can read the audit log."))
