"""Counters stay right when members reply to the same topics at the same moment."""

import threading

import pytest
from django.db import connections

from sala.accounts.models import User
from sala.accounts.tests.factories import make_member
from sala.forums import services
from sala.forums.models import Forum, Post, Topic
from sala.forums.tests.factories import make_topic


@pytest.mark.django_db(transaction=True)
def test_concurrent_replies_get_distinct_numbers_and_exact_counts() -> None:
    topic = make_topic()
    repliers = [make_member(username=f"replier{n}", password=None) for n in range(6)]
    start = threading.Barrier(len(repliers))
    errors: list[BaseException] = []

    def reply_five_times(member: User) -> None:
        try:
            start.wait()
            for n in range(5):
                services.reply(topic=topic, author=member, text=f"{member.username} says {n}")
        except BaseException as error:  # collected, asserted below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=reply_five_times, args=(m,)) for m in repliers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    topic = Topic.objects.get(pk=topic.pk)
    assert (topic.reply_count, topic.last_number) == (30, 31)
    assert sorted(topic.posts.values_list("number", flat=True)) == list(range(1, 32))
    forum = Forum.objects.get(pk=topic.forum_id)
    assert forum.post_count == 31
    assert forum.last_post_id == topic.posts.order_by("-number").first().pk  # type: ignore[union-attr]
    assert [User.objects.get(pk=m.pk).post_count for m in repliers] == [5] * 6


@pytest.mark.django_db(transaction=True)
def test_concurrent_replies_to_topics_of_one_forum_keep_its_counts_and_newest_post() -> None:
    first = make_topic()
    forum = Forum.objects.get(pk=first.forum_id)
    topics = [first, *(make_topic(forum=forum, title=f"Topic {n}") for n in range(2))]
    repliers = [make_member(username=f"replier{n}", password=None) for n in range(6)]
    start = threading.Barrier(len(repliers))
    errors: list[BaseException] = []

    def reply_around(member: User, offset: int) -> None:
        try:
            start.wait()
            for n in range(6):
                topic = topics[(offset + n) % len(topics)]
                services.reply(topic=topic, author=member, text=f"{member.username} says {n}")
        except BaseException as error:  # collected, asserted below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=reply_around, args=(member, offset))
        for offset, member in enumerate(repliers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    for topic in Topic.objects.filter(forum=forum):
        assert (topic.reply_count, topic.last_number) == (12, 13)
        assert sorted(topic.posts.values_list("number", flat=True)) == list(range(1, 14))
    forum.refresh_from_db()
    assert forum.post_count == 3 + 36
    assert forum.last_post_id == Post.objects.filter(topic__forum=forum).latest("pk").pk
    assert [User.objects.get(pk=m.pk).post_count for m in repliers] == [6] * 6
