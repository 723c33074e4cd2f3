"""`sala bench_data`: a generated community whose every counter matches a recount of its rows."""

from datetime import UTC, datetime
from io import StringIO
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.core.management import CommandError, call_command
from django.db.models import Count, Max, Min, Sum
from django.test import Client
from django.urls import reverse

from sala.accounts.models import User
from sala.accounts.validators import validate_username
from sala.benchmark.community import DatabaseNotEmpty, generate_community
from sala.benchmark.plan import CommunitySize
from sala.forums.models import Category, Forum, Post, Topic
from sala.forums.services import cook_post
from sala.forums.tests.counting import recount_everything
from sala.forums.tests.counting import snapshot as counters_of_every_row
from sala.forums.tests.factories import make_topic

pytestmark = pytest.mark.django_db

SMALL = CommunitySize(members=30, topics=12, posts=400, big_topic_posts=120, forums=4)
SMALL_ARGS = ["--members=30", "--topics=12", "--posts=400", "--big-topic-posts=120", "--forums=4"]
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def generate(**options: Any) -> None:
    generate_community(size=SMALL, now=NOW, batch=50, **options)


def assert_counters_match_a_recount() -> None:
    recount = {
        row["topic"]: row
        for row in Post.objects.values("topic").annotate(
            written=Count("id"),
            highest=Max("number"),
            lowest=Min("number"),
            newest=Max("created_at"),
        )
    }
    for topic in Topic.objects.all():
        row = recount[topic.pk]
        assert topic.last_number == row["highest"] == row["written"], topic
        assert row["lowest"] == 1
        assert topic.reply_count == row["written"] - 1
        assert topic.last_post_at == row["newest"]
        last, first = topic.posts.get(number=topic.last_number), topic.posts.get(number=1)
        assert topic.last_poster_id == last.author_id
        assert (topic.author_id, topic.created_at) == (first.author_id, first.created_at)
    for forum in Forum.objects.all():
        posts = Post.objects.filter(topic__forum=forum)
        newest = posts.order_by("-created_at", "-id").first()
        assert forum.topic_count == Topic.objects.filter(forum=forum).count()
        assert forum.post_count == posts.count()
        assert newest is not None and forum.last_post_id == newest.pk
    written = dict(Post.objects.values_list("author").annotate(Count("id")))
    for member in User.objects.all():
        assert member.post_count == written.get(member.pk, 0), member


def snapshot() -> dict[str, list[tuple[object, ...]]]:
    """Return the community's content, without the ids a database hands out."""
    return {
        "members": list(
            User.objects.order_by("pk").values_list(
                "username", "display_name", "email", "date_joined", "post_count"
            )
        ),
        "topics": list(
            Topic.objects.order_by("pk").values_list(
                "forum__name",
                "title",
                "slug",
                "author__username",
                "source_url",
                "created_at",
                "last_post_at",
                "last_poster__username",
                "reply_count",
                "view_count",
                "is_pinned",
            )
        ),
        "posts": list(
            Post.objects.order_by("pk").values_list(
                "topic__title", "number", "author__username", "text", "html", "created_at"
            )
        ),
    }


def wipe() -> None:
    Forum.objects.update(last_post=None)
    Post.objects.all().delete()
    Topic.objects.all().delete()
    Forum.objects.all().delete()
    Category.objects.all().delete()
    EmailAddress.objects.all().delete()
    User.objects.all().delete()


def test_every_counter_equals_a_recount_of_the_rows() -> None:
    generate()
    assert User.objects.count() == 30
    assert Forum.objects.count() == 4
    assert Topic.objects.count() == 12
    assert Post.objects.count() == 400
    assert_counters_match_a_recount()


def test_one_topic_is_the_long_one_and_the_others_share_the_rest() -> None:
    generate()
    sizes = sorted(Topic.objects.values_list("last_number", flat=True), reverse=True)
    assert sizes[0] == 120
    assert sizes[1] < 120
    assert sum(sizes) == 400
    assert min(sizes) >= 1


def test_numbers_are_dense_and_follow_time_in_each_topic_and_ids_follow_time_overall() -> None:
    generate()
    for topic in Topic.objects.all():
        posts = list(topic.posts.order_by("number").values_list("number", "created_at"))
        assert [number for number, _ in posts] == list(range(1, len(posts) + 1))
        moments = [moment for _, moment in posts]
        assert moments == sorted(moments)
        assert len(set(moments)) == len(moments)
    by_id = list(Post.objects.order_by("pk").values_list("created_at", flat=True))
    assert by_id == sorted(by_id)
    assert by_id[-1] < NOW


def test_members_post_only_after_joining() -> None:
    generate()
    for post in Post.objects.select_related("author"):
        assert post.created_at > post.author.date_joined


def test_composed_posts_cook_to_exactly_their_stored_html() -> None:
    generate()
    posts = list(Post.objects.order_by("pk"))[::7] + list(Post.objects.filter(number=1))
    assert any("<blockquote>" in post.html for post in Post.objects.all())
    assert any("<a href=" in post.html for post in Post.objects.all())
    for post in posts:
        assert cook_post(post.text).html == post.html, post.text


def test_usernames_are_valid_and_unique_whatever_their_case() -> None:
    generate()
    usernames = list(User.objects.values_list("username", flat=True))
    assert len({name.lower() for name in usernames}) == len(usernames)
    for name in usernames:
        validate_username(name)
        assert 3 <= len(name) <= 30
    addresses = EmailAddress.objects.filter(verified=True, primary=True)
    assert addresses.count() == 30


def test_members_share_one_password_hash_and_can_sign_in_with_it(client: Client) -> None:
    generate(password="bench password 42")
    assert User.objects.values("password").distinct().count() == 1
    member = User.objects.order_by("pk").first()
    assert member is not None
    response = client.post(
        reverse("account_login"), {"login": member.username, "password": "bench password 42"}
    )
    assert response.status_code == 302
    assert client.get("/").context["user"] == member


def test_without_a_password_nobody_can_sign_in() -> None:
    generate()
    assert not any(member.has_usable_password() for member in User.objects.all())


def test_topic_forum_and_index_pages_show_the_generated_counts(client: Client) -> None:
    generate()
    big = Topic.objects.get(last_number=120)
    page = client.get(big.get_absolute_url())
    assert page.status_code == 200
    assert "Page 1 of 6" in page.content.decode()
    last = client.get(big.get_absolute_url() + "?page=6")
    assert last.status_code == 200
    assert 'id="post-120"' in last.content.decode()

    forum = big.forum
    listing = client.get(forum.get_absolute_url())
    assert listing.status_code == 200
    assert f"<dd>{big.reply_count}</dd>" in listing.content.decode()

    index = client.get("/").content.decode()
    for shown in Forum.objects.all():
        assert f"<dd>{shown.post_count}</dd>" in index
        assert f"<dd>{shown.topic_count}</dd>" in index


def test_a_database_with_posts_is_refused_and_left_alone() -> None:
    topic = make_topic()
    members = User.objects.count()
    with pytest.raises(CommandError, match="--append"):
        call_command("bench_data", *SMALL_ARGS, stdout=StringIO())
    with pytest.raises(DatabaseNotEmpty):
        generate()
    assert User.objects.count() == members
    assert list(Post.objects.all()) == list(topic.posts.all())


def test_append_writes_a_second_community_and_changes_nothing_there() -> None:
    generate()
    before = snapshot()
    generate(append=True)  # the same seed: the same names, which must not collide
    assert User.objects.count() == 60
    usernames = list(User.objects.values_list("username", flat=True))
    assert len({name.lower() for name in usernames}) == 60
    after = snapshot()
    for table, rows in before.items():
        assert after[table][: len(rows)] == rows
    assert_counters_match_a_recount()


def test_the_same_seed_gives_the_same_community_and_another_seed_another() -> None:
    generate(seed=7)
    first = snapshot()
    wipe()
    generate(seed=7)
    assert snapshot() == first
    wipe()
    generate(seed=8)
    assert snapshot()["posts"] != first["posts"]


def test_the_command_shows_each_phase_and_the_total_time() -> None:
    out = StringIO()
    call_command("bench_data", *SMALL_ARGS, "--seed=3", stdout=out)
    output = out.getvalue()
    for phase in ("text", "plan", "members", "topics", "posts", "counters"):
        assert f"\n{phase} " in output
    assert "400/400" in output
    assert "Done in" in output
    assert "no search index" in output
    assert_counters_match_a_recount()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--posts=100", "--big-topic-posts=95", "--topics=10"], "--posts must be at least"),
        (["--members=0"], "--members must be at least 1"),
        (["--topics=1", "--posts=5", "--big-topic-posts=4"], "must be equal"),
    ],
)
def test_impossible_sizes_are_refused_with_the_reason(arguments: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("bench_data", *arguments, stdout=StringIO())
    assert not User.objects.exists()


def test_the_builder_leaves_counters_a_recount_keeps() -> None:
    size = CommunitySize(members=20, topics=8, posts=150, big_topic_posts=40, forums=3)
    generate_community(size=size, batch=40, now=NOW)
    written = counters_of_every_row()
    assert User.objects.aggregate(total=Sum("post_count"))["total"] == 150

    recount_everything()

    assert counters_of_every_row() == written
