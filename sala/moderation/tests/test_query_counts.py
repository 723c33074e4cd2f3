"""A moderator's topic page, with its tools, hidden and deleted posts, costs what a
member's does, whatever the topic's length."""

import pytest
from django.test import Client

from sala.forums import services as forum_services
from sala.forums.models import Post, Topic
from sala.forums.tests.factories import make_forum, make_moderator, make_replies, make_topic
from sala.forums.tests.querying import MEMBER_BUDGET, count_queries
from sala.moderation import services
from sala.staff.audit import Acting

pytestmark = pytest.mark.django_db


def topic_with_moderation(replies: int, moderator_name: str) -> Topic:
    """Return a topic with `replies` replies, a few hidden and deleted, locked."""
    topic = make_topic(forum=make_forum())
    moderator = make_moderator(moderator_name)
    posts = make_replies(topic, replies)
    for post in posts[:: max(1, replies // 3)]:
        services.hide_post(post=post, acting=Acting(actor=moderator, reason="Spam"))
    forum_services.delete_post(post=posts[-1], actor=moderator, reason="Spam")
    services.lock_topic(topic=topic, acting=Acting(actor=moderator), locked=True)
    return topic


def test_a_moderators_topic_page_costs_the_same_for_a_short_topic_and_a_long_one() -> None:
    short = topic_with_moderation(4, "first")
    long = topic_with_moderation(19, "second")  # a whole first page
    moderator = make_moderator("reader")
    client = Client()
    client.force_login(moderator)

    short_cost = count_queries(client, short.get_absolute_url())
    long_cost = count_queries(client, long.get_absolute_url())

    page = client.get(long.get_absolute_url()).content.decode()
    assert "Unlock" in page and "Unhide" in page and "Restore" in page
    assert Post.objects.filter(topic=long, is_hidden=True).count() >= 3
    assert long_cost == short_cost <= MEMBER_BUDGET["topic"]
