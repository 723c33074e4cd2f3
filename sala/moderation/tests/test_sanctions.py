"""Warnings and suspensions: points that expire, the steps they take, and what a suspended
member can still do (read) and cannot (write), told why and until when."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sala.accounts.models import User
from sala.accounts.tests.factories import make_member
from sala.forums.models import Topic
from sala.forums.tests.factories import make_forum, make_moderator, make_replies, make_topic
from sala.moderation import sanctions
from sala.moderation.models import Warning
from sala.staff.audit import Acting
from sala.staff.models import AuditEntry, Role, StaffRole

pytestmark = pytest.mark.django_db


def fresh(member: User) -> User:
    return User.objects.get(pk=member.pk)


def test_warnings_add_up_to_a_step_that_suspends_the_member_by_itself() -> None:
    member, moderator = make_member(username="oskar"), make_moderator()
    acting = Acting(actor=moderator, reason="Name-calling")

    sanctions.warn_member(member=member, acting=acting, points=2)
    assert fresh(member).suspended_now_until is None
    sanctions.warn_member(member=member, acting=acting, points=1)

    until = fresh(member).suspended_now_until
    assert until is not None
    assert timedelta(hours=23) < until - timezone.now() <= timedelta(days=1)
    assert "3 warning points: Name-calling" in fresh(member).suspension_reason
    suspended = AuditEntry.objects.get(action="member.suspend")
    assert suspended.actor is None and suspended.subject_id == member.pk


def test_expired_warnings_count_for_nothing() -> None:
    member, moderator = make_member(username="oskar"), make_moderator()
    sanctions.warn_member(member=member, acting=Acting(moderator, "Old quarrel"), points=2)
    Warning.objects.update(expires_at=timezone.now() - timedelta(days=1))

    sanctions.warn_member(member=member, acting=Acting(moderator, "New quarrel"), points=2)

    assert sanctions.active_points(member) == 2
    assert fresh(member).suspended_now_until is None


def test_a_first_step_silences_the_member_who_still_reads_edits_and_reports() -> None:
    topic = make_topic()
    member = make_member(username="oskar")
    (own,) = make_replies(topic, 1, author=member)
    (other,) = make_replies(topic, 1)
    sanctions.warn_member(member=member, acting=Acting(make_moderator(), "Baiting"), points=2)
    client = Client()
    client.force_login(member)

    page = client.get(topic.get_absolute_url()).content.decode()
    reply = client.post(
        reverse("forums:reply", args=[topic.pk, topic.slug]),
        {"text": "Still here", "action": "post"},
    )
    start = client.post(
        reverse("forums:create_topic"),
        {"forum": topic.forum_id, "title": "A topic of my own", "text": "Hello", "action": "post"},
    )
    edit = client.post(
        reverse("forums:edit_post", args=[topic.pk, topic.slug, own.number]),
        {"text": "Calmer words.", "action": "post"},
    )
    report = client.post(
        reverse("moderation:report_post", args=[topic.pk, topic.slug, other.number]),
        {"reason": "spam", "text": ""},
    )

    until = fresh(member).silenced_now_until
    assert until is not None
    assert timedelta(days=2, hours=23) < until - timezone.now() <= timedelta(days=3)
    assert fresh(member).suspended_now_until is None
    assert "You are silenced until" in page and "2 warning points: Baiting" in page
    assert "Reply to this topic" not in page
    assert reply.status_code == 403
    assert "not start topics or reply" in reply.content.decode()
    assert start.status_code == 403
    assert (
        "not start topics or reply" in client.get(reverse("forums:create_topic")).content.decode()
    )
    assert not Topic.objects.filter(title="A topic of my own").exists()
    assert edit.status_code == 302
    assert report.status_code == 302
    silenced = AuditEntry.objects.get(action="member.silence")
    assert silenced.actor is None and silenced.subject_id == member.pk


def test_a_silenced_member_reaching_a_suspension_step_is_suspended_too() -> None:
    member, moderator = make_member(username="oskar"), make_moderator()
    sanctions.warn_member(member=member, acting=Acting(moderator, "Baiting"), points=2)

    sanctions.warn_member(member=member, acting=Acting(moderator, "Baiting again"), points=1)

    assert fresh(member).suspended_now_until is not None
    assert fresh(member).silenced_now_until is not None
    assert list(
        AuditEntry.objects.filter(actor=None).values_list("action", flat=True).order_by("pk")
    ) == ["member.silence", "member.suspend"]


def test_a_suspended_member_reads_but_cannot_post_and_is_told_why_and_until_when() -> None:
    topic = make_topic()
    member = make_member(username="oskar")
    sanctions.suspend_member(
        member=member,
        acting=Acting(make_moderator(), "Flooding the forum"),
        until=timezone.now() + timedelta(days=3),
    )
    client = Client()
    client.force_login(member)

    page = client.get(topic.get_absolute_url()).content.decode()
    refused = client.post(
        reverse("forums:reply", args=[topic.pk, topic.slug]),
        {"text": "Still here", "action": "post"},
    )

    assert "You are suspended until" in page and "Flooding the forum" in page
    assert "Reply to this topic" not in page
    assert refused.status_code == 403
    assert "so you can read but not post" in refused.content.decode()
    other = Client()
    other.force_login(make_member(username="marta"))
    assert "Reply to this topic" in other.get(topic.get_absolute_url()).content.decode()


def test_a_suspension_ends_by_itself() -> None:
    topic = make_topic()
    member = make_member(username="oskar")
    sanctions.suspend_member(
        member=member,
        acting=Acting(make_moderator(), "Cool down"),
        until=timezone.now() + timedelta(hours=1),
    )
    User.objects.filter(pk=member.pk).update(suspended_until=timezone.now() - timedelta(seconds=1))
    client = Client()
    client.force_login(fresh(member))

    response = client.post(
        reverse("forums:reply", args=[topic.pk, topic.slug]), {"text": "Back", "action": "post"}
    )

    assert response.status_code == 302


def test_a_forum_moderator_cannot_warn_staff_nor_act_outside_their_forum() -> None:
    news, sport = make_forum(name="News"), make_forum(name="Sport")
    (reply,) = make_replies(make_topic(forum=sport), 1)
    desk = make_moderator("newsdesk", forum=news)
    staff_member = make_member(username="colleague")
    StaffRole.objects.create(role=Role.FORUM_MODERATOR, member=staff_member, forum_id=sport.pk)

    with pytest.raises(PermissionDenied, match="Only moderators of this forum"):
        sanctions.warn_member(
            member=reply.author, acting=Acting(desk, "Rude"), points=1, post=reply
        )
    with pytest.raises(PermissionDenied, match="administrators only"):
        sanctions.suspend_member(
            member=fresh(staff_member),
            acting=Acting(make_moderator("global"), "Rude"),
            until=timezone.now() + timedelta(days=1),
        )
    assert not Warning.objects.exists()
    assert fresh(staff_member).suspended_until is None


def test_a_warning_without_a_reason_or_points_is_refused() -> None:
    member, moderator = make_member(username="oskar"), make_moderator()

    with pytest.raises(ValidationError, match="Say why"):
        sanctions.warn_member(member=member, acting=Acting(moderator, ""), points=1)
    with pytest.raises(ValidationError, match="between 1 and 100"):
        sanctions.warn_member(member=member, acting=Acting(moderator, "Rude"), points=0)
    assert not Warning.objects.exists()
