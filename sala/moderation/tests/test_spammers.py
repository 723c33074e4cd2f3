"""The spammer clean-up: one action removes a member's topics and replies, bans them,
signs them out and marks the domains they advertise; undo puts all of it back."""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks

from sala.accounts.models import User
from sala.accounts.tests.factories import DEFAULT_PASSWORD, client_of, make_member
from sala.forums.models import Post, Topic
from sala.forums.services import reply
from sala.forums.tests.counting import recount_everything, snapshot
from sala.forums.tests.factories import make_forum, make_moderator, make_topic
from sala.moderation.models import Ban, BanKind, SpammerCleanup
from sala.staff.models import AuditEntry
from sala.trust.models import SpamDomain

pytestmark = pytest.mark.django_db


@pytest.fixture
def spammer() -> User:
    """A member with a topic of adverts and replies of adverts in a real member's topic."""
    member = make_member(username="cheapwatches", email="deals@spam.example")
    User.objects.filter(pk=member.pk).update(
        signup_address="203.0.113.9", last_address="203.0.113.10"
    )
    member.refresh_from_db()
    make_topic(
        author=member,
        title="Best watches",
        text="Buy at https://www.cheap-watches.example/deal and https://youtube.com/watch",
    )
    honest = make_topic(title="The ferry is late again", text="Since Monday.")
    for text in ("Great prices at https://cheap-watches.example", "Visit https://pills.example"):
        reply(topic=honest, author=member, text=text)
    return member


def spammer_page(client: Client, member: User) -> str:
    return reverse("moderation:spammer", kwargs={"member_id": member.pk})


def test_a_global_moderator_removes_a_spammer_in_one_step_and_everything_follows(
    spammer: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    spammers_browser = client_of(spammer)
    moderator = client_of(make_moderator("mod"))
    form = moderator.get(spammer_page(moderator, spammer)).content.decode()
    assert "deletes their 1 topic" in form
    assert "hides their 2 replies in others" in form
    for domain in ("cheap-watches.example", "pills.example", "youtube.com"):
        assert f'value="{domain}"' in form

    with django_capture_on_commit_callbacks(execute=True):
        response = moderator.post(
            spammer_page(moderator, spammer),
            {"reason": "Watch adverts", "domains": ["cheap-watches.example", "pills.example"]},
        )

    assert response.status_code == 302
    assert Topic.objects.get(title="Best watches").is_deleted
    hidden = Post.objects.filter(author=spammer, number__gt=1)
    assert all(post.is_hidden for post in hidden)
    guest_page = Client().get(Topic.objects.get(title="The ferry is late again").get_absolute_url())
    assert "cheap-watches" not in guest_page.content.decode()
    assert set(Ban.objects.values_list("kind", "value", "registration_only")) == {
        (BanKind.USERNAME, "cheapwatches", False),
        (BanKind.EMAIL, "deals@spam.example", False),
        (BanKind.ADDRESS, "203.0.113.9/32", True),
        (BanKind.ADDRESS, "203.0.113.10/32", True),
    }
    assert set(SpamDomain.objects.values_list("domain", flat=True)) == {
        "cheap-watches.example",
        "pills.example",
    }
    # Signed out everywhere: their open session is no longer signed in.
    assert spammers_browser.get(reverse("accounts:edit_profile")).status_code == 302
    assert (
        Client()
        .post("/accounts/login/", {"login": "cheapwatches", "password": DEFAULT_PASSWORD})
        .status_code
        != 302
    )
    entry = AuditEntry.objects.get(action="member.spammer")
    assert entry.after["topics_deleted"] == 1 and entry.after["replies_hidden"] == 2
    counted = snapshot()
    recount_everything()
    assert snapshot() == counted
    page = moderator.get(spammer_page(moderator, spammer)).content.decode()
    assert "was removed as a spammer" in page and "Undo the clean-up" in page


def test_undoing_a_clean_up_puts_back_what_it_did(
    spammer: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    moderator = client_of(make_moderator("mod"))
    SpamDomain.objects.create(domain="pills.example", note="marked before")
    with django_capture_on_commit_callbacks(execute=True):
        moderator.post(
            spammer_page(moderator, spammer),
            {"reason": "Spam", "domains": ["cheap-watches.example", "pills.example"]},
        )
    cleanup = SpammerCleanup.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        undone = moderator.post(reverse("moderation:undo_spammer", args=[cleanup.pk]))

    assert undone.status_code == 302
    assert not Topic.objects.get(title="Best watches").is_deleted
    assert not Post.objects.filter(author=spammer, is_hidden=True).exists()
    assert not Ban.objects.exists()
    # Only what the clean-up marked goes; a domain marked before it stays.
    assert list(SpamDomain.objects.values_list("domain", flat=True)) == ["pills.example"]
    assert (
        Client()
        .post("/accounts/login/", {"login": "cheapwatches", "password": DEFAULT_PASSWORD})
        .status_code
        == 302
    )
    again = moderator.post(reverse("moderation:undo_spammer", args=[cleanup.pk]), follow=True)
    assert "This clean-up was undone already." in again.content.decode()
    assert AuditEntry.objects.filter(action="member.spammer_undo").count() == 1


def test_a_clean_up_older_than_thirty_days_cannot_be_undone(spammer: User) -> None:
    moderator = client_of(make_moderator("mod"))
    moderator.post(spammer_page(moderator, spammer), {"reason": "Spam"})
    cleanup = SpammerCleanup.objects.get()
    SpammerCleanup.objects.filter(pk=cleanup.pk).update(
        created_at=timezone.now() - timedelta(days=31)
    )

    response = moderator.post(reverse("moderation:undo_spammer", args=[cleanup.pk]), follow=True)

    assert "A clean-up can be undone for 30 days; this one is older." in response.content.decode()
    assert Topic.objects.get(title="Best watches").is_deleted


def test_forum_moderators_members_and_staff_targets_are_refused(
    spammer: User, settings: Any
) -> None:
    forum_moderator = client_of(make_moderator("forummod", forum=make_forum(name="Local")))
    assert forum_moderator.get(spammer_page(forum_moderator, spammer)).status_code == 403
    assert (
        client_of(make_member(username="reader"))
        .get(spammer_page(forum_moderator, spammer))
        .status_code
        == 403
    )
    other_moderator = make_moderator("othermod")
    response = client_of(make_moderator("mod")).post(
        spammer_page(forum_moderator, other_moderator), {"reason": "Spam"}
    )
    assert response.status_code == 403
    assert not SpammerCleanup.objects.exists()
    assert not Topic.objects.get(title="Best watches").is_deleted


def test_a_clean_up_without_a_reason_is_refused_at_the_field_and_changes_nothing(
    spammer: User,
) -> None:
    moderator = client_of(make_moderator("mod"))
    response = moderator.post(spammer_page(moderator, spammer), {"reason": ""})
    assert response.status_code == 200
    assert "Say why, for the other moderators." in response.content.decode()
    assert not Ban.objects.exists()
    assert not Topic.objects.get(title="Best watches").is_deleted


def test_the_hide_page_offers_the_clean_up_to_those_who_may_use_it(spammer: User) -> None:
    post = Post.objects.filter(author=spammer, number__gt=1).first()
    assert post is not None
    url = reverse("moderation:hide_post", args=[post.topic_id, post.topic.slug, post.number])
    offered = client_of(make_moderator("mod")).get(url).content.decode()
    assert "Is cheapwatches a spammer?" in offered
    forum_moderator = client_of(make_moderator("forummod", forum=post.topic.forum))
    assert "a spammer?" not in forum_moderator.get(url).content.decode()
