"""Reads for the forum pages, each in a fixed number of queries whatever the data size."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from django.db import connection
from django.db.models import OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from sala.accounts.models import User
from sala.core import local_memo
from sala.forums.models import (
    POSTS_PER_PAGE,
    TOPICS_PER_PAGE,
    Category,
    Forum,
    HeldPost,
    HeldState,
    Post,
    PostAddress,
    PostRevision,
    Topic,
    TopicRead,
)
from sala.live.presence import Browsing


def list_categories() -> list[Category]:
    """Return categories with their forums and each forum's latest post: three queries."""
    latest = Post.objects.select_related("author", "topic").only(
        "id",
        "number",
        "created_at",
        "author__username",
        "author__display_name",
        "topic__id",
        "topic__title",
        "topic__slug",
    )
    forums = Forum.objects.select_related(None).prefetch_related(Prefetch("last_post", latest))
    return list(Category.objects.prefetch_related(Prefetch("forums", forums)))


def list_forums() -> list[Forum]:
    """Return every forum in display order, with its category (for choosing where to post)."""
    return list(Forum.objects.select_related("category"))


#: Larger ids than this cannot exist (64-bit keys); looking them up would overflow.
MAX_ID = 2**63 - 1


def get_forum(forum_id: int) -> Forum:
    """Return the forum, or raise Http404."""
    if forum_id > MAX_ID:
        raise Http404("No such forum.")
    forum = Forum.objects.select_related("category").filter(pk=forum_id).first()
    if forum is None:
        raise Http404("No such forum.")
    return forum


@dataclass(frozen=True)
class ForumPage:
    pinned: list[Topic]
    topics: list[Topic]
    next_cursor: str | None
    #: Whether this is the forum's first page (the newest activity), the one kept live.
    is_first: bool = True


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """Return `moment` as whole microseconds since 1970: how pages and streams name it."""
    # Integer arithmetic: a float timestamp cannot hold today's microseconds exactly.
    return (moment - EPOCH) // MICROSECOND


#: The latest moment `parse_micros` accepts: the end of year 9999, as far as datetime goes.
MAX_MICROS = micros(datetime.max.replace(tzinfo=UTC))


def parse_micros(text: str | None) -> datetime | None:
    """Return the moment `text` names in microseconds since 1970; None if malformed."""
    text = text or ""
    if not is_number(text) or int(text) > MAX_MICROS:
        return None
    return EPOCH + int(text) * MICROSECOND


def _cursor(topic: Topic) -> str:
    """Return the key after which the next page starts: "<µs since 1970>_<id>"."""
    return f"{micros(topic.last_post_at)}_{topic.pk}"


def _parse_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    """Return the (last activity, id) a cursor names; None for anything malformed."""
    text, _, topic_id = (cursor or "").partition("_")
    moment = parse_micros(text)
    if moment is None or not is_number(topic_id):
        return None
    return moment, int(topic_id)


def is_number(text: str) -> bool:
    """Return whether `text` is a plain ASCII whole number, not a superscript or foreign digit."""
    return text.isascii() and text.isdigit() and len(text) <= 18


#: How far back a forum page's marks of new activity reach (a page open longer than
#: this has its older activity counted as read).
ACTIVITY_SPAN = timedelta(days=1)


def list_forum_topics(
    forum: Forum, after: str | None = None, since: datetime | None = None
) -> ForumPage:
    """Return one page of a forum: pinned topics first (first page only), then by activity.

    Pages follow a keyset cursor ("<last activity>_<id>" of the page's last topic) rather
    than an OFFSET, so the hundredth page costs what the first does. With `since`, each
    topic also carries `known_number`, its last post number at that moment (0 for a topic
    started after it), for `find_activity_since`; still two queries. A `since` older than
    ACTIVITY_SPAN counts from then: the marks cost what that much activity costs.
    """
    base = Topic.objects.visible().filter(forum=forum).select_related("author", "last_poster")
    if since is not None:
        since = max(since, timezone.now() - ACTIVITY_SPAN)
        # Walks the topic's (topic, number) index backwards from its newest post, so it
        # reads the posts written after `since` and one more, however long the topic is.
        known = (
            Post.objects.filter(topic=OuterRef("pk"), created_at__lte=since)
            .order_by("-number")
            .values("number")[:1]
        )
        base = base.annotate(known_number=Coalesce(Subquery(known), 0))
    key = _parse_cursor(after)
    pinned = [] if key else list(base.filter(is_pinned=True).order_by("-last_post_at", "-id"))
    rest = base.filter(is_pinned=False)
    if key:
        moment, topic_id = key
        rest = rest.filter(Q(last_post_at__lt=moment) | Q(last_post_at=moment, id__lt=topic_id))
    topics = list(rest.order_by("-last_post_at", "-id")[: TOPICS_PER_PAGE + 1])
    next_cursor = None
    if len(topics) > TOPICS_PER_PAGE:
        topics = topics[:TOPICS_PER_PAGE]
        next_cursor = _cursor(topics[-1])
    return ForumPage(pinned=pinned, topics=topics, next_cursor=next_cursor, is_first=key is None)


@dataclass(frozen=True)
class Activity:
    """What changed in a page's topics since a moment: replies, and topics started."""

    #: Per topic that got replies: how many, and the number of the first (as unread).
    replies: dict[int, tuple[int, int]]
    started: set[int]


def find_activity_since(listing: ForumPage, since: datetime) -> Activity:
    """Return what changed since `since` in a page listed with that `since`: no query."""
    replies: dict[int, tuple[int, int]] = {}
    started: set[int] = set()
    for topic in listing.pinned + listing.topics:
        if topic.last_post_at <= since:
            continue
        known: int = getattr(topic, "known_number", topic.last_number)
        if known == 0:
            started.add(topic.pk)
        elif topic.last_number > known:
            replies[topic.pk] = (topic.last_number - known, known + 1)
    return Activity(replies=replies, started=started)


def list_active_topic_ids(forum_id: int, since: datetime, limit: int) -> list[int]:
    """Return up to `limit` ids of a forum's visible topics active after `since`: one query."""
    if forum_id > MAX_ID:
        return []
    active = Topic.objects.visible().filter(forum_id=forum_id, last_post_at__gt=since)
    return list(active.values_list("pk", flat=True)[:limit])


def count_new_replies(member: User, topics: list[Topic]) -> dict[int, tuple[int, int]]:
    """Return, per topic `member` has read before and that has grown since, how many
    posts are new and the number of the first: one query."""
    reads = TopicRead.objects.filter(member=member, topic__in=topics).values_list(
        "topic_id", "last_number"
    )
    numbers = {topic.pk: topic.last_number for topic in topics}
    return {
        topic_id: (numbers[topic_id] - last, last + 1)
        for topic_id, last in reads
        if numbers[topic_id] > last
    }


def get_topic(topic_id: int, *, with_deleted: bool = False) -> Topic:
    """Return a visible topic with its forum and category, or raise Http404; a deleted
    one too `with_deleted` (for its moderators, who decide after reading its forum)."""
    if topic_id > MAX_ID:
        raise Http404("No such topic.")
    topics = Topic.objects.all() if with_deleted else Topic.objects.visible()
    topic: Topic | None = topics.select_related("forum__category").filter(pk=topic_id).first()
    if topic is None:
        raise Http404("No such topic.")
    return topic


#: What posting a reply reads of its topic (field names, as `Topic.from_db` takes them);
#: any other field is loaded if ever read.
_REPLY_COLUMNS = ("id", "forum_id", "slug", "is_locked", "is_deleted", "closed_until")


def get_topic_to_reply(topic_id: int) -> Topic:
    """Return a visible topic with the columns posting a reply reads, or raise Http404.

    Replies are the busiest write: the ORM took seven times as long to build and read
    this query (with the forum and category joined, as get_topic has them) as the
    query itself, measured.
    """
    if topic_id > MAX_ID:
        raise Http404("No such topic.")
    with connection.cursor() as cursor:
        cursor.execute(_topic_to_reply_statement(), [topic_id])
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such topic.")
    pk, forum_id, slug, is_locked, is_deleted, closed_until = row
    values = (pk, forum_id, slug, bool(is_locked), bool(is_deleted), moment_from_row(closed_until))
    return Topic.from_db(connection.alias, _REPLY_COLUMNS, values)


def moment_from_row(value: datetime | str | None) -> datetime | None:
    """Return a date and time column as a raw cursor gave it, aware: SQLite gives it
    naive (or as text), in UTC."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@cache
def _topic_to_reply_statement() -> str:
    """Return get_topic_to_reply's SELECT, its names taken from the model (made once)."""
    quote = connection.ops.quote_name
    columns = {field.attname: str(field.column) for field in Topic._meta.concrete_fields}
    column = {name: quote(columns[name]) for name in _REPLY_COLUMNS}
    return (
        f"SELECT {', '.join(column.values())} FROM {quote(Topic._meta.db_table)}"  # noqa: S608  (names from the model)
        # TopicQuerySet.visible() by hand: not deleted.
        f" WHERE {column['id']} = %s AND NOT {column['is_deleted']}"
    )


@dataclass(frozen=True)
class TopicPage:
    topic: Topic
    number: int
    page_count: int
    posts: list[Post]
    recommended: list[Post]

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.page_count

    @property
    def last_number(self) -> int:
        """The number of the last post shown: how far a member reading the page has read
        (0 for a page without posts)."""
        return self.posts[-1].number if self.posts else 0


def read_topic_page(topic_id: int, page: int, *, with_deleted: bool = False) -> TopicPage:
    """Return page `page` of a visible topic, with the topic, its forum and category,
    the page's posts and (on page 1) its recommended replies, as a reader sees it.

    What the topic page shows to guests and members alike, and what an API answer about
    the page would carry: three queries (two past page 1) whatever the topic's length or
    the page asked for. Raise Http404 for a missing topic or a page past its end.
    """
    return get_topic_page(get_topic(topic_id, with_deleted=with_deleted), page)


def get_topic_page(topic: Topic, page: int) -> TopicPage:
    """Return page `page` of a topic's posts (and, on page 1, its recommended replies).

    Two queries whatever the topic's length or the page asked for. Raise Http404 for a
    page past the end.
    """
    if page < 1 or page > topic.page_count:
        raise Http404("No such page.")
    posts = list(
        Post.objects.in_topic_page(topic.pk, page, POSTS_PER_PAGE).select_related("author")
    )
    recommended: list[Post] = []
    if page == 1:
        recommended = list(
            Post.objects.filter(topic=topic, recommended_at__isnull=False, is_deleted=False)
            .select_related("author", "recommended_by")
            .order_by("recommended_at")[:5]
        )
    for post in posts + recommended:
        post.topic = topic  # spares a query per post when building its URLs
    return TopicPage(
        topic=topic,
        number=page,
        page_count=topic.page_count,
        posts=posts,
        recommended=recommended,
    )


def list_posts_after(topic: Topic, number: int) -> list[Post]:
    """Return up to a page of posts numbered after `number`, in order: one query."""
    posts = list(
        Post.objects.filter(topic=topic, number__gt=number)
        .select_related("author")
        .order_by("number")[:POSTS_PER_PAGE]
    )
    for post in posts:
        post.topic = topic
    return posts


def get_post(topic: Topic, number: int) -> Post:
    """Return post `number` of `topic`, or raise Http404."""
    if number > MAX_ID:
        raise Http404("No such post.")
    post = Post.objects.select_related("author").filter(topic=topic, number=number).first()
    if post is None:
        raise Http404("No such post.")
    post.topic = topic
    return post


def find_post_to_quote(topic: Topic, number: int) -> Post | None:
    """Return post `number` of `topic` with its author, to quote in a reply; None if
    there is no such post or it was deleted (its text is not for quoting): one query."""
    if number > MAX_ID:
        return None
    quoted = Post.objects.filter(topic=topic, number=number, is_deleted=False)
    return quoted.select_related("author").first()


def list_revisions(post: Post) -> list[PostRevision]:
    """Return every earlier version of `post`, newest first, with who edited it: one query."""
    return list(post.revisions.select_related("editor").order_by("-number"))


def get_post_to_moderate(topic_id: int, number: int) -> Post:
    """Return post `number` of a topic, deleted or not, with the topic and the author;
    raise Http404 if either is missing: two queries."""
    return get_post(get_topic(topic_id, with_deleted=True), number)


def get_topic_post(topic_id: int, number: int) -> Post:
    """Return post `number` of a visible topic, with the topic; raise Http404 if either
    is missing."""
    return get_post(get_topic(topic_id), number)


#: The members lately listed as browsing, by the ids asked for: the same readers are
#: listed on every read of a busy topic, their new names can wait a few seconds.
_browsing_members = local_memo.memo(seconds=5, size=1000)


def list_browsing_members(browsing: Browsing) -> list[User]:
    """Return the members in `browsing`, most recent first: one query, none when this
    process listed the same members in the last few seconds."""
    if not browsing.member_ids:
        return []
    ids = tuple(browsing.member_ids)
    listed = _browsing_members.get(ids)
    if isinstance(listed, list):
        return listed
    found = User.objects.in_bulk(ids)
    members = [found[member_id] for member_id in ids if member_id in found]
    _browsing_members.put(ids, members)
    return members


def find_moved_post(topic_id: int, number: int) -> Post | None:
    """Return the post that was post `number` of topic `topic_id` before moderators
    merged or split that topic, with its topic now; None if none was: one query."""
    if topic_id > MAX_ID or number > MAX_ID:
        return None
    address = (
        PostAddress.objects.filter(topic_id_was=topic_id, number_was=number)
        .select_related("post__topic")
        .first()
    )
    return address.post if address is not None else None


def find_merged_into(topic_id: int) -> Topic | None:
    """Return the topic a merged topic went into, if `topic_id` is one: one query."""
    if topic_id > MAX_ID:
        return None
    merged = Topic.objects.filter(pk=topic_id, merged_into__isnull=False).values("merged_into")
    return Topic.objects.visible().filter(pk__in=merged).first()


def list_held_replies(member: User, topic_id: int) -> list[HeldPost]:
    """Return `member`'s replies to a topic awaiting approval, oldest first (none, without
    a query, when they have none waiting anywhere)."""
    if not member.held_count:
        return []
    return list(
        HeldPost.objects.filter(author=member, topic_id=topic_id, state=HeldState.WAITING).order_by(
            "created_at", "pk"
        )
    )


def list_held_topics(member: User, forum_id: int) -> list[HeldPost]:
    """Return `member`'s new topics in a forum awaiting approval, newest first (none,
    without a query, when they have none waiting anywhere)."""
    if not member.held_count:
        return []
    return list(
        HeldPost.objects.filter(
            author=member, forum_id=forum_id, topic__isnull=True, state=HeldState.WAITING
        ).order_by("-created_at", "-pk")
    )


def get_held_post(held_id: int) -> HeldPost:
    """Return a post awaiting approval (or decided since) with its forum and topic, or
    raise Http404."""
    if held_id > MAX_ID:
        raise Http404("No such post.")
    held = (
        HeldPost.objects.select_related("forum", "topic", "author", "post__topic")
        .filter(pk=held_id)
        .first()
    )
    if held is None:
        raise Http404("No such post.")
    return held
