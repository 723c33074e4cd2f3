"""Locking, pinning and closing a topic for a time, from its page: what members can do
after each, what the forum page shows, the log, and bad or late requests."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sala.accounts.models import User
from sala.accounts.tests.factories import client_of, make_member
from sala.forums.models import Post, Topic
from sala.forums.tests.factories import make_forum, make_moderator, make_topic
from sala.moderation import services
from sala.staff.audit import Acting
from sala.staff.models import AuditEntry

pytestmark = pytest.mark.django_db


def use_tool(member: User, topic: Topic, **data: str) -> str:
    """Press a topic tool as `member`; return the page they land on."""
    response = client_of(member).post(
        reverse("moderation:topic_tools", args=[topic.pk, topic.slug]), data, follow=True
    )
    assert response.status_code == 200
    return response.content.decode()


def try_to_reply(member: User, topic: Topic) -> int:
    response = client_of(member).post(
        reverse("forums:reply", args=[topic.pk, topic.slug]),
        {"text": "Can I still say something?", "action": "post"},
    )
    return response.status_code


def test_a_locked_topic_takes_replies_only_from_moderators_until_unlocked() -> None:
    topic, moderator, member = make_topic(), make_moderator(), make_member(username="marta")

    page = use_tool(moderator, topic, action="lock")

    assert "The topic is locked: only moderators can reply." in page
    assert (
        "This topic is locked: no new replies."
        in client_of(member).get(topic.get_absolute_url()).content.decode()
    )
    assert try_to_reply(member, topic) == 403
    assert try_to_reply(moderator, topic) == 302

    use_tool(moderator, topic, action="unlock")

    assert try_to_reply(member, topic) == 302
    assert list(AuditEntry.objects.values_list("action", flat=True).order_by("pk")) == [
        "topic.lock",
        "topic.unlock",
    ]


def test_a_topic_closed_for_a_day_refuses_replies_and_reopens_by_itself() -> None:
    topic, moderator, member = make_topic(), make_moderator(), make_member(username="marta")

    page = use_tool(moderator, topic, action="close", close_for="1d")

    assert "it reopens by itself" in page
    assert (
        "Closed to replies until"
        in client_of(member).get(topic.get_absolute_url()).content.decode()
    )
    assert try_to_reply(member, topic) == 403
    # A day later (the close's end moved into the past): open again, with no task run.
    Topic.objects.filter(pk=topic.pk).update(closed_until=timezone.now() - timedelta(seconds=1))
    assert try_to_reply(member, topic) == 302
    assert Post.objects.filter(topic=topic, author=member).count() == 1


def test_closing_without_saying_for_how_long_is_refused_and_changes_nothing() -> None:
    topic, moderator = make_topic(), make_moderator()

    page = use_tool(moderator, topic, action="close", close_for="forever")

    assert "Choose how long to close the topic for." in page
    assert Topic.objects.get(pk=topic.pk).closed_until is None
    assert not AuditEntry.objects.exists()


def test_a_pinned_topic_leads_its_forum_and_a_second_pin_is_told_it_is_pinned() -> None:
    forum = make_forum()
    pinned = make_topic(forum=forum, title="House rules for the news forum")
    make_topic(forum=forum, title="A newer story")
    first, second = make_moderator("first"), make_moderator("second")

    use_tool(first, pinned, action="pin")
    page = use_tool(second, pinned, action="pin")

    assert "This topic is pinned already." in page
    listing = Client().get(forum.get_absolute_url()).content.decode()
    assert listing.index("House rules") < listing.index("A newer story")
    assert AuditEntry.objects.filter(action="topic.pin").count() == 1


def test_an_unknown_tool_is_refused_with_a_message() -> None:
    topic, moderator = make_topic(), make_moderator()

    page = use_tool(moderator, topic, action="explode")

    assert "That is not something moderators do to a topic." in page


def test_closing_until_a_time_past_is_refused() -> None:
    topic, moderator = make_topic(), make_moderator()

    with pytest.raises(ValidationError, match="Choose a time still to come"):
        services.close_topic(
            topic=topic,
            acting=Acting(actor=moderator),
            until=timezone.now() - timedelta(minutes=1),
        )
    assert Topic.objects.get(pk=topic.pk).closed_until is None
