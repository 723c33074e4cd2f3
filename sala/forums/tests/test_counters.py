"""The forums' counters: what the services keep one write at a time is what a recount of
the rows gives, and a recount mends counters gone wrong."""

from datetime import UTC, datetime

import pytest

from sala.accounts.models import User
from sala.accounts.tests.factories import make_member
from sala.forums import counters, services
from sala.forums.models import Forum, Post, Topic
from sala.forums.tests.counting import recount_everything, snapshot
from sala.forums.tests.factories import make_forum, make_moderator, make_replies, make_topic

pytestmark = pytest.mark.django_db


def live_a_little() -> dict[str, Forum]:
    """Write through the services what members and moderators do in a day, in two forums:
    topics started, replies, edits, recommendations, replies and topics deleted."""
    news, general = make_forum(name="News"), make_forum(name="General")
    marta, oskar, priya = (make_member(username=name) for name in ("marta", "oskar", "priya"))
    moderator = make_moderator()

    tram = make_topic(forum=news, author=marta, title="The tram line")
    bridge = make_topic(forum=news, author=oskar, title="The new bridge")
    hello = make_topic(forum=general, author=priya, title="Hello")
    tram_replies = make_replies(tram, 4, author=oskar) + make_replies(tram, 2, author=priya)
    bridge_replies = make_replies(bridge, 3, author=marta)
    make_replies(hello, 2, author=marta)

    services.edit_post(post=tram_replies[0], editor=oskar, text="Edited, as authors do.")
    services.recommend_post(post=tram_replies[1], moderator=moderator)
    services.recommend_post(post=tram_replies[2], moderator=moderator)
    services.unrecommend_post(post=tram_replies[2], moderator=moderator)
    # A recommended reply deleted by its author; the topic's last reply by a moderator,
    # which leaves the topic's last activity where it was.
    services.delete_post(post=tram_replies[1], actor=oskar)
    services.delete_post(post=tram_replies[-1], actor=moderator)
    # The forum's newest post deleted: its last post moves back to the one before.
    services.delete_post(post=bridge_replies[-1], actor=marta)
    # A topic deleted through its first post, then one of its replies on its own.
    services.delete_post(post=Post.objects.get(topic=bridge, number=1), actor=moderator)
    services.delete_post(post=bridge_replies[0], actor=moderator)
    # A topic its author deletes while nobody has replied.
    lonely = make_topic(forum=general, author=oskar, title="Anyone?")
    services.delete_post(post=Post.objects.get(topic=lonely, number=1), actor=oskar)
    # A moderator replies to a locked topic (the one-statement-at-a-time path).
    Topic.objects.filter(pk=hello.pk).update(is_locked=True)
    hello.refresh_from_db()
    services.reply(topic=hello, author=moderator, text="Locked now; thanks, everyone.")
    return {"news": news, "general": general}


def test_after_the_services_writes_a_recount_changes_no_counter() -> None:
    forums = live_a_little()
    kept = snapshot()

    recount_everything()

    assert snapshot() == kept
    # What the index shows: tram (7 posts, 5 left) and nothing of the deleted bridge;
    # hello (3 posts and the moderator's reply) and nothing of the deleted "Anyone?".
    news, general = (Forum.objects.get(pk=forums[name].pk) for name in ("news", "general"))
    assert (news.topic_count, news.post_count) == (1, 5)
    assert (general.topic_count, general.post_count) == (1, 4)
    assert dict(User.objects.values_list("username", "post_count")) == {
        "marta": 1 + 1 + 2,  # the tram; one of three bridge replies left; two hellos
        "oskar": 3,  # four tram replies, one deleted; the bridge and "Anyone?" deleted
        "priya": 1 + 1,  # hello; two tram replies, the last deleted
        "moderator": 1,
    }


def test_a_reply_deleted_in_a_deleted_topic_is_not_taken_from_its_forum_twice() -> None:
    forum = make_forum()
    topic = make_topic(forum=forum)
    keep = make_topic(forum=forum)
    replies = make_replies(topic, 2)
    moderator = make_moderator()
    services.delete_post(post=Post.objects.get(topic=topic, number=1), actor=moderator)
    services.delete_post(post=replies[0], actor=moderator)

    forum.refresh_from_db()
    assert (forum.topic_count, forum.post_count) == (1, 1)
    assert forum.last_post == Post.objects.get(topic=keep, number=1)
    assert User.objects.get(pk=replies[0].author_id).post_count == 1


def test_a_recount_mends_counters_broken_by_hand() -> None:
    live_a_little()
    right = snapshot()
    oldest = Post.objects.order_by("pk").first()
    assert oldest is not None
    Topic.objects.update(
        last_number=0, reply_count=99, last_post_at=datetime(2001, 1, 1, tzinfo=UTC)
    )
    Topic.objects.update(last_poster_id=oldest.author_id)
    Forum.objects.update(topic_count=7, post_count=0, last_post=oldest)
    User.objects.update(post_count=1_000)
    assert snapshot() != right

    recount_everything()

    assert snapshot() == right


def test_a_recount_leaves_the_rows_it_was_not_given_alone() -> None:
    first, second = make_topic(), make_topic()
    make_replies(first, 2)
    Topic.objects.update(reply_count=50)
    Forum.objects.update(post_count=50)

    counters.recount_topics([first.pk])
    counters.recount_forums([first.forum_id])

    assert Topic.objects.get(pk=first.pk).reply_count == 2
    assert Topic.objects.get(pk=second.pk).reply_count == 50
    assert Forum.objects.get(pk=first.forum_id).post_count == 3
    assert Forum.objects.get(pk=second.forum_id).post_count == 50


def test_a_recount_of_many_rows_takes_them_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(counters, "RECOUNT_BATCH", 2)
    topics = [make_topic() for _ in range(5)]
    for topic in topics:
        make_replies(topic, 1)
    Topic.objects.update(reply_count=0)

    counters.recount_topics(topic.pk for topic in topics)

    assert set(Topic.objects.values_list("reply_count", flat=True)) == {1}
