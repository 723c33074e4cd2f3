"""The posting, editing and reporting limits, as members meet them on the pages: a 429
with Retry-After, the reason at the field, what they typed kept, nothing stored."""

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from sala.accounts.models import User
from sala.accounts.tests.factories import client_of, make_member
from sala.core.tests.html_pages import assert_error_at_field, assert_kept, page_of
from sala.forums.models import Forum, Post, Topic
from sala.forums.tests.factories import make_forum, make_moderator, make_topic
from sala.moderation.models import Report

if TYPE_CHECKING:  # what the test client returns, as django-stubs names it
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db


def limits(settings: Any, **rates: str) -> None:
    """Turn the limits on, with `rates` over the defaults."""
    settings.SALA_RATE_LIMITS_ON = True
    settings.SALA_RATE_LIMITS = {**settings.SALA_RATE_LIMITS, **rates}


def established(username: str, *, joined_days_ago: int = 30) -> User:
    """Return a member past the new-member limits: posts enough, joined a month ago."""
    member = make_member(username=username, password=None)
    User.objects.filter(pk=member.pk).update(
        post_count=20, date_joined=timezone.now() - timedelta(days=joined_days_ago)
    )
    member.refresh_from_db()
    return member


def reply_to(client: Client, topic: Topic, text: str, key: str | None = None) -> "Response":
    return client.post(
        reverse("forums:reply", args=[topic.pk, topic.slug]),
        {"text": text, "caption": "", "submission_key": key or str(uuid.uuid4()), "action": "post"},
    )


def start_topic(client: Client, forum: Forum, title: str, text: str) -> "Response":
    return client.post(
        reverse("forums:create_topic"),
        {
            "forum": str(forum.pk),
            "title": title,
            "source_url": "",
            "text": text,
            "caption": "",
            "submission_key": str(uuid.uuid4()),
            "action": "post",
        },
    )


@pytest.fixture
def topic() -> Topic:
    return make_topic(title="The night market moves to the river")


def test_a_reply_seconds_after_the_last_is_refused_at_the_field_keeping_the_text(
    settings: Any, topic: Topic
) -> None:
    limits(settings)
    member = established("dara")
    client = client_of(member)
    assert reply_to(client, topic, "First thought on the market.").status_code == 302
    posts_before = Post.objects.count()

    typed = "Second thought, <b>too soon</b>."
    response = reply_to(client, topic, typed)

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 5
    page = page_of(response, status=429)
    assert_error_at_field(page, "text", "You are replying too quickly. Try again in")
    assert_kept(page, {"text": typed}, "text")
    assert Post.objects.count() == posts_before


def test_new_members_wait_longer_between_replies_than_established_ones(
    settings: Any, topic: Topic
) -> None:
    limits(settings, reply="2/5", reply_new="1/30")
    newcomer = client_of(make_member(username="newcomer", password=None))
    regular = client_of(established("regular"))

    assert reply_to(newcomer, topic, "Hello from a newcomer.").status_code == 302
    refused = reply_to(newcomer, topic, "And again.")
    assert refused.status_code == 429
    assert 25 <= int(refused["Retry-After"]) <= 30
    assert "New members wait a little between replies." in refused.content.decode()

    assert reply_to(regular, topic, "A regular's reply.").status_code == 302
    assert reply_to(regular, topic, "And a second one at once.").status_code == 302


def test_starting_topics_too_quickly_is_refused_with_the_title_and_text_kept(
    settings: Any,
) -> None:
    limits(settings)
    forum = make_forum(name="City news")
    client = client_of(established("sokha"))
    assert (
        start_topic(client, forum, "Bridge closed", "The bridge closes tonight.").status_code == 302
    )

    response = start_topic(client, forum, "Ferry delayed", "The ferry is late again.")

    page = page_of(response, status=429)
    assert 1 <= int(response["Retry-After"]) <= 15
    assert_error_at_field(page, "text", "You are starting topics too quickly.")
    assert_kept(
        page, {"title": "Ferry delayed", "text": "The ferry is late again."}, "title", "text"
    )
    assert not Topic.objects.filter(title="Ferry delayed").exists()


def test_the_same_text_twice_within_minutes_is_refused_wherever_it_is_posted(
    settings: Any, topic: Topic
) -> None:
    limits(settings, reply="off")
    other = make_topic(title="Rain expected all week")
    client = client_of(established("vanna"))
    assert reply_to(client, topic, "Buy cheap watches at example.com").status_code == 302

    repeated = reply_to(client, other, "  buy CHEAP watches\n at example.com ")

    assert repeated.status_code == 429
    assert "You posted this same text moments ago." in repeated.content.decode()
    assert not Post.objects.filter(topic=other, number__gt=1).exists()
    assert reply_to(client, other, "Rain again, bring boots.").status_code == 302


def test_a_refused_post_gives_back_what_it_counted_under_the_other_limits(
    settings: Any, topic: Topic
) -> None:
    limits(settings, reply="2/60")
    client = client_of(established("kosal"))
    assert reply_to(client, topic, "Market stalls at eight.").status_code == 302
    assert reply_to(client, topic, "Market stalls at eight.").status_code == 429  # same text

    # The refused repeat took no place in the interval's window: one more goes through.
    assert reply_to(client, topic, "And food stalls at nine.").status_code == 302
    assert reply_to(client, topic, "And music at ten.").status_code == 429


def test_on_their_first_day_members_start_three_topics_then_later_twenty(
    settings: Any,
) -> None:
    limits(settings, topic="off", topic_new="off")
    forum = make_forum(name="Neighbourhood")
    newcomer = client_of(make_member(username="newcomer", password=None))
    answers = [
        start_topic(newcomer, forum, f"Question {n}", f"My question number {n}.").status_code
        for n in range(4)
    ]
    assert answers == [302, 302, 302, 429]
    refused = start_topic(newcomer, forum, "Question 5", "My fifth question.")
    assert "You have started as many topics as a day allows (3)." in refused.content.decode()
    assert int(refused["Retry-After"]) > 23 * 3600

    veteran = client_of(established("veteran", joined_days_ago=400))
    answers = [
        start_topic(veteran, forum, f"Story {n}", f"Story number {n} of the day.").status_code
        for n in range(4)
    ]
    assert answers == [302] * 4


def test_moderators_are_never_limited(settings: Any, topic: Topic) -> None:
    limits(settings)
    client = client_of(make_moderator("mod"))
    answers = [reply_to(client, topic, "A moderator's note.").status_code for _ in range(3)]
    assert answers == [302, 302, 302]


def test_a_double_submission_refused_for_speed_lands_on_the_post_it_made(
    settings: Any, topic: Topic
) -> None:
    limits(settings)
    client = client_of(established("chenda"))
    key = str(uuid.uuid4())
    first = reply_to(client, topic, "Only once, please.", key=key)

    again = reply_to(client, topic, "Only once, please.", key=key)

    assert again.status_code == 302
    assert again["Location"] == first["Location"]
    assert Post.objects.filter(topic=topic, text="Only once, please.").count() == 1


def test_past_the_days_edits_an_edit_is_refused_and_the_post_keeps_its_text(
    settings: Any, topic: Topic
) -> None:
    limits(settings, edits_day="2/d")
    author = established("rith")
    client = client_of(author)
    reply_to(client, topic, "Version 0.")
    post = Post.objects.get(topic=topic, author=author)
    url = reverse("forums:edit_post", args=[topic.pk, topic.slug, post.number])
    for n in (1, 2):
        assert client.post(url, {"text": f"Version {n}.", "action": "save"}).status_code == 302

    response = client.post(url, {"text": "Version 3.", "action": "save"})

    page = page_of(response, status=429)
    assert_error_at_field(page, "text", "You have made as many edits as a day allows (2).")
    assert_kept(page, {"text": "Version 3."}, "text")
    post.refresh_from_db()
    assert post.text == "Version 2."


def test_past_the_days_reports_a_report_is_refused_and_none_is_stored(
    settings: Any, topic: Topic
) -> None:
    limits(settings, reports_day="1/d", reply="off", reply_new="off")
    writer = client_of(established("writer"))
    for text in ("Spam one.", "Spam two."):
        reply_to(writer, topic, text)
    first, second = Post.objects.filter(topic=topic, number__gt=1).order_by("number")
    reporter = client_of(established("reporter"))

    def report(post: Post) -> "Response":
        url = reverse("moderation:report_post", args=[topic.pk, topic.slug, post.number])
        return reporter.post(url, {"reason": "spam", "text": ""})

    assert report(first).status_code == 302
    response = report(second)

    page = page_of(response, status=429)
    assert "You have sent as many reports as a day allows (1)." in page.form_errors
    assert Report.objects.count() == 1


def test_posting_a_reply_costs_the_same_queries_with_the_limits_on(
    settings: Any, topic: Topic
) -> None:
    member = established("query")
    client = client_of(member)
    reply_to(client, topic, "Warm-up reply.")  # sessions, permissions: remembered after this

    def queries_of_a_reply(text: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert reply_to(client, topic, text).status_code == 302
        return len(queries)

    settings.SALA_RATE_LIMITS_ON = False
    off = queries_of_a_reply("A reply with the limits off.")
    limits(settings, reply="off")
    on = queries_of_a_reply("A reply with the limits on.")

    assert on == off


# -- What a new member's post may carry --------------------------------------------------

LINKS = "See https://a.example.org/x, https://b.example.org/y and https://c.example.org/z."
IMAGES = "![one](https://img.example.org/1.jpg) and ![two](https://img.example.org/2.jpg)"


def test_a_new_members_reply_with_three_links_is_refused_at_the_field_and_kept(
    topic: Topic,
) -> None:
    client = client_of(make_member(username="newcomer", password=None))

    response = reply_to(client, topic, LINKS)

    page = page_of(response)
    assert_error_at_field(page, "text", "New members may put 2 links in a post; this one has 3.")
    assert "The limit goes once you have taken part a little longer." in page.html
    assert_kept(page, {"text": LINKS}, "text")
    assert not Post.objects.filter(topic=topic, number__gt=1).exists()
    assert (
        reply_to(
            client, topic, "Two links: https://a.example.org and https://b.example.org"
        ).status_code
        == 302
    )


def test_a_new_members_topic_says_each_limit_it_is_over(settings: Any) -> None:
    for name in ("dara", "sokha", "vanna"):
        make_member(username=name, password=None)
    forum = make_forum(name="City news")
    client = client_of(make_member(username="newcomer", password=None))
    text = f"{IMAGES}, thanks @dara @sokha @vanna"

    response = start_topic(client, forum, "Photos of the flood", text)

    page = page_of(response)
    assert_error_at_field(page, "text", "New members may put 1 image in a post; this one has 2.")
    assert_error_at_field(
        page, "text", "New members may mention 2 members in a post; this one mentions 3."
    )
    assert_kept(page, {"title": "Photos of the flood", "text": text}, "title", "text")
    assert not Topic.objects.filter(title="Photos of the flood").exists()


def test_established_members_and_moderators_put_what_links_they_like(topic: Topic) -> None:
    assert reply_to(client_of(established("regular")), topic, LINKS).status_code == 302
    assert reply_to(client_of(make_moderator("mod")), topic, LINKS).status_code == 302


def test_an_edit_cannot_bring_in_more_links_than_a_new_member_may_post(topic: Topic) -> None:
    newcomer = make_member(username="newcomer", password=None)
    client = client_of(newcomer)
    reply_to(client, topic, "A plain reply.")
    post = Post.objects.get(topic=topic, author=newcomer)
    url = reverse("forums:edit_post", args=[topic.pk, topic.slug, post.number])

    page = page_of(client.post(url, {"text": LINKS, "action": "save"}))

    assert_error_at_field(page, "text", "New members may put 2 links in a post; this one has 3.")
    post.refresh_from_db()
    assert post.text == "A plain reply."
    assert post.edit_count == 0
