"""Write a large community for benchmarks: members, forums, topics and posts, in bulk.

`sala bench_data` calls `generate_community`. Everything is planned in memory first
(sala.benchmark.plan), then written with bulk inserts: `bulk_create`, and on PostgreSQL
`COPY` for the posts, which are most of the bytes. Then the counters the pages show
are recounted from the rows by sala.forums.counters, whose rules the services keep one
write at a time, so the pages are benchmarked as members would have left them:

- ids follow time: members by join date, topics by start, posts by when they were
  written across the whole community, so a forum's last post is also its highest id;
- post numbers are dense from 1 in each topic, in time order;
- topics carry last_number, reply_count, last_post_at and last_poster; forums their
  topic_count, post_count and last_post; members their post_count.

Post bodies are Markdown stored with the HTML `sala.text.cooking` makes of them, composed
from paragraphs cooked once (sala.benchmark.post_bodies).

Sala has no search index yet; when it has one, this is where its rows are to be written.
"""

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from random import Random

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.db import connection, reset_queries, transaction
from django.utils import timezone

from sala.accounts.models import User
from sala.benchmark.plan import (
    CommunitySize,
    Plan,
    PlannedMember,
    PlannedTopic,
    Progress,
    Silent,
    make_plan,
)
from sala.benchmark.post_bodies import ParagraphPool, check_composition
from sala.benchmark.vocabulary import CATEGORIES, FORUMS
from sala.forums import counters
from sala.forums.models import Category, Forum, Post, Topic, make_slug


class DatabaseNotEmpty(Exception):
    """The database already holds posts, and appending was not asked for."""

    def __init__(self, posts: int) -> None:
        super().__init__(f"The database already has {posts:,} posts.")
        self.posts = posts


@dataclass
class GeneratedCommunity:
    """What was written, and how long each phase took (seconds, in order)."""

    members: int
    forums: int
    topics: int
    posts: int
    seconds: dict[str, float] = field(default_factory=dict)


def _random(seed: int, purpose: str) -> Random:
    """Return the generator for one purpose: changing how posts are written leaves the
    members and topics of a seed as they were."""
    return Random(f"{seed}:{purpose}")  # noqa: S311  (benchmark data, not secrets)


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _batches[T](items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_PostRow = tuple[int, int, int, str, str, datetime]  # topic, number, author, text, html, at


def _insert_posts_orm(rows: list[_PostRow]) -> list[int]:
    posts = Post.objects.bulk_create(
        [
            Post(
                topic_id=topic, number=number, author_id=author, text=text, html=html, created_at=at
            )
            for topic, number, author, text, html, at in rows
        ],
        batch_size=len(rows),
    )
    return [post.pk for post in posts]


def _insert_posts_copy(rows: list[_PostRow]) -> list[int]:
    """Write `rows` with PostgreSQL's COPY; return their ids, in order.

    The ids are taken from the table's sequence first, in one query, so they follow the
    order of `rows` and no concurrent writer can be handed one of them. Every column of
    the table is written, the ones a row does not give with the model's default, so a
    field added to Post is never left NULL here.
    """
    table = Post._meta.db_table
    given = ("id", "topic_id", "number", "author_id", "text", "html", "created_at")
    fields = {field.attname: field for field in Post._meta.concrete_fields}
    rest = [field for name, field in fields.items() if name not in given]
    defaults = [field.get_default() for field in rest]
    columns = ", ".join(
        connection.ops.quote_name(str(field.column))
        for field in [*(fields[name] for name in given), *rest]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, len(rows)],
        )
        ids = sorted(row[0] for row in cursor.fetchall())
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            write_row = copy.write_row
            for post_id, (topic, number, author, text, html, at) in zip(ids, rows, strict=True):
                write_row((post_id, topic, number, author, text, html, at, *defaults))
    return ids


def refuse_unless_empty() -> None:
    """Raise DatabaseNotEmpty if the database has posts: benchmark data goes into an empty one."""
    if Post.objects.exists():
        raise DatabaseNotEmpty(Post.objects.count())


def generate_community(
    *,
    size: CommunitySize,
    seed: int = 1,
    batch: int = 5_000,
    append: bool = False,
    password: str | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> GeneratedCommunity:
    """Write a community of `size` into the database, in one transaction; return its counts.

    The same `seed` and `now` give the same community. Members get `password`, hashed
    once for all of them (default: unusable). Raise DatabaseNotEmpty if the database
    already has posts, unless `append`: then the community is written beside them, with
    its own categories, forums and members, and nothing that was there is changed.
    """
    progress = progress or Silent()
    if not append:
        refuse_unless_empty()
    if problems := size.problems():
        raise ValueError(" ".join(problems))
    now_seconds = (now or timezone.now()).timestamp()
    seconds: dict[str, float] = {}

    def phase(name: str, total: int) -> float:
        progress.start(name, total)
        return time.perf_counter()

    def done(name: str, started: float) -> None:
        progress.finish()
        seconds[name] = time.perf_counter() - started
        reset_queries()  # with DEBUG on, Django would otherwise keep every batch's SQL

    pool_size = max(200, min(4_000, size.posts // 4))
    started = phase("text", ParagraphPool.cooking_count(pool_size))
    pool = ParagraphPool(_random(seed, "text"), pool_size, progress.advance)
    check_composition(pool, _random(seed, "check"))
    done("text", started)

    started = phase("plan", size.posts)
    taken = {name.lower() for name in User.objects.values_list("username", flat=True)}
    emails = {email.lower() for email in User.objects.values_list("email", flat=True)}
    emails |= {e.lower() for e in EmailAddress.objects.values_list("email", flat=True)}
    plan = make_plan(_random(seed, "plan"), size, now_seconds, taken, emails, progress)
    done("plan", started)

    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Check each post's keys as it is written rather than all at commit: the same
            # work, shown in the posts' progress instead of a long silent commit.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        started = phase("members", size.members)
        member_ids = _write_members(plan.members, batch, password, progress)
        done("members", started)

        started = phase("topics", size.topics)
        forum_ids = _write_forums(size.forums)
        topic_ids = _write_topics(plan.topics, forum_ids, member_ids, batch, progress)
        done("topics", started)

        started = phase("posts", size.posts)
        _write_posts(plan, pool, topic_ids, member_ids, seed, batch, progress)
        done("posts", started)

        # Only the rows written here: with --append, those that were there stay as they are.
        # In the order the services lock rows: topics, members, forums.
        started = phase("counters", len(topic_ids) + len(member_ids) + len(forum_ids))
        for recount, ids in (
            (counters.recount_topics, topic_ids),
            (counters.recount_members, member_ids),
            (counters.recount_forums, forum_ids),
        ):
            recount(ids)
            progress.advance(len(ids))
        done("counters", started)

    if connection.vendor == "postgresql":
        # Fresh planner statistics, as autovacuum would gather them some minutes later, so
        # a benchmark run straight after sees the plans production would.
        started = phase("analyze", 1)
        with connection.cursor() as cursor:
            for model in (User, EmailAddress, Forum, Topic, Post):
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
        progress.advance(1)
        done("analyze", started)

    return GeneratedCommunity(
        members=size.members,
        forums=size.forums,
        topics=size.topics,
        posts=size.posts,
        seconds=seconds,
    )


def _write_members(
    members: list[PlannedMember], batch: int, password: str | None, progress: Progress
) -> list[int]:
    # One hash for everybody: hashing 50,000 times with argon2 would take minutes.
    hashed = make_password(password)
    ids: list[int] = []
    for chunk in _batches(members, batch):
        users = User.objects.bulk_create(
            [
                User(
                    username=member.username,
                    display_name=member.display_name,
                    email=member.email,
                    password=hashed,
                    date_joined=_moment(member.joined),
                )
                for member in chunk
            ],
            batch_size=batch,
        )
        EmailAddress.objects.bulk_create(
            [
                EmailAddress(user=user, email=user.email, verified=True, primary=True)
                for user in users
            ],
            batch_size=batch,
        )
        ids.extend(user.pk for user in users)
        progress.advance(len(chunk))
        reset_queries()
    return ids


def _write_forums(count: int) -> list[int]:
    categories = Category.objects.bulk_create(
        [
            Category(
                name=_numbered(CATEGORIES, n),
                description="Generated by sala bench_data.",
                position=100 + n,
            )
            for n in range(-(-count // 3))
        ]
    )
    forums = []
    for n in range(count):
        name = _numbered([forum[0] for forum in FORUMS], n)
        forums.append(
            Forum(
                category=categories[n // 3],
                name=name,
                slug=make_slug(name),
                description=FORUMS[n % len(FORUMS)][1],
                position=n % 3 + 1,
            )
        )
    return [forum.pk for forum in Forum.objects.bulk_create(forums)]


def _numbered(names: Sequence[str], n: int) -> str:
    """Return the n-th name, numbered once the names have all been used."""
    name = names[n % len(names)]
    return name if n < len(names) else f"{name} {n // len(names) + 1}"


def _write_topics(
    topics: list[PlannedTopic],
    forum_ids: list[int],
    member_ids: list[int],
    batch: int,
    progress: Progress,
) -> list[int]:
    ids: list[int] = []
    for chunk in _batches(topics, batch):
        created = Topic.objects.bulk_create(
            [
                Topic(
                    forum_id=forum_ids[topic.forum],
                    title=topic.title,
                    slug=make_slug(topic.title),
                    author_id=member_ids[topic.author],
                    source_url=topic.source_url,
                    created_at=_moment(topic.start),
                    is_pinned=topic.is_pinned,
                    # Until the recount: the topic as its first post leaves it.
                    last_post_at=_moment(topic.start),
                    last_poster_id=member_ids[topic.author],
                    view_count=topic.views,
                )
                for topic in chunk
            ],
            batch_size=batch,
        )
        ids.extend(topic.pk for topic in created)
        progress.advance(len(chunk))
    return ids


def _write_posts(
    plan: Plan,
    pool: ParagraphPool,
    topic_ids: list[int],
    member_ids: list[int],
    seed: int,
    batch: int,
    progress: Progress,
) -> None:
    """Write every post, in the order they were written."""
    insert = _insert_posts_copy if connection.vendor == "postgresql" else _insert_posts_orm
    rng = _random(seed, "posts")
    post_time, post_topic, post_author = plan.post_time, plan.post_topic, plan.post_author
    order = sorted(range(len(post_time)), key=post_time.__getitem__)
    numbers = [0] * len(plan.topics)
    compose = pool.compose
    for chunk in _batches(order, batch):
        rows: list[_PostRow] = []
        for planned in chunk:
            topic = post_topic[planned]
            number = numbers[topic] + 1
            numbers[topic] = number
            text, html = compose(rng, first=number == 1)
            rows.append(
                (
                    topic_ids[topic],
                    number,
                    member_ids[post_author[planned]],
                    text,
                    html,
                    _moment(post_time[planned]),
                )
            )
        insert(rows)
        progress.advance(len(chunk))
        reset_queries()
