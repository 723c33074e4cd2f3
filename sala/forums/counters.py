"""The forums' counters: what each one counts, the steps that keep it, and its recount.

Pages never count rows: topics, forums and members carry the numbers they show. What
each number counts is written down here, once:

- a topic's `last_number` is the highest number handed out in it, deleted posts included
  (numbers are never reused); its `last_post_at` and `last_poster` are that post's, so
  deleting the last reply leaves the topic's activity where it was; its `reply_count`
  counts its replies (every post after the first) that are counted: neither deleted
  nor hidden by moderators;
- a forum's `topic_count` counts its topics that are not deleted; its `post_count` the
  counted posts in those topics; its `last_post` is the newest of these, the one with
  the highest id (ids are handed out as posts are written);
- a member's `post_count` counts their counted posts, in whatever topic: deleting a
  topic through its first post takes only that post from its author.

A post leaves the counts when it is deleted or hidden, and comes back when it is
restored or shown again while neither deleted nor hidden (`uncount_post`, `count_post`).

The services keep the counters as they write, one step per write with F() updates in
the write's own transaction (the steps below, and the reply's own statements in
sala.forums.services, which number the reply and count it in its topic at once). The
recounts set them from the rows instead, a few set-based UPDATEs per batch of rows, on
SQLite as on PostgreSQL: for bulk writers (sala.benchmark inserts its community in bulk,
then recounts it) and to mend counters gone wrong. test_counters checks that after the
services' writes a recount changes nothing.
"""

from collections.abc import Iterable
from itertools import batched
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    Aggregate,
    Count,
    F,
    Field,
    Func,
    IntegerField,
    Max,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce, Greatest

from sala.accounts.models import User
from sala.forums.models import Forum, Post, Topic

#: A post counted among its topic's replies.
COUNTED_REPLY = Q(number__gt=1, is_deleted=False, is_hidden=False)
#: A topic counted in its forum.
COUNTED_TOPIC = Q(is_deleted=False)
#: A post counted in its forum, and which may be shown as the forum's last post.
COUNTED_IN_FORUM = Q(is_deleted=False, is_hidden=False, topic__is_deleted=False)
#: A post counted for its author.
COUNTED_FOR_AUTHOR = Q(is_deleted=False, is_hidden=False)

#: Rows per UPDATE of a recount: each id is a parameter, and SQLite takes 32,766 at most.
RECOUNT_BATCH = 10_000


# -- One write at a time: the services' steps ---------------------------------------------


def count_new_topic(post: Post, forum_id: int) -> None:
    """Count a new topic and its first post `post` for its author and its forum.

    The topic's own counters are set as it is created (number 1, no replies, its
    author the last poster).
    """
    User.objects.filter(pk=post.author_id).update(post_count=F("post_count") + 1)
    Forum.objects.filter(pk=forum_id).update(
        topic_count=F("topic_count") + 1,
        post_count=F("post_count") + 1,
        last_post_id=_newer_last_post(post),
    )


def count_reply(post: Post, forum_id: int) -> None:
    """Count the reply `post` for its author and its forum, whose last post it becomes.

    Its topic counted it as the reply took its number (services._store_reply).
    """
    User.objects.filter(pk=post.author_id).update(post_count=F("post_count") + 1)
    Forum.objects.filter(pk=forum_id).update(
        post_count=F("post_count") + 1, last_post_id=_newer_last_post(post)
    )


def _newer_last_post(post: Post) -> Greatest:
    """Return the forum's last post once `post` is counted: the higher id of the two.

    A post written at the same time in another topic may have taken a higher id and yet
    reached the forum's row first (the reply's one statement does the same).
    """
    return Greatest(Coalesce("last_post_id", 0), post.pk)


def is_counted(post: Post) -> bool:
    """Return whether `post` is in the counts: neither deleted nor hidden."""
    return not post.is_deleted and not post.is_hidden


def uncount_post(post: Post, topic: Topic) -> None:
    """Take `post`, counted until now, out of the counters of its author, topic and forum.

    `topic` is the post's topic as it was before: deleting its first post deletes it,
    which takes the topic and every post still counted in it out of its forum. A reply
    taken out in a topic deleted before was no longer counted in the forum.
    """
    User.objects.filter(pk=post.author_id, post_count__gt=0).update(post_count=F("post_count") - 1)
    forum = Forum.objects.filter(pk=topic.forum_id)
    if post.is_first:
        forum.update(
            topic_count=F("topic_count") - 1,
            post_count=F("post_count") - (topic.reply_count + 1),
        )
    else:
        Topic.objects.filter(pk=topic.pk, reply_count__gt=0).update(
            reply_count=F("reply_count") - 1
        )
        if not topic.is_deleted:
            forum.update(post_count=F("post_count") - 1)
    recount_last_post(topic.forum_id)


def count_post(post: Post, topic: Topic) -> None:
    """Count `post` again, uncounted until now, for its author, topic and forum.

    `topic` is the post's topic as it was before: a first post counted again restores
    its deleted topic, which brings the topic and every post still counted in it back
    into its forum. A reply counted again in a deleted topic counts in its topic and for
    its author, and in the forum once the topic is restored.
    """
    User.objects.filter(pk=post.author_id).update(post_count=F("post_count") + 1)
    forum = Forum.objects.filter(pk=topic.forum_id)
    if post.is_first:
        forum.update(
            topic_count=F("topic_count") + 1,
            post_count=F("post_count") + (topic.reply_count + 1),
        )
    else:
        Topic.objects.filter(pk=topic.pk).update(reply_count=F("reply_count") + 1)
        if not topic.is_deleted:
            forum.update(post_count=F("post_count") + 1)
    recount_last_post(topic.forum_id)


def move_topic_counts(topic: Topic, from_forum_id: int) -> None:
    """Move the counts of `topic` (not deleted), just moved to its forum, from forum
    `from_forum_id`: the topic, and its counted posts."""
    first_counted = Post.objects.filter(
        topic=topic, number=1, is_deleted=False, is_hidden=False
    ).exists()
    posts = topic.reply_count + (1 if first_counted else 0)
    change = {from_forum_id: -1, topic.forum_id: +1}
    # In id order: two moves between the same forums lock their rows the same way round.
    for forum_id in sorted(change):
        sign = change[forum_id]
        Forum.objects.filter(pk=forum_id).update(
            topic_count=F("topic_count") + sign, post_count=F("post_count") + sign * posts
        )
        recount_last_post(forum_id)


def recount_last_post(forum_id: int) -> None:
    """Point the forum at its newest counted post, after that one may have gone.

    The newest is the one with the highest id, as in the reply's own statement
    (services._reply_statement): ids are handed out as posts are written, so finding it
    walks the posts' primary key back from the end, never sorting the forum's posts.
    """
    newest = Post.objects.filter(COUNTED_IN_FORUM, topic__forum=OuterRef("pk")).order_by("-pk")
    Forum.objects.filter(pk=forum_id).update(last_post=Subquery(newest.values("pk")[:1]))


# -- From the rows: the recounts ----------------------------------------------------------
#
# Each recount reads the posts once per batch of rows, grouped by the row they count
# for (UPDATE ... FROM a GROUP BY), rather than once per row or per forum with a
# correlated subquery: a forum's posts are spread over the whole table, so counting
# six forums that way read the table twelve times.


def recount_topics(topic_ids: Iterable[int]) -> None:
    """Set the counters of the topics `topic_ids` from their posts."""
    for batch in _batches(topic_ids):
        with transaction.atomic():
            topics = Topic.objects.filter(pk__in=batch)
            topics.update(last_number=0, reply_count=0)
            _update_from(
                Topic,
                Post.objects.filter(topic__in=batch).values(counted_id=F("topic")),
                last_number=Max("number"),
                reply_count=Count("pk", filter=COUNTED_REPLY),
            )
            # The last post is found by its number, on the index of (topic, number).
            last = Post.objects.filter(topic=OuterRef("pk"), number=OuterRef("last_number"))
            topics.update(
                # Every topic has its first post; were it missing, these stay as they are.
                last_post_at=Coalesce(Subquery(last.values("created_at")), F("last_post_at")),
                last_poster_id=Coalesce(Subquery(last.values("author_id")), F("last_poster_id")),
            )


def recount_forums(forum_ids: Iterable[int]) -> None:
    """Set the counters of the forums `forum_ids` from their topics and posts."""
    topics = Topic.objects.filter(COUNTED_TOPIC, forum=OuterRef("pk"))
    for batch in _batches(forum_ids):
        with transaction.atomic():
            Forum.objects.filter(pk__in=batch).update(
                topic_count=_count(topics), post_count=0, last_post=None
            )
            _update_from(
                Forum,
                Post.objects.filter(COUNTED_IN_FORUM, topic__forum__in=batch).values(
                    counted_id=F("topic__forum")
                ),
                post_count=Count("pk"),
                last_post_id=Max("pk"),  # the newest, as recount_last_post finds it
            )


def recount_members(member_ids: Iterable[int]) -> None:
    """Set the post counts of the members `member_ids` from their posts."""
    for batch in _batches(member_ids):
        with transaction.atomic():
            User.objects.filter(pk__in=batch).update(post_count=0)
            _update_from(
                User,
                Post.objects.filter(COUNTED_FOR_AUTHOR, author__in=batch).values(
                    counted_id=F("author")
                ),
                post_count=Count("pk"),
            )


def _update_from(model: type[Model], groups: QuerySet[Any], **columns: Aggregate) -> None:
    """Set `columns` of the rows of `model` from `groups` (values() naming the row as
    `counted_id`), each column to its aggregate over the row's group, in one UPDATE.

    Rows without a group are left as they are. The ORM has no UPDATE ... FROM, hence
    the SQL, around the ORM's own query.
    """
    quote = connection.ops.quote_name
    grouped = groups.annotate(**columns).order_by()
    select, params = grouped.query.sql_with_params()
    table = quote(model._meta.db_table)
    assignments = ", ".join(
        f"{quote(_column(model, name))} = counted.{quote(name)}" for name in columns
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {assignments} FROM ({select}) AS counted"  # noqa: S608  (names from the models, values as parameters)
            f" WHERE {table}.{quote(_column(model, 'pk'))} = counted.counted_id",
            params,
        )


def _column(model: type[Model], name: str) -> str:
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    if not isinstance(field, Field) or not field.column:
        raise TypeError(f"{model.__name__}.{name} is no column.")
    return field.column


def _count(rows: QuerySet[Any]) -> Subquery:
    """Return the number of `rows` as a subquery: COUNT without GROUP BY, so one row
    even when there is nothing to count."""
    counted = rows.order_by().annotate(
        counted=Func(F("pk"), function="COUNT", output_field=IntegerField())
    )
    return Subquery(counted.values("counted"), output_field=IntegerField())


def _batches(ids: Iterable[int]) -> Iterable[tuple[int, ...]]:
    # In id order, so two recounts lock rows in the same order.
    return batched(sorted(set(ids)), RECOUNT_BATCH, strict=False)
