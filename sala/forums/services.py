"""Writes on topics and posts: one function per use case, each in one transaction.

Each write announces what it did (sala.forums.events) and nothing more; once it commits,
the listeners do the rest (sala.forums.listeners: the cached pages it changed are dropped,
open pages are told), so nothing rolled back is ever announced.

Every counter a page shows (replies, posts, last post, a member's post count) is kept
here, in the same transaction as the write, so the read path never counts rows; what each
one counts is written down in sala.forums.counters, with the steps that keep it. Rows
are locked in one order, the topic, then the member, then the forum (shared by all its
topics, so locked last and held shortest), so two writes never wait on each other in a
circle.
"""

import uuid
from collections.abc import Callable
from contextlib import nullcontext
from functools import cache
from typing import Any, NamedTuple

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Field
from django.db.models.functions import Greatest
from django.utils import timezone

from sala.accounts import selectors as accounts_selectors
from sala.accounts.events import MemberChanged
from sala.accounts.models import User
from sala.core.events import announce
from sala.core.rate_limits import RateLimited
from sala.forums import counters, selectors
from sala.forums.events import (
    HeldWithdrawn,
    PostDeleted,
    PostEdited,
    PostHeld,
    RecommendationChanged,
    ReplyPosted,
    TopicStarted,
)
from sala.forums.models import (
    Forum,
    HeldPost,
    HeldState,
    Post,
    PostRevision,
    Topic,
    TopicRead,
    make_slug,
    validate_source_url,
)
from sala.staff import audit, permissions
from sala.staff.audit import Acting
from sala.text.cooking import CookedText, cook
from sala.trust import limits


def cook_post(text: str) -> CookedText:
    """Return `text` cooked for storage, with @mentions of real members linked."""

    @cache
    def profile_url(username: str) -> str | None:
        member = accounts_selectors.find_member(username)
        return member.get_absolute_url() if member else None

    return cook(text, profile_url=profile_url)


def _find_submitted(author: User, submission_key: uuid.UUID) -> Post | None:
    return (
        Post.objects.filter(author=author, submission_key=submission_key)
        .select_related("topic")
        .first()
    )


def _once(author: User, submission_key: uuid.UUID | None, write: Callable[[], Post]) -> Post:
    """Run `write`, unless `submission_key` was already used by `author`; return the post.

    A double click or a retried request carries the same key: the first submission
    writes, the others meet its row at the unique constraint on (author, submission_key),
    roll back and return it. Nothing is looked up before writing: repeats are rare, and
    a lookup would cost every post a query.
    """
    try:
        return write()
    except IntegrityError:
        existing = None if submission_key is None else _find_submitted(author, submission_key)
        if existing is None:
            raise
        return existing


def create_topic(
    *,
    forum: Forum,
    author: User,
    title: str,
    text: str,
    source_url: str = "",
    submission_key: uuid.UUID | None = None,
    cooked: CookedText | None = None,
) -> Topic:
    """Start a topic in `forum` with its first post, cooked (unless `cooked` is the text
    cooked already) and counted; announce it to the forum's open pages after commit.

    Raise PermissionDenied for guests and inactive members, and ValidationError for a
    source that is not an http(s) address.
    """
    permissions.check_start_topic(author, forum.pk)
    source_url = validate_source_url(source_url) if source_url else ""
    cooked = cooked or cook_post(text)

    @transaction.atomic
    def write() -> Post:
        now = timezone.now()
        topic = Topic.objects.create(
            forum=forum,
            title=title,
            slug=make_slug(title),
            author=author,
            source_url=source_url,
            created_at=now,
            last_post_at=now,
            last_poster=author,
            last_number=1,
        )
        post = Post.objects.create(
            topic=topic,
            number=1,
            author=author,
            text=text,
            html=cooked.html,
            created_at=now,
            submission_key=submission_key,
        )
        counters.count_new_topic(post, forum.pk)
        announce(TopicStarted(topic.pk, forum.pk, number=1, author_id=author.pk))
        return post

    return _once(author, submission_key, write).topic


def reply(
    *,
    topic: Topic,
    author: User,
    text: str,
    submission_key: uuid.UUID | None = None,
    cooked: CookedText | None = None,
) -> Post:
    """Add a reply at the end of `topic`, cooked (unless `cooked` is the text cooked
    already) and counted; announce it after commit to the topic's open pages and its
    forum's.

    On PostgreSQL a reply to an open topic is stored in one statement (see
    _store_reply_at_once). `topic` is brought up to date with the reply: its last number,
    count and last poster. Raise PermissionDenied for guests, a locked topic (unless
    moderating) or a deleted one.
    """
    permissions.check_reply(author, topic)
    cooked = cooked or cook_post(text)

    def write() -> Post:
        post = Post(
            topic=topic,
            author=author,
            text=text,
            html=cooked.html,
            created_at=timezone.now(),
            submission_key=submission_key,
        )
        counted = None
        if connection.vendor == "postgresql":
            # One statement is its own transaction; inside the caller's, a savepoint lets
            # a repeated submission fail alone.
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                counted = _store_reply_at_once(post)
        if counted is None:
            with transaction.atomic():
                counted = _store_reply(post)
        topic.last_number, topic.reply_count, topic.forum_id = counted
        topic.last_post_at, topic.last_poster = post.created_at, author
        # Committed by now, unless the caller holds a transaction: then it waits for it.
        announce(ReplyPosted(topic.pk, topic.forum_id, number=post.number, author_id=author.pk))
        return post

    return _once(author, submission_key, write)


# -- What members submit: published, or held for approval --------------------------------


def submit_topic(
    *,
    forum: Forum,
    author: User,
    title: str,
    text: str,
    source_url: str = "",
    submission_key: uuid.UUID | None = None,
) -> Topic | HeldPost:
    """Start a topic for a member, as create_topic does, unless it must wait for the
    moderators' approval (permissions.hold_for): then hold it, and return what waits."""
    permissions.check_start_topic(author, forum.pk)
    repeated = _check_rates(author, "topic", text, submission_key)
    if repeated is not None:
        return repeated.topic if isinstance(repeated, Post) else repeated
    cooked = _cooked_within_limits(author, text)
    hold = permissions.hold_for(author, forum.pk, forum_approves=forum.approve_new_topics)
    if hold is None:
        return create_topic(
            forum=forum,
            author=author,
            title=title,
            text=text,
            source_url=source_url,
            submission_key=submission_key,
            cooked=cooked,
        )
    held = HeldPost(
        forum=forum,
        author=author,
        title=title,
        source_url=validate_source_url(source_url) if source_url else "",
        text=text,
    )
    return _hold(held, hold, submission_key, cooked)


def submit_reply(
    *, topic: Topic, author: User, text: str, submission_key: uuid.UUID | None = None
) -> Post | HeldPost:
    """Reply for a member, as reply does, unless the reply must wait for the moderators'
    approval (permissions.hold_for): then hold it, and return what waits."""
    permissions.check_reply(author, topic)
    repeated = _check_rates(author, "reply", text, submission_key)
    if repeated is not None:
        return repeated
    cooked = _cooked_within_limits(author, text)
    hold = permissions.hold_for(author, topic.forum_id)
    if hold is None:
        return reply(
            topic=topic, author=author, text=text, submission_key=submission_key, cooked=cooked
        )
    held = HeldPost(forum_id=topic.forum_id, topic=topic, author=author, text=text)
    return _hold(held, hold, submission_key, cooked)


def _check_rates(
    author: User, kind: limits.PostKind, text: str, submission_key: uuid.UUID | None
) -> Post | HeldPost | None:
    """Count the post against the author's rate limits (trust.limits.check_post); raise
    RateLimited when it is refused, unless it repeats a submission already stored (a
    double click): then return what that one became."""
    try:
        limits.check_post(author, kind, text)
    except RateLimited:
        if submission_key is not None:
            existing = _find_submitted(author, submission_key) or (
                HeldPost.objects.filter(author=author, submission_key=submission_key)
                .select_related("topic", "forum")
                .first()
            )
            if existing is not None:
                return existing
        raise
    return None


def _cooked_within_limits(author: User, text: str) -> CookedText | None:
    """Refuse a new member's text over their limits on links, images and mentions
    (trust.limits.check_content), returning it cooked; None (and no cooking, which looks
    members up) for everyone else."""
    if not permissions.is_new_member(author):
        return None
    cooked = cook_post(text)
    limits.check_content(author, cooked)
    return cooked


def _hold(
    held: HeldPost,
    hold: permissions.Hold,
    submission_key: uuid.UUID | None,
    cooked: CookedText | None = None,
) -> HeldPost:
    """Store `held`, cooked, for `hold`'s reason; count it for its author; announce it.

    A repeated submission (the same key) returns what the first one held, or the post it
    has become since.
    """
    held.html = (cooked or cook_post(held.text)).html
    held.reason, held.reason_detail = hold.reason, hold.detail[:500]
    held.submission_key = submission_key
    try:
        with transaction.atomic():
            held.save(force_insert=True)
            User.objects.filter(pk=held.author_id).update(held_count=F("held_count") + 1)
            announce(
                PostHeld(held.pk, held.forum_id, held.topic_id, held.author_id),
                # The member's pages look for their held posts while they have some.
                MemberChanged(held.author_id),
            )
    except IntegrityError:
        existing = HeldPost.objects.filter(
            author_id=held.author_id, submission_key=submission_key
        ).first()
        if submission_key is None or existing is None:
            raise
        return existing
    return held


def settle_held(held: HeldPost, state: HeldState, post: Post | None = None) -> None:
    """Mark `held` (locked, still waiting) approved as `post`, rejected or withdrawn, and
    no longer count it for its author; inside the caller's transaction."""
    held.state, held.post = state, post
    held.save(update_fields=["state", "post"])
    User.objects.filter(pk=held.author_id, held_count__gt=0).update(held_count=F("held_count") - 1)
    announce(MemberChanged(held.author_id))


def publish_held(held: HeldPost) -> Post:
    """Publish `held` as its author's new topic or reply, written now: numbered, counted
    and announced as any; raise PermissionDenied when its author may no longer post it
    (suspended, silenced, the topic locked or deleted meanwhile)."""
    author = held.author
    if held.topic_id is None:
        topic = create_topic(
            forum=held.forum,
            author=author,
            title=held.title,
            text=held.text,
            source_url=held.source_url,
            submission_key=held.submission_key,
        )
        return Post.objects.get(topic=topic, number=1)
    topic = Topic.objects.get(pk=held.topic_id)
    return reply(topic=topic, author=author, text=held.text, submission_key=held.submission_key)


@transaction.atomic
def withdraw_held(*, held: HeldPost, member: User) -> None:
    """Let the author take back their post awaiting approval; it is then never shown."""
    held = HeldPost.objects.select_for_update().get(pk=held.pk)
    permissions.check_withdraw_held(member, held)
    settle_held(held, HeldState.WITHDRAWN)
    announce(HeldWithdrawn(held.pk))


class _Counted(NamedTuple):
    """A topic's row as a reply left it."""

    last_number: int
    reply_count: int
    forum_id: int


def _store_reply(post: Post) -> _Counted:
    """Number `post`, store it and count it in its topic, its author and its forum, one
    statement after another; refuse it, changing nothing, if its author may not reply
    to the topic as it is once locked.

    Taking the number is one UPDATE that counts the reply and locks the topic's row until
    the transaction ends, so concurrent replies take numbers one after another (SQLite's
    IMMEDIATE transactions queue them the same way): reading the row FOR UPDATE first
    would hold the lock a round trip longer. The ORM's update() returns no columns, hence
    the SQL. Raise Topic.DoesNotExist if the row is gone.
    """
    topic = post.topic
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE forums_topic"
            " SET last_number = last_number + 1, reply_count = reply_count + 1,"
            " last_post_at = %s, last_poster_id = %s"
            " WHERE id = %s"
            " RETURNING last_number, reply_count, forum_id, is_locked, is_deleted, closed_until",
            [connection.ops.adapt_datetimefield_value(post.created_at), post.author_id, topic.pk],
        )
        row = cursor.fetchone()
    if row is None:
        raise Topic.DoesNotExist(f"Topic {topic.pk} does not exist.")
    counted = _Counted(*row[:3])
    # It may have been locked or deleted since it was read; refusing rolls the count back.
    topic.forum_id = counted.forum_id
    topic.is_locked, topic.is_deleted = bool(row[3]), bool(row[4])
    topic.closed_until = selectors.moment_from_row(row[5])
    permissions.check_reply(post.author, topic)
    post.number = counted.last_number
    post.save(force_insert=True)
    counters.count_reply(post, counted.forum_id)
    return counted


def _store_reply_at_once(post: Post) -> _Counted | None:
    """Do what _store_reply does in one statement, on PostgreSQL, if the topic is open.

    Return None, having changed nothing, if the topic is locked, closed, deleted or gone:
    _store_reply then decides, with the rules for moderators.

    One statement, committed on its own, is one round trip where _store_reply takes
    six (BEGIN and COMMIT included), and the rows it locks are held only while the
    database runs it: with statements one by one they stay locked across every round
    trip, and across the waits of the worker's thread for the GIL between them. The
    statement locks rows in the same order as _store_reply: topic, member, forum.
    """
    sql, fields = _reply_statement()
    values = [field.get_db_prep_save(field.pre_save(post, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                post.created_at,
                post.author_id,
                post.topic_id,
                post.created_at,
                *values,
                post.author_id,
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    post_id, *counts = row
    post.pk, post.number = post_id, counts[0]
    post._state.adding, post._state.db = False, connection.alias
    return _Counted(*counts)


@cache
def _reply_statement() -> tuple[str, list[Field[Any, Any]]]:
    """Return the statement of _store_reply_at_once, and the fields of Post whose values
    it takes, in order (all but the id and the number, which the topic's row gives)."""
    fields = [
        field
        for field in Post._meta.concrete_fields
        if not field.primary_key and field.name != "number"
    ]
    columns = ", ".join(connection.ops.quote_name(str(field.column)) for field in fields)
    values = ", ".join(["%s"] * len(fields))
    # The steps of _store_reply, counters.count_reply's included, in one statement.
    # Each step reads the one before it, which fixes the order rows are locked in; a
    # step that finds nothing leaves the ones after it nothing to do. A reply to another
    # of the forum's topics may take a newer id and yet reach the forum's row first:
    # GREATEST keeps the newer post as the forum's last.
    sql = f"""
        WITH topic AS (
            UPDATE forums_topic
            SET last_number = last_number + 1, reply_count = reply_count + 1,
                last_post_at = %s, last_poster_id = %s
            WHERE id = %s AND NOT is_locked AND NOT is_deleted
                AND (closed_until IS NULL OR closed_until <= %s)
            RETURNING last_number, reply_count, forum_id
        ), post AS (
            INSERT INTO forums_post (number, {columns})
            SELECT last_number, {values} FROM topic
            RETURNING id
        ), member AS (
            UPDATE accounts_user SET post_count = post_count + 1
            WHERE id = %s AND EXISTS (SELECT FROM post)
            RETURNING id
        )
        UPDATE forums_forum
        SET post_count = post_count + 1, last_post_id = GREATEST(last_post_id, post.id)
        FROM topic, post
        WHERE forums_forum.id = topic.forum_id AND EXISTS (SELECT FROM member)
        RETURNING post.id, topic.last_number, topic.reply_count, topic.forum_id
    """  # noqa: S608  (names from the model, values as parameters)
    return sql, fields


def _acting(actor: User, reason: str, address: str | None) -> Acting:
    return Acting(actor=actor, reason=reason.strip(), address=address)


def audit_post(acting: Acting, action: str, post: Post, **changes: Any) -> None:
    """Record in the audit log what staff did to `post` (inside the action's transaction)."""
    topic = post.topic
    audit.record(
        acting,
        action,
        target_type="post",
        target_id=post.pk,
        target_label=f"{topic.title} #{post.number}",
        forum_id=topic.forum_id,
        subject_id=post.author_id,
        **changes,
    )


@transaction.atomic
def edit_post(
    *,
    post: Post,
    editor: User,
    text: str,
    title: str | None = None,
    reason: str = "",
    address: str | None = None,
) -> Post:
    """Replace a post's text (and, for a first post, the topic's title), keeping a revision
    that says who edited it and why.

    An edit of another member's post (a moderator's) is recorded in the audit log with
    the text before and after. Raise PermissionDenied outside the edit rules (see
    permissions.check_edit_post), RateLimited past the day's cap of edits.
    """
    permissions.check_edit_post(editor, post)
    topic = post.topic
    new_title = title if title is not None and post.is_first else topic.title
    if text == post.text and new_title == topic.title:
        return post
    cooked = cook_post(text)
    if post.author_id == editor.pk and permissions.is_new_member(editor):
        limits.check_content(editor, cooked)
    limits.check_edit(editor)
    before = {"text": post.text, **({"title": topic.title} if post.is_first else {})}
    PostRevision.objects.create(
        post=post,
        number=post.edit_count + 1,
        text=post.text,
        html=post.html,
        title=topic.title if post.is_first else "",
        created_at=post.edited_at or post.created_at,
        editor=editor,
        reason=reason.strip(),
    )
    post.text = text
    post.html = cooked.html
    post.edited_at = timezone.now()
    post.edit_count += 1
    post.save(update_fields=["text", "html", "edited_at", "edit_count"])
    title_changed = new_title != topic.title
    if title_changed:
        # The id in the URL finds the topic, so links with the old slug still work and
        # are redirected to the new one.
        topic.title = new_title
        topic.slug = make_slug(new_title)
        topic.save(update_fields=["title", "slug"])
    if editor.pk != post.author_id:
        after = {"text": text, **({"title": topic.title} if post.is_first else {})}
        audit_post(_acting(editor, reason, address), "post.edit", post, before=before, after=after)
    announce(
        PostEdited(
            topic.pk,
            topic.forum_id,
            number=post.number,
            author_id=post.author_id,
            recommended=post.recommended_at is not None,
            title_changed=title_changed,
        )
    )
    return post


@transaction.atomic
def delete_post(*, post: Post, actor: User, reason: str = "", address: str | None = None) -> None:
    """Delete a post softly (its number stays taken, so links elsewhere stay right) and
    take it out of the counts; moderators can restore it.

    Deleting the first post deletes the topic. Deleting another member's post (a
    moderator's) is recorded in the audit log, with `reason`. Raise PermissionDenied
    outside the rules.
    """
    # Check against the rows as they are now: a reply may have arrived since they were
    # read, a moderator may have hidden or deleted the post.
    topic = Topic.objects.select_for_update().get(pk=post.topic_id)
    fresh = Post.objects.select_for_update().get(pk=post.pk)
    post.is_deleted, post.is_hidden = fresh.is_deleted, fresh.is_hidden
    post.recommended_at = fresh.recommended_at
    post.topic = topic
    permissions.check_delete_post(actor, post)
    was_counted = counters.is_counted(post)
    was_recommended = post.recommended_at is not None
    Post.objects.filter(pk=post.pk).update(is_deleted=True, recommended_at=None)
    post.is_deleted = True
    post.recommended_at = None
    if post.is_first:
        Topic.objects.filter(pk=topic.pk).update(is_deleted=True)
    if was_counted:  # a hidden reply was out of the counts already
        counters.uncount_post(post, topic)
    if actor.pk != post.author_id:
        action = "topic.delete" if post.is_first else "post.delete"
        audit_post(_acting(actor, reason, address), action, post)
    announce(
        PostDeleted(
            topic.pk,
            topic.forum_id,
            number=post.number,
            author_id=post.author_id,
            was_recommended=was_recommended,
        )
    )


@transaction.atomic
def recommend_post(*, post: Post, moderator: User) -> Post:
    """Mark a reply as recommended; it is shown first under "Recommended Posts"."""
    permissions.check_recommend_post(moderator, post)
    post.recommended_by = moderator
    post.recommended_at = timezone.now()
    post.save(update_fields=["recommended_by", "recommended_at"])
    announce(_recommendation_changed(post, moderator, recommended=True))
    return post


@transaction.atomic
def unrecommend_post(*, post: Post, moderator: User) -> Post:
    """Take a reply out of "Recommended Posts"."""
    permissions.check_unrecommend_post(moderator, post)
    post.recommended_by = None
    post.recommended_at = None
    post.save(update_fields=["recommended_by", "recommended_at"])
    announce(_recommendation_changed(post, moderator, recommended=False))
    return post


def _recommendation_changed(
    post: Post, moderator: User, *, recommended: bool
) -> RecommendationChanged:
    return RecommendationChanged(
        post.topic_id,
        post.topic.forum_id,
        number=post.number,
        author_id=post.author_id,
        recommended=recommended,
        moderator_id=moderator.pk,
    )


def mark_read(*, member: User, topic_id: int, number: int) -> None:
    """Record that `member` has read topic `topic_id` up to post `number` (never backwards).

    One UPDATE once the member has read the topic before; reading page 1 again after the
    last page keeps the furthest point.
    """
    reads = TopicRead.objects.filter(member=member, topic_id=topic_id)
    if reads.update(last_number=Greatest("last_number", number)):
        return
    try:
        with transaction.atomic():
            TopicRead.objects.create(member=member, topic_id=topic_id, last_number=number)
    except IntegrityError:  # another tab of the same member got there first
        reads.update(last_number=Greatest("last_number", number))


def add_views(counts: dict[int, int]) -> None:
    """Apply buffered topic view counts, one UPDATE per topic.

    Cached forum pages are left to expire: a view count a few seconds behind is not worth
    rendering a busy forum's page again every time views are flushed.
    """
    with transaction.atomic():
        for topic_id, amount in sorted(counts.items()):
            Topic.objects.filter(pk=topic_id).update(view_count=F("view_count") + amount)
