"""Reports and the review queue: members report, enough reports hide a post at once, and
moderators of the post's forum resolve it from the queue, one of them only."""

import re
from typing import TYPE_CHECKING

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sala.accounts.models import User
from sala.accounts.tests.factories import client_of, make_member
from sala.core import local_memo
from sala.forums.models import Forum, Post
from sala.forums.tests.counting import recount_everything, snapshot
from sala.forums.tests.factories import make_forum, make_moderator, make_replies, make_topic
from sala.moderation import reports
from sala.moderation.models import Reason, ReviewItem, State
from sala.staff.models import AuditEntry

if TYPE_CHECKING:  # what the test client returns, as django-stubs names it
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db


def report(member: User, post: Post, reason: str = Reason.SPAM, text: str = "") -> "Response":
    url = reverse("moderation:report_post", args=[post.topic_id, post.topic.slug, post.number])
    return client_of(member).post(url, {"reason": reason, "text": text})


def act(moderator: User, item: ReviewItem, **data: str) -> str:
    response = client_of(moderator).post(
        reverse("moderation:act_on_item", args=[item.pk]), data, follow=True
    )
    assert response.status_code == 200
    return response.content.decode()


def reported_reply(forum: Forum | None = None) -> Post:
    topic = make_topic(forum=forum or make_forum())
    (reply,) = make_replies(topic, 1, author=make_member(username=f"spammer{topic.pk}"))
    return reply


def test_a_report_lands_in_the_queue_of_the_posts_forum_moderators_only() -> None:
    news, sport = make_forum(name="News"), make_forum(name="Sport")
    reply = reported_reply(news)
    reporter = make_member(username="marta")

    response = report(reporter, reply, Reason.ABUSIVE, "Insults another member")

    assert response.status_code == 302
    news_desk = client_of(make_moderator("newsdesk", forum=news)).get(reverse("moderation:queue"))
    sport_desk = client_of(make_moderator("sportdesk", forum=sport)).get(
        reverse("moderation:queue")
    )
    queue = news_desk.content.decode()
    assert "1 report" in queue and "Abusive or harassing" in queue
    assert "Insults another member" in queue and "marta" in queue
    assert "Nothing waits for review." in sport_desk.content.decode()
    # The author's page says nothing of who reported, nor that anyone did.
    own = client_of(reply.author).get(reply.topic.get_absolute_url()).content.decode()
    assert "marta" not in own and "Abusive" not in own


def test_a_member_reports_a_post_once_and_never_their_own() -> None:
    reply = reported_reply()
    reporter = make_member(username="marta")
    report(reporter, reply)

    again = report(reporter, reply)
    own = report(reply.author, reply)

    assert again.status_code == 200
    assert "You have reported this post already" in again.content.decode()
    assert own.status_code == 403
    assert "You can&#x27;t report your own post" in own.content.decode()
    assert ReviewItem.objects.get().report_count == 1


def test_something_else_needs_details_and_the_choice_is_kept() -> None:
    reply = reported_reply()

    response = report(make_member(username="marta"), reply, Reason.OTHER, "  ")

    page = response.content.decode()
    assert response.status_code == 200
    assert "Say what is wrong with the post." in page
    assert re.search(r'value="other"[^>]*checked', page)
    assert not ReviewItem.objects.exists()


def test_three_reports_hide_a_new_members_reply_at_once_pending_review() -> None:
    reply = reported_reply()
    forum_id = reply.topic.forum_id
    reporters = [make_member(username=f"reader{n}") for n in range(3)]

    for reporter in reporters[:2]:
        report(reporter, reply)
    assert not Post.objects.get(pk=reply.pk).is_hidden
    report(reporters[2], reply)

    assert Post.objects.get(pk=reply.pk).is_hidden
    page = Client().get(reply.topic.get_absolute_url()).content.decode()
    assert "is hidden after reports, pending review." in page
    own = client_of(reply.author).get(reply.topic.get_absolute_url()).content.decode()
    assert "Hidden after reports, pending review" in own
    assert ReviewItem.objects.get().auto_hidden
    entry = AuditEntry.objects.get(action="post.hide")
    assert entry.actor is None and entry.forum_id == forum_id
    kept = snapshot()
    recount_everything()
    assert snapshot() == kept


def test_an_established_members_reply_takes_more_reports_to_hide() -> None:
    reply = reported_reply()
    make_replies(reply.topic, 10, author=reply.author)  # 11 posts: established

    for n in range(7):
        report(make_member(username=f"reader{n}"), reply)
    assert not Post.objects.get(pk=reply.pk).is_hidden
    report(make_member(username="reader7"), reply)

    assert Post.objects.get(pk=reply.pk).is_hidden


def test_dismissing_the_reports_of_an_auto_hidden_reply_shows_it_again() -> None:
    reply = reported_reply()
    for n in range(3):
        report(make_member(username=f"reader{n}"), reply)
    moderator = make_moderator()

    page = act(moderator, ReviewItem.objects.get(), action="dismiss", reason="Not spam: a quote")

    assert "The reports are dismissed." in page
    assert not Post.objects.get(pk=reply.pk).is_hidden
    item = ReviewItem.objects.get()
    assert (item.state, item.resolved_by, item.outcome) == (State.REJECTED, moderator, "dismiss")
    assert "Nothing waits for review." in page


def test_the_second_moderator_resolving_an_item_is_told_who_did_and_how() -> None:
    reply = reported_reply()
    report(make_member(username="marta"), reply)
    item = ReviewItem.objects.get()
    first, second = make_moderator("first"), make_moderator("second")

    act(first, item, action="hide", reason="Advertising")
    page = act(second, item, action="dismiss", reason="Looks fine")

    assert "first dealt with this already: post hidden." in page
    assert Post.objects.get(pk=reply.pk).is_hidden
    assert list(
        AuditEntry.objects.filter(action__startswith="review.").values_list("action", "actor_name")
    ) == [("review.hide", "first")]


def test_resolving_without_a_reason_is_refused_and_changes_nothing() -> None:
    reply = reported_reply()
    report(make_member(username="marta"), reply)

    page = act(make_moderator(), ReviewItem.objects.get(), action="delete", reason=" ")

    assert "Say why, for the author and the other moderators." in page
    assert not Post.objects.get(pk=reply.pk).is_deleted
    assert ReviewItem.objects.get().state == State.OPEN


def test_moderators_take_an_item_and_leave_notes_for_each_other() -> None:
    reply = reported_reply()
    report(make_member(username="marta"), reply)
    item = ReviewItem.objects.get()
    moderator = make_moderator()

    act(moderator, item, action="claim")
    page = act(moderator, item, action="note", note="Asked the author by mail")

    item.refresh_from_db()
    assert (item.state, item.assignee) == (State.IN_REVIEW, moderator)
    assert "Asked the author by mail" in page


def test_a_plain_member_and_a_forged_item_get_clear_refusals() -> None:
    reply = reported_reply()
    report(make_member(username="marta"), reply)
    member = make_member(username="curious")

    queue = client_of(member).get(reverse("moderation:queue"))
    forged = client_of(make_moderator()).post(
        reverse("moderation:act_on_item", args=[999999]), {"action": "hide", "reason": "x"}
    )

    assert queue.status_code == 403
    assert "Only moderators see the review queue." in queue.content.decode()
    assert forged.status_code == 404


def test_the_queue_costs_the_same_queries_for_two_items_as_for_twenty() -> None:
    moderator = make_moderator()
    client = client_of(moderator)
    reporters = [make_member(username=f"reader{n}") for n in range(2)]

    def cost() -> int:
        client.get(reverse("moderation:queue"))
        # What processes remember for a few seconds (the bans in force among it) is
        # forgotten, so both counts read it and a slow run counts the same.
        local_memo.clear_all()
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("moderation:queue")).status_code == 200
        return len(queries)

    for _ in range(2):
        reports.report_post(post=reported_reply(), reporter=reporters[0], reason=Reason.SPAM)
    few = cost()
    for _ in range(18):
        reply = reported_reply()
        for reporter in reporters:
            reports.report_post(post=reply, reporter=reporter, reason=Reason.RULES)
    assert cost() == few


def test_resolving_with_a_warning_hides_the_post_and_its_points_suspend_the_author() -> None:
    reply = reported_reply()
    report(make_member(username="marta"), reply)
    moderator = make_moderator()

    page = act(moderator, ReviewItem.objects.get(), action="warn", points="3", reason="Advertising")

    assert "the post is hidden and its author warned" in page
    author = User.objects.get(pk=reply.author_id)
    assert author.suspended_now_until is not None
    assert Post.objects.get(pk=reply.pk).is_hidden
    assert ReviewItem.objects.get().outcome == "warn"
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"post.hide", "member.warn", "member.suspend", "review.warn"} <= actions
