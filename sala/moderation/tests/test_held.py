"""Posts held for approval: by a forum that approves every new topic, by warnings' step,
by a new member's first posts. Nobody else sees them, their authors do, marked; they
wait in the review queue with their reason, and approving publishes them as if written
then, counted and announced."""

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks

from sala.accounts.models import User
from sala.accounts.tests.factories import client_of, make_member
from sala.forums.models import Forum, HeldPost, HeldState, Post, Topic
from sala.forums.tests.counting import recount_everything, snapshot
from sala.forums.tests.factories import make_forum, make_moderator, make_replies, make_topic
from sala.moderation import reports, sanctions
from sala.moderation.models import ReviewItem, State
from sala.staff.audit import Acting
from sala.staff.models import AuditEntry

if TYPE_CHECKING:  # what the test client returns, as django-stubs names it
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db

SECRET_TEXT = "The ferry timetable changes on Monday, says the harbour office."


def start_topic(
    client: Client, forum: Forum, title: str = "Ferry timetable", key: str | None = None
) -> "Response":
    return client.post(
        reverse("forums:create_topic"),
        {
            "forum": str(forum.pk),
            "title": title,
            "source_url": "",
            "text": SECRET_TEXT,
            "caption": "",
            "submission_key": key or str(uuid.uuid4()),
            "action": "post",
        },
        follow=True,
    )


def reply_to(
    client: Client, topic: Topic, text: str = SECRET_TEXT, *, follow: bool = True
) -> "Response":
    return client.post(
        reverse("forums:reply", args=[topic.pk, topic.slug]),
        {"text": text, "caption": "", "submission_key": str(uuid.uuid4()), "action": "post"},
        follow=follow,
    )


def decide(moderator: User, item: ReviewItem, action: str, reason: str = "") -> str:
    response = client_of(moderator).post(
        reverse("moderation:act_on_item", args=[item.pk]),
        {"action": action, "reason": reason},
        follow=True,
    )
    assert response.status_code == 200
    return response.content.decode()


def page_of(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_a_forum_that_approves_new_topics_holds_them_until_a_moderator_approves(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    forum = make_forum(name="Letters")
    Forum.objects.filter(pk=forum.pk).update(approve_new_topics=True)
    author, moderator = make_member(username="ines"), make_moderator(forum=forum)
    before = snapshot()

    with django_capture_on_commit_callbacks(execute=True):
        landed = start_topic(client_of(author), forum)

    page = landed.content.decode()
    assert "Your post awaits the moderators" in page and SECRET_TEXT in page
    assert "Awaiting approval" in page
    assert not Topic.objects.filter(title="Ferry timetable").exists()
    assert snapshot() == before  # not counted anywhere
    # The author sees it listed on the forum's page; guests and other members do not.
    assert "Your topics awaiting approval" in page_of(client_of(author), forum.get_absolute_url())
    for reader in (Client(), client_of(make_member(username="olaf"))):
        assert "Ferry timetable" not in page_of(reader, forum.get_absolute_url())
    held = HeldPost.objects.get()
    assert client_of(make_member(username="pia")).get(held.get_absolute_url()).status_code == 404
    queue = page_of(client_of(moderator), reverse("moderation:queue"))
    assert "New topic “Ferry timetable”" in queue
    assert "the forum approves every new topic" in queue and SECRET_TEXT in queue

    with django_capture_on_commit_callbacks(execute=True):
        done = decide(moderator, ReviewItem.objects.get(), "approve")

    assert "Approved: the post is published." in done
    topic = Topic.objects.get(title="Ferry timetable")
    assert topic.author_id == author.pk and topic.forum_id == forum.pk
    assert SECRET_TEXT in page_of(Client(), topic.get_absolute_url())
    assert "Ferry timetable" in page_of(Client(), forum.get_absolute_url())
    after = snapshot()
    recount_everything()
    assert snapshot() == after
    assert Forum.objects.get(pk=forum.pk).topic_count == 1
    held.refresh_from_db()
    assert held.state == HeldState.APPROVED and held.post is not None
    assert User.objects.get(pk=author.pk).held_count == 0
    item = ReviewItem.objects.get()
    assert (item.state, item.outcome, item.resolved_by_id) == (
        State.RESOLVED,
        "approve",
        moderator.pk,
    )
    assert AuditEntry.objects.filter(action="review.approve", subject_id=author.pk).exists()


def test_a_warnings_step_holds_a_members_replies_shown_to_them_alone(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    topic = make_topic(title="Harbour tram")
    make_replies(topic, 2)
    member, moderator = make_member(username="oskar"), make_moderator()
    sanctions.warn_member(member=member, acting=Acting(moderator, "Flooding the topic"), points=1)
    member.refresh_from_db()
    assert member.approval_now_until is not None
    assert "1 warning points: Flooding the topic" in member.approval_reason
    assert AuditEntry.objects.filter(action="member.hold_posts", subject_id=member.pk).exists()
    guest = Client()
    page_of(guest, topic.get_absolute_url())  # a cached copy for guests, to be dropped
    before = snapshot()

    with django_capture_on_commit_callbacks(execute=True):
        landed = reply_to(client_of(member), topic, follow=False)

    own = page_of(client_of(member), landed["Location"])
    assert "Your reply awaiting approval" in own and SECRET_TEXT in own
    assert snapshot() == before
    topic.refresh_from_db()
    assert (topic.last_number, topic.reply_count) == (3, 2)
    for reader in (guest, client_of(make_member(username="olaf"))):
        assert SECRET_TEXT not in page_of(reader, topic.get_absolute_url())
    queue = page_of(client_of(moderator), reverse("moderation:queue"))
    assert "Reply to “Harbour tram”" in queue
    assert "the author&#x27;s warnings hold their posts" in queue

    with django_capture_on_commit_callbacks(execute=True):
        decide(moderator, ReviewItem.objects.get(), "approve")

    published = Post.objects.get(topic=topic, number=4)
    assert (published.author_id, published.text) == (member.pk, SECRET_TEXT)
    assert SECRET_TEXT in page_of(guest, topic.get_absolute_url())
    assert "awaiting approval" not in page_of(client_of(member), topic.get_absolute_url())
    topic.refresh_from_db()
    assert (topic.reply_count, topic.last_poster_id) == (3, member.pk)


def test_a_new_members_first_posts_wait_and_the_next_ones_do_not(
    settings: Any, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    settings.SALA_APPROVE_FIRST_POSTS = 1
    topic = make_topic()
    newcomer, moderator = make_member(username="nadia"), make_moderator()

    with django_capture_on_commit_callbacks(execute=True):
        reply_to(client_of(newcomer), topic, "My first words here.")
    item = ReviewItem.objects.get()
    assert "a new member&#x27;s first posts" in page_of(
        client_of(moderator), reverse("moderation:queue")
    )
    decide(moderator, item, "approve")
    reply_to(client_of(newcomer), topic, "And my second.")
    # A moderator's own posts never wait.
    reply_to(client_of(make_moderator("desk")), topic, "Welcome!")

    texts = list(Post.objects.filter(topic=topic).values_list("text", flat=True))
    assert texts[-3:] == ["My first words here.", "And my second.", "Welcome!"]
    assert ReviewItem.objects.count() == 1


def test_a_rejected_post_is_never_published_and_a_rejection_needs_a_reason(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    forum = make_forum()
    Forum.objects.filter(pk=forum.pk).update(approve_new_topics=True)
    author, moderator = make_member(username="ines"), make_moderator()
    with django_capture_on_commit_callbacks(execute=True):
        start_topic(client_of(author), forum)
    item = ReviewItem.objects.get()

    refused = decide(moderator, item, "reject")
    assert "Say why" in refused
    assert HeldPost.objects.get().is_waiting
    done = decide(moderator, item, "reject", reason="An advert for ferries")

    assert "Rejected" in done
    assert not Topic.objects.exists()
    held = HeldPost.objects.get()
    assert held.state == HeldState.REJECTED
    assert "It was not published." in page_of(client_of(author), held.get_absolute_url())
    assert "Your topics awaiting approval" not in page_of(
        client_of(author), forum.get_absolute_url()
    )
    entry = AuditEntry.objects.get(action="review.reject")
    assert entry.reason == "An advert for ferries"


def test_the_author_withdraws_a_waiting_post_and_the_queue_lets_it_go(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    forum = make_forum()
    Forum.objects.filter(pk=forum.pk).update(approve_new_topics=True)
    author, moderator = make_member(username="ines"), make_moderator()
    with django_capture_on_commit_callbacks(execute=True):
        start_topic(client_of(author), forum)
    held = HeldPost.objects.get()

    # Nobody else can withdraw it, nor learn that it exists.
    assert client_of(make_member(username="olaf")).post(held.get_absolute_url()).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        client_of(author).post(held.get_absolute_url())

    held.refresh_from_db()
    assert held.state == HeldState.WITHDRAWN
    item = ReviewItem.objects.get()
    assert (item.state, item.outcome) == (State.REJECTED, "withdrawn")
    assert "Nothing waits for review." in page_of(client_of(moderator), reverse("moderation:queue"))
    refused = decide(moderator, item, "approve")
    assert "dealt with this already" in refused
    assert not Topic.objects.exists()


def test_a_double_submission_holds_one_post(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    forum = make_forum()
    Forum.objects.filter(pk=forum.pk).update(approve_new_topics=True)
    client = client_of(make_member(username="ines"))
    key = str(uuid.uuid4())

    with django_capture_on_commit_callbacks(execute=True):
        first, second = start_topic(client, forum, key=key), start_topic(client, forum, key=key)

    assert first.redirect_chain == second.redirect_chain
    assert HeldPost.objects.count() == 1 and ReviewItem.objects.count() == 1
    assert User.objects.get(username="ines").held_count == 1


def test_a_reply_whose_topic_was_locked_meanwhile_is_not_published_and_says_why(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    topic = make_topic()
    member, moderator = make_member(username="oskar"), make_moderator()
    User.objects.filter(pk=member.pk).update(approval_until=timezone.now() + timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        reply_to(client_of(member), topic)
    Topic.objects.filter(pk=topic.pk).update(is_locked=True)
    before = snapshot()

    page = decide(moderator, ReviewItem.objects.get(), "approve")

    assert "It can no longer be published: This topic is locked" in page
    assert snapshot() == before
    assert HeldPost.objects.get().is_waiting and ReviewItem.objects.get().is_waiting


def test_a_second_moderator_approving_is_told_it_was_done(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    forum = make_forum()
    Forum.objects.filter(pk=forum.pk).update(approve_new_topics=True)
    with django_capture_on_commit_callbacks(execute=True):
        start_topic(client_of(make_member(username="ines")), forum)
    first, second = make_moderator("first"), make_moderator("second")
    item = ReviewItem.objects.get()

    decide(first, item, "approve")
    page = decide(second, item, "approve")

    assert "first dealt with this already: approved and published." in page
    assert Topic.objects.count() == 1


def test_a_moderator_of_another_forum_cannot_approve(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    news, sport = make_forum(name="News"), make_forum(name="Sport")
    Forum.objects.filter(pk=news.pk).update(approve_new_topics=True)
    with django_capture_on_commit_callbacks(execute=True):
        start_topic(client_of(make_member(username="ines")), news)
    outsider = make_moderator("sportdesk", forum=sport)

    assert "Ferry timetable" not in page_of(client_of(outsider), reverse("moderation:queue"))
    response = client_of(outsider).post(
        reverse("moderation:act_on_item", args=[ReviewItem.objects.get().pk]), {"action": "approve"}
    )
    assert response.status_code == 403
    assert not Topic.objects.exists()
    assert client_of(outsider).get(HeldPost.objects.get().get_absolute_url()).status_code == 404


def test_a_held_post_left_out_of_the_queue_is_put_there_by_the_sweep() -> None:
    forum = make_forum()
    Forum.objects.filter(pk=forum.pk).update(approve_new_topics=True)
    # Its listener never runs here (the test's transaction never commits): as if the
    # process had died right after the hold.
    start_topic(client_of(make_member(username="ines")), forum)
    assert not ReviewItem.objects.exists()

    assert reports.open_missing_items() == 1
    assert reports.open_missing_items() == 0
    assert ReviewItem.objects.get().held == HeldPost.objects.get()


def test_the_authors_topic_page_costs_the_same_for_one_held_reply_as_for_five(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    topic = make_topic()
    member = make_member(username="oskar")
    User.objects.filter(pk=member.pk).update(approval_until=timezone.now() + timedelta(days=1))
    client = client_of(member)

    def cost() -> int:
        client.get(topic.get_absolute_url())
        with CaptureQueriesContext(connection) as queries:
            assert client.get(topic.get_absolute_url()).status_code == 200
        return len(queries)

    with django_capture_on_commit_callbacks(execute=True):
        reply_to(client, topic, "Held one.")
    one = cost()
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(4):
            reply_to(client, topic, f"Held {n}.")
    assert "Held 3." in page_of(client, topic.get_absolute_url())
    assert cost() == one
