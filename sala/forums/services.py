"""Writes on topics and posts: one function per use case, each in one transaction.

Each write announces itself on the live bus after it commits (new topics, replies,
edits, deletions), so open pages learn of it and nothing rolled back is ever announced.
New topics and replies name their forum, so its open forum pages hear of them too.

Every counter a page shows (replies, posts, last post, a member's post count) is kept
here, in the same transaction as the write, so the read path never counts rows. And
each write bumps, after it commits, the generations of the pages it changes, so no guest
is served a cached copy from before it (sala.core.page_cache).
"""

import uuid
from collections.abc import Callable
from functools import cache

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from sala.accounts import selectors as accounts_selectors
from sala.accounts.models import User
from sala.core import page_cache
from sala.core.page_cache import INDEX, forum_generation, topic_generation
from sala.forums import permissions
from sala.forums.models import (
    Forum,
    Post,
    PostRevision,
    Topic,
    TopicRead,
    make_slug,
    validate_source_url,
)
from sala.live.bus import Event, publish_on_commit
from sala.text.cooking import CookedText, cook


def cook_post(text: str) -> CookedText:
    """Return `text` cooked for storage, with @mentions of real members linked."""

    @cache
    def profile_url(username: str) -> str | None:
        member = accounts_selectors.find_member(username)
        return member.get_absolute_url() if member else None

    return cook(text, profile_url=profile_url)


def _find_submitted(author: User, submission_key: uuid.UUID | None) -> Post | None:
    if submission_key is None:
        return None
    return (
        Post.objects.filter(author=author, submission_key=submission_key)
        .select_related("topic")
        .first()
    )


def _once(author: User, submission_key: uuid.UUID | None, write: Callable[[], Post]) -> Post:
    """Run `write` unless `submission_key` was already used by `author`; return the post.

    A double click or a retried request carries the same key: the first submission
    writes, the others get its post. Two racing submissions meet at the unique
    constraint on (author, submission_key); the loser rolls back and returns the winner.
    """
    existing = _find_submitted(author, submission_key)
    if existing is not None:
        return existing
    try:
        return write()
    except IntegrityError:
        existing = _find_submitted(author, submission_key)
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
) -> Topic:
    """Start a topic in `forum` with its first post, cooked and counted; announce it
    to the forum's open pages after commit.

    Raise PermissionDenied for guests and inactive members, and ValidationError for a
    source that is not an http(s) address.
    """
    permissions.check_start_topic(author, forum)
    source_url = validate_source_url(source_url) if source_url else ""
    cooked = cook_post(text)

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
        Forum.objects.filter(pk=forum.pk).update(
            topic_count=F("topic_count") + 1, post_count=F("post_count") + 1, last_post=post
        )
        User.objects.filter(pk=author.pk).update(post_count=F("post_count") + 1)
        publish_on_commit(Event("topic", topic.pk, {"number": 1}, forum_id=forum.pk))
        page_cache.bump_on_commit(forum_generation(forum.pk), INDEX)
        return post

    return _once(author, submission_key, write).topic


def reply(
    *, topic: Topic, author: User, text: str, submission_key: uuid.UUID | None = None
) -> Post:
    """Add a reply at the end of `topic`, cooked and counted; announce it after commit
    to the topic's open pages and its forum's.

    Raise PermissionDenied for guests, a locked topic (unless moderating) or a deleted one.
    """
    permissions.check_reply(author, topic)
    cooked = cook_post(text)

    @transaction.atomic
    def write() -> Post:
        # The row lock makes concurrent replies take numbers one after another
        # (SQLite gets the same from its IMMEDIATE transactions).
        locked = Topic.objects.select_for_update().get(pk=topic.pk)
        permissions.check_reply(author, locked)
        now = timezone.now()
        post = Post.objects.create(
            topic=locked,
            number=locked.last_number + 1,
            author=author,
            text=text,
            html=cooked.html,
            created_at=now,
            submission_key=submission_key,
        )
        Topic.objects.filter(pk=locked.pk).update(
            last_number=F("last_number") + 1,
            reply_count=F("reply_count") + 1,
            last_post_at=now,
            last_poster=author,
        )
        Forum.objects.filter(pk=locked.forum_id).update(
            post_count=F("post_count") + 1, last_post=post
        )
        User.objects.filter(pk=author.pk).update(post_count=F("post_count") + 1)
        publish_on_commit(
            Event("reply", locked.pk, {"number": post.number}, forum_id=locked.forum_id)
        )
        page_cache.bump_on_commit(
            topic_generation(locked.pk), forum_generation(locked.forum_id), INDEX
        )
        return post

    return _once(author, submission_key, write)


@transaction.atomic
def edit_post(*, post: Post, editor: User, text: str, title: str | None = None) -> Post:
    """Replace a post's text (and, for a first post, the topic's title), keeping a revision.

    Raise PermissionDenied outside the edit rules (see permissions.check_edit_post).
    """
    permissions.check_edit_post(editor, post)
    topic = post.topic
    new_title = title if title is not None and post.is_first else topic.title
    if text == post.text and new_title == topic.title:
        return post
    PostRevision.objects.create(
        post=post,
        number=post.edit_count + 1,
        text=post.text,
        html=post.html,
        title=topic.title if post.is_first else "",
        created_at=post.edited_at or post.created_at,
        editor=editor,
    )
    post.text = text
    post.html = cook_post(text).html
    post.edited_at = timezone.now()
    post.edit_count += 1
    post.save(update_fields=["text", "html", "edited_at", "edit_count"])
    publish_on_commit(Event("edit", topic.pk, {"number": post.number}))
    page_cache.bump_on_commit(topic_generation(topic.pk))
    if new_title != topic.title:
        # The id in the URL finds the topic, so links with the old slug still work and
        # are redirected to the new one.
        topic.title = new_title
        topic.slug = make_slug(new_title)
        topic.save(update_fields=["title", "slug"])
        # The title is in the forum's list, and on the index beside the latest post.
        page_cache.bump_on_commit(forum_generation(topic.forum_id), INDEX)
    return post


@transaction.atomic
def delete_post(*, post: Post, actor: User) -> None:
    """Hide a post (softly: its number stays taken) and take it out of the counts.

    Deleting the first post deletes the topic. Raise PermissionDenied outside the rules.
    """
    # Check against the topic as it is now: a reply may have arrived since it was read.
    topic = Topic.objects.select_for_update().get(pk=post.topic_id)
    post.topic = topic
    permissions.check_delete_post(actor, post)
    Post.objects.filter(pk=post.pk).update(is_deleted=True, recommended_at=None)
    post.is_deleted = True
    User.objects.filter(pk=post.author_id, post_count__gt=0).update(post_count=F("post_count") - 1)
    if post.is_first:
        Topic.objects.filter(pk=topic.pk).update(is_deleted=True)
        Forum.objects.filter(pk=topic.forum_id).update(
            topic_count=F("topic_count") - 1,
            post_count=F("post_count") - (topic.reply_count + 1),
        )
    else:
        Topic.objects.filter(pk=topic.pk, reply_count__gt=0).update(
            reply_count=F("reply_count") - 1
        )
        Forum.objects.filter(pk=topic.forum_id).update(post_count=F("post_count") - 1)
    _refresh_last_post(topic.forum_id)
    publish_on_commit(Event("delete", topic.pk, {"number": post.number}))
    page_cache.bump_on_commit(topic_generation(topic.pk), forum_generation(topic.forum_id), INDEX)


def _refresh_last_post(forum_id: int) -> None:
    """Point the forum at its newest visible post after that one was removed."""
    newest = (
        Post.objects.filter(topic__forum_id=forum_id, is_deleted=False, topic__is_deleted=False)
        .order_by("-created_at", "-id")
        .values_list("pk", flat=True)
        .first()
    )
    Forum.objects.filter(pk=forum_id).update(last_post_id=newest)


@transaction.atomic
def recommend_post(*, post: Post, moderator: User) -> Post:
    """Mark a reply as recommended; it is shown first under "Recommended Posts"."""
    permissions.check_recommend_post(moderator, post)
    post.recommended_by = moderator
    post.recommended_at = timezone.now()
    post.save(update_fields=["recommended_by", "recommended_at"])
    page_cache.bump_on_commit(topic_generation(post.topic_id))
    return post


@transaction.atomic
def unrecommend_post(*, post: Post, moderator: User) -> Post:
    """Take a reply out of "Recommended Posts"."""
    if not permissions.can_moderate(moderator):
        permissions.check_recommend_post(moderator, post)
    post.recommended_by = None
    post.recommended_at = None
    post.save(update_fields=["recommended_by", "recommended_at"])
    page_cache.bump_on_commit(topic_generation(post.topic_id))
    return post


def mark_read(*, member: User, topic: Topic, number: int) -> None:
    """Record that `member` has read `topic` up to post `number` (never backwards).

    One UPDATE once the member has read the topic before; reading page 1 again after the
    last page keeps the furthest point.
    """
    reads = TopicRead.objects.filter(member=member, topic=topic)
    if reads.update(last_number=Greatest("last_number", number)):
        return
    try:
        with transaction.atomic():
            TopicRead.objects.create(member=member, topic=topic, last_number=number)
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
