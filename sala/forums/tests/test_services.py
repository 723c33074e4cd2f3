"""Writes on topics and posts: cooked, counted, numbered, once."""

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks

from sala.accounts.models import User
from sala.accounts.tests.factories import make_member
from sala.core import page_cache
from sala.forums import services
from sala.forums.cached_pages import (
    INDEX,
    forum_generation,
    topic_generation,
    topic_page_generation,
)
from sala.forums.models import Forum, Post, Topic
from sala.forums.tests.factories import make_forum, make_moderator, make_replies, make_topic

pytestmark = pytest.mark.django_db

Committed = Callable[[Callable[[], object]], None]


@pytest.fixture
def committed(django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks) -> Committed:
    """Return a way to make a write as if its transaction committed (bumps run after)."""

    def committed(write: Callable[[], object]) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            write()

    return committed


def test_creating_a_topic_stores_its_first_post_cooked_and_counts_it() -> None:
    forum = make_forum()
    author = make_member(username="marta")
    topic = services.create_topic(
        forum=forum,
        author=author,
        title="Tram returns",
        text="It is **back**.\n\n> quoted",
        source_url="https://news.example.org/tram",
    )
    post = topic.posts.get()
    assert post.number == 1
    assert "<strong>back</strong>" in post.html
    assert "<blockquote>" in post.html
    assert topic.slug == "tram-returns"
    forum.refresh_from_db()
    assert (forum.topic_count, forum.post_count, forum.last_post_id) == (1, 1, post.pk)
    assert User.objects.get(pk=author.pk).post_count == 1


def test_replies_are_numbered_in_order_and_counted_everywhere() -> None:
    topic = make_topic()
    replier = make_member(username="oskar")
    first, second = make_replies(topic, 2, author=replier)
    assert (first.number, second.number) == (2, 3)
    topic.refresh_from_db()
    assert (topic.reply_count, topic.last_number, topic.last_poster_id) == (2, 3, replier.pk)
    forum = Forum.objects.get(pk=topic.forum_id)
    assert (forum.post_count, forum.last_post_id) == (3, second.pk)
    assert User.objects.get(pk=replier.pk).post_count == 2


def test_a_repeated_submission_key_gives_the_same_post_not_a_second() -> None:
    topic = make_topic()
    member = make_member(username="oskar")
    key = uuid.uuid4()
    once = services.reply(topic=topic, author=member, text="Hello", submission_key=key)
    again = services.reply(topic=topic, author=member, text="Hello", submission_key=key)
    assert once.pk == again.pk
    assert topic.posts.count() == 2


def test_a_repeated_new_topic_submission_gives_one_topic() -> None:
    forum = make_forum()
    member = make_member(username="marta")
    key = uuid.uuid4()
    kwargs = {"forum": forum, "author": member, "title": "Once", "text": "Only once."}
    first = services.create_topic(**kwargs, submission_key=key)  # type: ignore[arg-type]
    second = services.create_topic(**kwargs, submission_key=key)  # type: ignore[arg-type]
    assert first.pk == second.pk
    assert Topic.objects.count() == 1


def test_a_reply_brings_the_topic_it_was_given_up_to_date() -> None:
    topic = make_topic()
    replier = make_member(username="oskar")
    post = services.reply(topic=topic, author=replier, text="Hello")
    assert post.topic is topic
    assert (topic.last_number, topic.reply_count, topic.last_poster) == (2, 1, replier)
    assert Post.objects.get(pk=post.pk).number == 2


def test_replying_to_a_topic_locked_since_it_was_read_is_refused_and_changes_nothing() -> None:
    topic = make_topic()
    Topic.objects.filter(pk=topic.pk).update(is_locked=True)
    with pytest.raises(PermissionDenied):
        services.reply(topic=topic, author=make_member(username="oskar"), text="Let me in")
    topic.refresh_from_db()
    assert (topic.last_number, topic.reply_count) == (1, 0)
    assert topic.posts.count() == 1
    assert Forum.objects.get(pk=topic.forum_id).post_count == 1


def test_replying_to_a_locked_topic_is_refused_and_changes_nothing() -> None:
    topic = make_topic()
    Topic.objects.filter(pk=topic.pk).update(is_locked=True)
    topic.refresh_from_db()
    with pytest.raises(PermissionDenied):
        services.reply(topic=topic, author=make_member(username="oskar"), text="Let me in")
    assert topic.posts.count() == 1


def test_a_moderator_may_still_reply_to_a_locked_topic() -> None:
    topic = make_topic()
    Topic.objects.filter(pk=topic.pk).update(is_locked=True)
    topic.refresh_from_db()
    post = services.reply(topic=topic, author=make_moderator(), text="Locked, and why.")
    assert post.number == 2


def test_editing_keeps_the_old_text_as_a_revision_and_counts_the_edit() -> None:
    topic = make_topic(text="First version")
    post = topic.posts.get()
    services.edit_post(post=post, editor=topic.author, text="Second *version*")
    post.refresh_from_db()
    assert post.edit_count == 1
    assert "<em>version</em>" in post.html
    assert post.revisions.get().text == "First version"


def test_renaming_a_topic_changes_its_slug_and_keeps_the_old_title_in_the_revision() -> None:
    topic = make_topic(title="Old title")
    services.edit_post(post=topic.posts.get(), editor=topic.author, text="Same", title="New title")
    topic.refresh_from_db()
    assert (topic.title, topic.slug) == ("New title", "new-title")
    assert topic.posts.get().revisions.get().title == "Old title"


def test_an_author_cannot_edit_after_the_edit_window(settings: object) -> None:
    topic = make_topic()
    post = topic.posts.get()
    Post.objects.filter(pk=post.pk).update(created_at=timezone.now() - timedelta(days=30))
    post.refresh_from_db()
    with pytest.raises(PermissionDenied):
        services.edit_post(post=post, editor=topic.author, text="Too late")


def test_nobody_edits_someone_elses_post_but_a_moderator() -> None:
    topic = make_topic()
    post = topic.posts.get()
    with pytest.raises(PermissionDenied):
        services.edit_post(post=post, editor=make_member(username="intruder"), text="Mine now")
    services.edit_post(post=post, editor=make_moderator(), text="Tidied by a moderator")
    post.refresh_from_db()
    assert post.text == "Tidied by a moderator"


def test_deleting_a_reply_keeps_its_number_and_takes_it_out_of_the_counts() -> None:
    topic = make_topic()
    replies = make_replies(topic, 3)
    services.delete_post(post=replies[1], actor=replies[1].author)
    topic.refresh_from_db()
    assert topic.reply_count == 2
    assert topic.last_number == 4
    assert list(topic.posts.order_by("number").values_list("number", "is_deleted")) == [
        (1, False),
        (2, False),
        (3, True),
        (4, False),
    ]
    assert Forum.objects.get(pk=topic.forum_id).post_count == 3
    assert User.objects.get(pk=replies[1].author_id).post_count == 2
    next_reply = services.reply(topic=topic, author=topic.author, text="After the gap")
    assert next_reply.number == 5


def test_deleting_the_newest_post_moves_the_forums_latest_post_back() -> None:
    topic = make_topic()
    (only_reply,) = make_replies(topic, 1)
    services.delete_post(post=only_reply, actor=only_reply.author)
    assert Forum.objects.get(pk=topic.forum_id).last_post_id == topic.posts.get(number=1).pk


def test_an_author_deletes_their_topic_only_while_nobody_has_replied() -> None:
    topic = make_topic()
    make_replies(topic, 1)
    with pytest.raises(PermissionDenied):
        services.delete_post(post=topic.posts.get(number=1), actor=topic.author)

    lonely = make_topic(forum=Forum.objects.get(pk=topic.forum_id))
    services.delete_post(post=lonely.posts.get(), actor=lonely.author)
    lonely.refresh_from_db()
    assert lonely.is_deleted
    forum = Forum.objects.get(pk=topic.forum_id)
    assert (forum.topic_count, forum.post_count) == (1, 2)


def test_only_moderators_recommend_replies_and_who_did_is_kept() -> None:
    topic = make_topic()
    (reply,) = make_replies(topic, 1)
    with pytest.raises(PermissionDenied):
        services.recommend_post(post=reply, moderator=topic.author)
    moderator = make_moderator()
    services.recommend_post(post=reply, moderator=moderator)
    reply.refresh_from_db()
    assert reply.recommended_by_id == moderator.pk
    assert reply.recommended_at is not None


def test_mentions_of_real_members_link_to_their_profiles() -> None:
    make_member(username="Priya_N")
    topic = make_topic(text="Thanks @priya_n and @nobody_here")
    html = topic.posts.get().html
    assert 'href="/u/Priya_N/"' in html
    assert "@nobody_here" in html
    assert 'href="/u/nobody_here/"' not in html


def test_buffered_views_are_added_to_the_topics() -> None:
    topic = make_topic()
    services.add_views({topic.pk: 7})
    services.add_views({topic.pk: 3})
    topic.refresh_from_db()
    assert topic.view_count == 10


# --- What each write makes guests' cached pages drop -------------------------------------


def bumped(committed: Committed, write: Callable[[], object], *names: str) -> set[str]:
    """Return which of the generations `names` `write` bumps once it commits."""
    generations = page_cache.get_generations()
    before = generations.read(names)
    committed(write)
    after = generations.read(names)
    assert before is not None and after is not None
    return {name for name, old, new in zip(names, before, after, strict=True) if new != old}


def topic_pages(topic: Topic, pages: int) -> tuple[str, ...]:
    """Return the generations of `topic` as a whole, of its first pages, its forum and the
    index."""
    return (
        topic_generation(topic.pk),
        *(topic_page_generation(topic.pk, page) for page in range(1, pages + 1)),
        forum_generation(topic.forum_id),
        INDEX,
    )


def test_a_reply_bumps_its_page_the_forum_and_the_index_but_not_the_other_pages(
    committed: Committed,
) -> None:
    topic = make_topic()
    make_replies(topic, 23)  # 24 posts: page 2 holds 21-24
    replier = make_member(username="oskar")

    moved = bumped(
        committed,
        lambda: services.reply(topic=topic, author=replier, text="Number 25"),
        *topic_pages(topic, 3),
    )

    assert moved == {topic_page_generation(topic.pk, 2), forum_generation(topic.forum_id), INDEX}


def test_a_reply_that_starts_a_page_bumps_the_whole_topic(committed: Committed) -> None:
    topic = make_topic()
    make_replies(topic, 39)  # 40 posts: two full pages
    replier = make_member(username="oskar")

    moved = bumped(
        committed,
        lambda: services.reply(topic=topic, author=replier, text="Number 41"),
        *topic_pages(topic, 3),
    )

    assert moved == {
        topic_generation(topic.pk),
        topic_page_generation(topic.pk, 3),
        forum_generation(topic.forum_id),
        INDEX,
    }


def test_an_edit_bumps_its_page_and_a_new_title_the_topic_forum_and_index(
    committed: Committed,
) -> None:
    topic = make_topic()
    replies = make_replies(topic, 21)
    on_page_2 = replies[-1]

    moved = bumped(
        committed,
        lambda: services.edit_post(post=on_page_2, editor=on_page_2.author, text="Better"),
        *topic_pages(topic, 2),
    )
    assert moved == {topic_page_generation(topic.pk, 2)}

    first = topic.posts.get(number=1)
    moved = bumped(
        committed,
        lambda: services.edit_post(post=first, editor=topic.author, text="Same", title="Renamed"),
        *topic_pages(topic, 2),
    )
    assert moved == {
        topic_generation(topic.pk),
        topic_page_generation(topic.pk, 1),
        forum_generation(topic.forum_id),
        INDEX,
    }


def test_a_recommended_post_is_on_the_first_page_too_until_it_is_deleted(
    committed: Committed,
) -> None:
    topic = make_topic()
    replies = make_replies(topic, 21)
    on_page_2 = replies[-1]
    moderator = make_moderator()

    moved = bumped(
        committed,
        lambda: services.recommend_post(post=on_page_2, moderator=moderator),
        *topic_pages(topic, 2),
    )
    assert moved == {topic_generation(topic.pk), topic_page_generation(topic.pk, 2)}

    moved = bumped(
        committed,
        lambda: services.edit_post(post=on_page_2, editor=moderator, text="Tidied"),
        *topic_pages(topic, 2),
    )
    assert moved == {topic_page_generation(topic.pk, 1), topic_page_generation(topic.pk, 2)}

    moved = bumped(
        committed,
        lambda: services.delete_post(post=on_page_2, actor=moderator),
        *topic_pages(topic, 2),
    )
    assert moved == {
        topic_page_generation(topic.pk, 1),
        topic_page_generation(topic.pk, 2),
        forum_generation(topic.forum_id),
        INDEX,
    }

    replies[0].refresh_from_db()
    moved = bumped(
        committed,
        lambda: services.unrecommend_post(post=replies[0], moderator=moderator),
        *topic_pages(topic, 2),
    )
    assert moved == {topic_generation(topic.pk), topic_page_generation(topic.pk, 1)}


def test_deleting_a_reply_bumps_its_page_and_deleting_the_topic_every_page(
    committed: Committed,
) -> None:
    topic = make_topic()
    (reply,) = make_replies(topic, 1)

    moved = bumped(
        committed,
        lambda: services.delete_post(post=reply, actor=reply.author),
        *topic_pages(topic, 1),
    )
    assert moved == {
        topic_page_generation(topic.pk, 1),
        forum_generation(topic.forum_id),
        INDEX,
    }

    lonely = make_topic(title="Nobody answers")
    moved = bumped(
        committed,
        lambda: services.delete_post(post=lonely.posts.get(), actor=lonely.author),
        *topic_pages(lonely, 1),
    )
    assert moved == set(topic_pages(lonely, 1))


def read_as_guest(url: str) -> str:
    """Return whether a guest's read of `url` came from the page cache ("hit") or not."""
    response = Client(headers={"user-agent": "a guest"}).get(url)
    assert response.status_code == 200, url
    return str(response[page_cache.CACHE_HEADER])


def test_a_reply_on_the_last_page_leaves_guests_their_copy_of_the_first(
    committed: Committed,
) -> None:
    topic = make_topic()
    make_replies(topic, 23)
    first, last = topic.get_absolute_url(), topic.get_absolute_url() + "?page=2"
    read_as_guest(first), read_as_guest(last)

    committed(lambda: services.reply(topic=topic, author=topic.author, text="Number 25"))

    assert read_as_guest(first) == "hit"
    assert read_as_guest(last) == "miss"


def test_a_reply_that_starts_a_new_page_drops_the_first_pages_copy_for_its_pagination(
    committed: Committed,
) -> None:
    topic = make_topic()
    make_replies(topic, 39)
    first = topic.get_absolute_url()
    read_as_guest(first)

    committed(lambda: services.reply(topic=topic, author=topic.author, text="Number 41"))

    assert read_as_guest(first) == "miss"
    assert "Page 1 of 3" in Client().get(first).content.decode()


def test_an_edit_on_the_second_page_drops_only_that_pages_copy(committed: Committed) -> None:
    topic = make_topic()
    on_page_2 = make_replies(topic, 21)[-1]
    first, second = topic.get_absolute_url(), topic.get_absolute_url() + "?page=2"
    read_as_guest(first), read_as_guest(second)

    committed(lambda: services.edit_post(post=on_page_2, editor=on_page_2.author, text="Fixed"))

    assert read_as_guest(first) == "hit"
    assert read_as_guest(second) == "miss"
