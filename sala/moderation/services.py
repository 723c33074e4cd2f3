"""Moderators' tools on posts and topics: each one transaction that checks the rules
against the rows as they are once locked, keeps the counters, records the audit entry
and announces its event on commit (docs/subsystems/moderation.md).

Two moderators acting on one post at once meet at its row's lock: the second finds it
changed and is refused with what happened ("This post is already hidden."), changing
nothing.
"""

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from sala.core.events import announce
from sala.forums import counters
from sala.forums.events import PostHidden, PostRestored, TopicChanged, TopicMoved
from sala.forums.models import Forum, Post, PostAddress, Topic, make_slug
from sala.forums.services import audit_post, delete_post
from sala.staff import audit, permissions
from sala.staff.audit import Acting


def _locked(post: Post) -> Post:
    """Return `post` as it is now, its row and its topic's locked to the transaction's end
    (topic first, as every write of the forums locks them)."""
    topic = Topic.objects.select_for_update().get(pk=post.topic_id)
    fresh = Post.objects.select_for_update().select_related("author").get(pk=post.pk)
    fresh.topic = topic
    return fresh


def _require_reason(acting: Acting) -> None:
    if not acting.reason:
        raise ValidationError({"reason": _("Say why, for the author and the other moderators.")})


@transaction.atomic
def hide_post(*, post: Post, acting: Acting) -> Post:
    """Hide a reply from everyone but its author and the forum's moderators, with a reason;
    it leaves the counts and "Recommended Posts".

    Raise PermissionDenied outside the rules (permissions.check_hide_post), and
    ValidationError without a reason.
    """
    post = _locked(post)
    actor = acting.actor
    if actor is not None:
        permissions.check_hide_post(actor, post)
    elif post.is_hidden or post.is_deleted:
        return post
    _require_reason(acting)
    was_recommended = post.recommended_at is not None
    was_counted = counters.is_counted(post)
    post.is_hidden = True
    post.hidden_reason = acting.reason
    post.hidden_by = actor
    post.hidden_at = timezone.now()
    post.recommended_at = None
    post.recommended_by = None
    post.save(
        update_fields=[
            "is_hidden",
            "hidden_reason",
            "hidden_by",
            "hidden_at",
            "recommended_at",
            "recommended_by",
        ]
    )
    if was_counted:
        counters.uncount_post(post, post.topic)
    audit_post(acting, "post.hide", post)
    announce(_hidden(post, hidden=True, was_recommended=was_recommended))
    return post


@transaction.atomic
def keep_hidden(*, post: Post, acting: Acting) -> Post:
    """Keep hidden a post that reports hid, as a moderator's decision: it is hidden by
    them now, for their reason, no longer "pending review"."""
    post = _locked(post)
    if acting.actor is not None:
        permissions.check_unhide_post(acting.actor, post)
    _require_reason(acting)
    post.hidden_by = acting.actor
    post.hidden_reason = acting.reason
    post.save(update_fields=["hidden_by", "hidden_reason"])
    audit_post(acting, "post.hide", post)
    announce(_hidden(post, hidden=True, was_recommended=False))
    return post


@transaction.atomic
def unhide_post(*, post: Post, acting: Acting) -> Post:
    """Show a hidden post to everyone again; it comes back into the counts.

    Raise PermissionDenied outside the rules (permissions.check_unhide_post).
    """
    post = _locked(post)
    if acting.actor is not None:
        permissions.check_unhide_post(acting.actor, post)
    reason = post.hidden_reason
    post.is_hidden = False
    post.hidden_reason = ""
    post.hidden_by = None
    post.hidden_at = None
    post.save(update_fields=["is_hidden", "hidden_reason", "hidden_by", "hidden_at"])
    if counters.is_counted(post):
        counters.count_post(post, post.topic)
    audit_post(acting, "post.unhide", post, before={"hidden_reason": reason})
    announce(_hidden(post, hidden=False, was_recommended=False))
    return post


@transaction.atomic
def restore_post(*, post: Post, acting: Acting) -> Post:
    """Bring back a deleted post; a first post brings back its topic. A post hidden as
    well stays hidden.

    Raise PermissionDenied outside the rules (permissions.check_restore_post).
    """
    post = _locked(post)
    topic = post.topic
    if acting.actor is not None:
        permissions.check_restore_post(acting.actor, post)
    post.is_deleted = False
    post.save(update_fields=["is_deleted"])
    if post.is_first:
        Topic.objects.filter(pk=topic.pk).update(is_deleted=False)
    if counters.is_counted(post):
        counters.count_post(post, topic)
    if post.is_first:
        topic.is_deleted = False
    audit_post(acting, "topic.restore" if post.is_first else "post.restore", post)
    announce(PostRestored(topic.pk, topic.forum_id, number=post.number, author_id=post.author_id))
    return post


def _hidden(post: Post, *, hidden: bool, was_recommended: bool) -> PostHidden:
    return PostHidden(
        post.topic_id,
        post.topic.forum_id,
        number=post.number,
        author_id=post.author_id,
        hidden=hidden,
        was_recommended=was_recommended,
    )


# -- Topics: lock, pin, close for a time -------------------------------------------------


def _locked_topic(topic: Topic) -> Topic:
    return Topic.objects.select_for_update().select_related("forum").get(pk=topic.pk)


def _audit_topic(acting: Acting, action: str, topic: Topic, **changes: object) -> None:
    audit.record(
        acting,
        action,
        target_type="topic",
        target_id=topic.pk,
        target_label=topic.title,
        forum_id=topic.forum_id,
        subject_id=topic.author_id,
        **changes,  # type: ignore[arg-type]
    )


@transaction.atomic
def lock_topic(*, topic: Topic, acting: Acting, locked: bool) -> Topic:
    """Lock a topic (no more replies but the moderators') or unlock it; unlocking also
    ends a timed close.

    Raise PermissionDenied outside the rules, or when the topic is that way already
    (another moderator got there first).
    """
    topic = _locked_topic(topic)
    if acting.actor is not None:
        permissions.check_lock_topic(acting.actor, topic)
    if topic.is_locked == locked and (locked or topic.closed_until is None):
        raise PermissionDenied(
            _("This topic is locked already.") if locked else _("This topic is open already.")
        )
    topic.is_locked = locked
    topic.closed_until = None
    topic.save(update_fields=["is_locked", "closed_until"])
    _audit_topic(acting, "topic.lock" if locked else "topic.unlock", topic)
    announce(TopicChanged(topic.pk, topic.forum_id))
    return topic


@transaction.atomic
def pin_topic(*, topic: Topic, acting: Acting, pinned: bool) -> Topic:
    """Pin a topic at the top of its forum's first page, or unpin it.

    Raise PermissionDenied outside the rules, or when it is that way already.
    """
    topic = _locked_topic(topic)
    if acting.actor is not None:
        permissions.check_pin_topic(acting.actor, topic)
    if topic.is_pinned == pinned:
        raise PermissionDenied(
            _("This topic is pinned already.") if pinned else _("This topic is not pinned.")
        )
    topic.is_pinned = pinned
    topic.save(update_fields=["is_pinned"])
    _audit_topic(acting, "topic.pin" if pinned else "topic.unpin", topic)
    announce(TopicChanged(topic.pk, topic.forum_id))
    return topic


@transaction.atomic
def close_topic(*, topic: Topic, acting: Acting, until: datetime) -> Topic:
    """Close a topic to replies until `until`, when it opens again by itself (no task
    needed: the rules compare the time).

    Raise PermissionDenied outside the rules or for a locked topic, ValidationError for
    a time already past.
    """
    topic = _locked_topic(topic)
    if acting.actor is not None:
        permissions.check_lock_topic(acting.actor, topic)
    if until <= timezone.now():
        raise ValidationError({"until": _("Choose a time still to come.")})
    if topic.is_locked:
        raise PermissionDenied(_("This topic is locked: unlock it instead."))
    before = {"closed_until": topic.closed_until.isoformat() if topic.closed_until else None}
    topic.closed_until = until
    topic.save(update_fields=["closed_until"])
    _audit_topic(
        acting, "topic.close", topic, before=before, after={"closed_until": until.isoformat()}
    )
    announce(TopicChanged(topic.pk, topic.forum_id))
    return topic


@transaction.atomic
def move_topic(*, topic: Topic, to_forum: Forum, acting: Acting) -> Topic:
    """Move a topic, with its posts and their counts, to `to_forum`; its address stays.

    Raise PermissionDenied outside the rules (permissions.check_move_topic: moderators
    of both forums, not into the forum it is in).
    """
    topic = _locked_topic(topic)
    if acting.actor is not None:
        permissions.check_move_topic(acting.actor, topic, to_forum.pk)
    from_forum = topic.forum
    topic.forum = to_forum
    topic.save(update_fields=["forum"])
    counters.move_topic_counts(topic, from_forum.pk)
    _audit_topic(
        acting,
        "topic.move",
        topic,
        before={"forum_id": from_forum.pk, "forum": from_forum.name},
        after={"forum_id": to_forum.pk, "forum": to_forum.name},
    )
    announce(TopicMoved(topic.pk, to_forum.pk, from_forum_id=from_forum.pk))
    return topic


# -- Merge and split ------------------------------------------------------------------------


def _remember_addresses(topic_id: int, posts: list[tuple[int, int]]) -> None:
    """Keep where `posts` ((id, number) pairs) were in topic `topic_id`, so old links
    still find them; an address already kept (a post moved twice) points on."""
    PostAddress.objects.bulk_create(
        [PostAddress(topic_id_was=topic_id, number_was=number, post_id=pk) for pk, number in posts],
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["topic_id_was", "number_was"],
        update_fields=["post"],
    )


def _recount(topics: list[Topic]) -> None:
    counters.recount_topics([topic.pk for topic in topics])
    counters.recount_forums({topic.forum_id for topic in topics})


@transaction.atomic
def merge_topics(*, topic: Topic, into: Topic, acting: Acting) -> Topic:
    """Move every post of `topic` to the end of `into`, in their order, and leave `topic`
    as a pointer to it (its address and its posts' old addresses send readers on).

    Raise PermissionDenied outside the rules (permissions.check_merge_topics: moderators
    of both forums; not a topic into itself).
    """
    first, second = sorted([topic.pk, into.pk])
    locked = {
        row.pk: row
        for row in Topic.objects.select_for_update().filter(pk__in=[first, second]).order_by("pk")
    }
    if topic.pk == into.pk:
        raise PermissionDenied(_("A topic can't be merged into itself."))
    topic, into = locked[topic.pk], locked[into.pk]
    if acting.actor is not None:
        permissions.check_merge_topics(acting.actor, topic, into)
    moved = list(Post.objects.filter(topic=topic).values_list("pk", "number"))
    offset = into.last_number
    Post.objects.filter(topic=topic).update(topic=into, number=F("number") + offset)
    _remember_addresses(topic.pk, moved)
    Topic.objects.filter(pk=topic.pk).update(is_deleted=True, merged_into=into, last_number=0)
    # The merged topic's first post counted its author in; as a reply it still does.
    _recount([topic, into])
    into.refresh_from_db()
    audit.record(
        acting,
        "topic.merge",
        target_type="topic",
        target_id=topic.pk,
        target_label=topic.title,
        forum_id=topic.forum_id,
        subject_id=topic.author_id,
        after={"into": into.pk, "into_title": into.title, "posts": len(moved)},
    )
    announce(TopicChanged(topic.pk, topic.forum_id), TopicChanged(into.pk, into.forum_id))
    return into


@transaction.atomic
def split_topic(
    *, topic: Topic, numbers: list[int], title: str, to_forum: Forum, acting: Acting
) -> Topic:
    """Move the replies numbered `numbers` of `topic` into a new topic `title` in
    `to_forum`, numbered from 1 in their order; their old addresses send readers on.

    Raise ValidationError for no replies chosen, the first post, or a number not in the
    topic; PermissionDenied outside the rules (permissions.check_split_topic).
    """
    topic = _locked_topic(topic)
    if acting.actor is not None:
        permissions.check_split_topic(acting.actor, topic, to_forum.pk)
    chosen = sorted(set(numbers))
    if not chosen:
        raise ValidationError({"posts": _("Choose at least one reply to split off.")})
    if 1 in chosen:
        raise ValidationError({"posts": _("The first post stays with its topic: choose replies.")})
    title = " ".join(title.split())
    if len(title) < 3:
        raise ValidationError({"title": _("Give the new topic a title of at least 3 characters.")})
    posts = list(Post.objects.filter(topic=topic, number__in=chosen).order_by("number"))
    missing = sorted(set(chosen) - {post.number for post in posts})
    if missing:
        raise ValidationError(
            {"posts": _("Post #%(number)s is not in this topic.") % {"number": missing[0]}}
        )
    lead, last = posts[0], posts[-1]
    new = Topic.objects.create(
        forum=to_forum,
        title=title,
        slug=make_slug(title),
        author_id=lead.author_id,
        created_at=lead.created_at,
        last_post_at=last.created_at,
        last_poster_id=last.author_id,
        last_number=len(posts),
    )
    _remember_addresses(topic.pk, [(post.pk, post.number) for post in posts])
    for number, post in enumerate(posts, start=1):
        post.topic, post.number = new, number
        post.recommended_at = post.recommended_at if number > 1 else None
    Post.objects.bulk_update(posts, ["topic", "number", "recommended_at"], batch_size=500)
    _recount([topic, new])
    # Numbers are never handed out again: the split-off replies' old addresses lead on.
    Topic.objects.filter(pk=topic.pk).update(last_number=Greatest("last_number", topic.last_number))
    audit.record(
        acting,
        "topic.split",
        target_type="topic",
        target_id=topic.pk,
        target_label=topic.title,
        forum_id=topic.forum_id,
        subject_id=topic.author_id,
        after={"new_topic": new.pk, "title": new.title, "posts": chosen},
    )
    announce(TopicChanged(topic.pk, topic.forum_id), TopicChanged(new.pk, new.forum_id))
    return new


# -- Several topics at once, from a forum page ------------------------------------------------

#: The most topics one action from a forum page takes: a page shows 25, and its pinned.
BULK_LIMIT = 100

#: What a moderator can do to several topics at once.
BULK_ACTIONS = ("lock", "unlock", "pin", "unpin", "move", "delete")


@dataclass(frozen=True)
class BulkOutcome:
    """What an action on several topics did: how many it changed, and how many it left
    because they were that way already."""

    done: int
    skipped: int


def _already(action: str, topic: Topic) -> bool:
    match action:
        case "lock":
            return topic.is_locked
        case "unlock":
            return not topic.is_locked and topic.closed_until is None
        case "pin":
            return topic.is_pinned
        case "unpin":
            return not topic.is_pinned
    return False


@transaction.atomic
def act_on_topics(
    *,
    forum: Forum,
    topic_ids: list[int],
    action: str,
    acting: Acting,
    to_forum: Forum | None = None,
) -> BulkOutcome:
    """Lock, unlock, pin, unpin, move (to `to_forum`) or delete the topics `topic_ids` of
    `forum`, all in one transaction: each topic as its own tool would, audit entry and
    event included. Topics already that way are left and counted as skipped.

    Raise PermissionDenied outside the rules (the first refusal undoes the whole action),
    ValidationError for no topics, too many, or one no longer in `forum` (moved or
    deleted since the page was read), or a move or delete missing its forum or reason.
    """
    actor = acting.actor
    if actor is None:
        raise PermissionDenied(_("Only a moderator acts on topics from a forum page."))
    permissions.check_bulk_topics(actor, forum.pk)
    if action not in BULK_ACTIONS:
        raise ValidationError({"action": _("That is not something moderators do to topics.")})
    chosen = sorted(set(topic_ids))
    if not chosen:
        raise ValidationError({"topics": _("Tick the topics to act on first.")})
    if len(chosen) > BULK_LIMIT:
        raise ValidationError(
            {"topics": _("Choose at most %(limit)s topics at once.") % {"limit": BULK_LIMIT}}
        )
    if action == "move" and to_forum is None:
        raise ValidationError({"to_forum": _("Choose the forum to move the topics to.")})
    if action == "delete":
        _require_reason(acting)
    # Locked in id order, as merge_topics locks its two: two moderators' actions on
    # overlapping topics wait for each other instead of deadlocking.
    topics = list(Topic.objects.select_for_update().filter(pk__in=chosen).order_by("pk"))
    if len(topics) < len(chosen) or any(t.forum_id != forum.pk or t.is_deleted for t in topics):
        raise ValidationError(
            {
                "topics": _(
                    "Some of those topics are no longer in this forum (moved or deleted "
                    "since the page was loaded). Reload it and choose again."
                )
            }
        )
    firsts = {}
    if action == "delete":
        firsts = {post.topic_id: post for post in Post.objects.filter(topic__in=chosen, number=1)}
    skipped = 0
    for topic in topics:
        if _already(action, topic):
            skipped += 1
        elif action in ("lock", "unlock"):
            lock_topic(topic=topic, acting=acting, locked=action == "lock")
        elif action in ("pin", "unpin"):
            pin_topic(topic=topic, acting=acting, pinned=action == "pin")
        elif action == "move":
            move_topic(topic=topic, to_forum=to_forum, acting=acting)  # type: ignore[arg-type]
        else:
            delete_post(
                post=firsts[topic.pk], actor=actor, reason=acting.reason, address=acting.address
            )
    return BulkOutcome(done=len(topics) - skipped, skipped=skipped)
