"""Moving a topic: both forums' counts and last posts as a recount gives them, its address
kept, only into forums the moderator moderates, and open pages told."""

import asyncio
from typing import TYPE_CHECKING

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from conftest import run_async
from sala.accounts.models import User
from sala.accounts.tests.factories import client_of
from sala.forums.models import Forum, Topic
from sala.forums.tests.counting import recount_everything, snapshot
from sala.forums.tests.factories import make_forum, make_moderator, make_replies, make_topic
from sala.live.tests.asgi_client import request
from sala.moderation import services
from sala.staff.audit import Acting
from sala.staff.models import AuditEntry

if TYPE_CHECKING:  # what the test client returns, as django-stubs names it
    from django.test.client import _MonkeyPatchedWSGIResponse as Response


def move(member: User, topic: Topic, forum_id: object) -> "Response":
    return client_of(member).post(
        reverse("moderation:move_topic", args=[topic.pk, topic.slug]),
        {"forum": forum_id, "reason": "Belongs in Sport"},
    )


@pytest.mark.django_db
def test_a_moved_topic_takes_its_counts_and_last_post_along_and_keeps_its_address() -> None:
    news, sport = make_forum(name="News"), make_forum(name="Sport")
    topic = make_topic(forum=news, title="The derby ends level")
    make_replies(topic, 3)
    make_topic(forum=news, title="A story that stays")
    moderator = make_moderator()
    url = topic.get_absolute_url()

    response = move(moderator, topic, sport.pk)

    assert response.status_code == 302
    kept = snapshot()
    recount_everything()
    assert snapshot() == kept
    news, sport = Forum.objects.get(pk=news.pk), Forum.objects.get(pk=sport.pk)
    assert (news.topic_count, news.post_count, sport.topic_count, sport.post_count) == (1, 1, 1, 4)
    assert sport.last_post is not None and sport.last_post.topic_id == topic.pk
    page = Client().get(url).content.decode()
    assert f'href="{sport.get_absolute_url()}">Sport</a>' in page
    assert "The derby ends level" in Client().get(sport.get_absolute_url()).content.decode()
    entry = AuditEntry.objects.get(action="topic.move")
    assert (entry.before["forum"], entry.after["forum"], entry.reason) == (
        "News",
        "Sport",
        "Belongs in Sport",
    )


@pytest.mark.django_db
def test_a_forum_moderator_cannot_move_a_topic_into_a_forum_they_do_not_moderate() -> None:
    news, sport = make_forum(name="News"), make_forum(name="Sport")
    topic = make_topic(forum=news)
    moderator = make_moderator("newsdesk", forum=news)

    form = client_of(moderator).get(reverse("moderation:move_topic", args=[topic.pk, topic.slug]))
    response = move(moderator, topic, sport.pk)

    assert "Sport" not in form.content.decode()
    assert response.status_code == 200
    assert "Choose one of the forums you moderate; that one is not." in response.content.decode()
    assert Topic.objects.get(pk=topic.pk).forum_id == news.pk
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("forum_id", ["999999", "nonsense", ""])
def test_moving_into_a_forum_that_does_not_exist_is_refused_at_the_field(forum_id: str) -> None:
    news = make_forum(name="News")
    topic = make_topic(forum=news)

    response = move(make_moderator(), topic, forum_id)

    assert response.status_code == 200
    assert "Choose" in response.content.decode()
    assert Topic.objects.get(pk=topic.pk).forum_id == news.pk


@pytest.mark.django_db
def test_moving_a_topic_into_its_own_forum_is_refused() -> None:
    news = make_forum(name="News")
    topic = make_topic(forum=news)

    with pytest.raises(Exception, match="in that forum already"):
        services.move_topic(topic=topic, to_forum=news, acting=Acting(actor=make_moderator()))


@pytest.mark.django_db(transaction=True)
def test_an_open_topic_page_hears_that_the_moderators_changed_its_topic() -> None:
    topic = make_topic()
    moderator = make_moderator()

    def lock() -> None:
        try:
            services.lock_topic(topic=topic, acting=Acting(actor=moderator), locked=True)
        finally:
            connection.close()

    async def lock_in_a_worker() -> None:
        await asyncio.to_thread(lock)

    answer = run_async(
        request(
            f"/live/t/{topic.pk}/",
            when_seen=("event: browsing", lock_in_a_worker),
            read_until="event: changed",
        )
    )

    assert "event: changed" in answer.body
