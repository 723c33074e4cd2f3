"""A forum page kept live: its stream's address, its list as a fragment, and the marks of
what changed since the page was loaded."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django.fixtures import Settings

from sala.accounts.tests.factories import make_member
from sala.core import page_cache
from sala.forums import selectors
from sala.forums.models import Forum, Post, Topic
from sala.forums.tests.factories import make_forum, make_replies, make_topic

pytestmark = pytest.mark.django_db


def topics_url(forum: Forum, since: str = "") -> str:
    url = f"{forum.get_absolute_url()}topics/"
    return f"{url}?since={since}" if since else url


def count_queries(client: Client, url: str) -> int:
    """Return the queries `url` costs to render (not to answer from the guest page cache)."""
    client.get(url)
    page_cache.reset()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


def now_micros() -> str:
    return str(selectors.micros(timezone.now()))


def test_the_first_page_of_a_forum_links_its_live_stream_and_its_list() -> None:
    forum = make_forum()
    before = selectors.micros(timezone.now())

    response = Client().get(forum.get_absolute_url())

    since = response.context["since"]
    assert before <= since <= selectors.micros(timezone.now())
    html = response.content.decode()
    assert f'data-forum-stream="/live/f/{forum.pk}/?since={since}"' in html
    assert f'data-topics-url="{topics_url(forum, str(since))}"' in html
    assert "sala/forum_live.js" in html
    assert 'data-text-one="1 topic has new activity"' in html
    assert 'data-text-many="{count} topics have new activity"' in html


def test_the_forum_page_opens_its_stream_on_the_live_server_when_one_is_set(
    settings: Settings,
) -> None:
    forum = make_forum()
    settings.SALA_LIVE_URL = "http://live.example:8001"

    html = Client().get(forum.get_absolute_url()).content.decode()

    assert f'data-forum-stream="http://live.example:8001/live/f/{forum.pk}/?since=' in html


def test_older_pages_of_a_forum_are_not_kept_live(client: Client) -> None:
    forum = make_forum()
    author = make_member(username="writer")
    for n in range(30):
        make_topic(forum=forum, author=author, title=f"Topic {n}")
    first = client.get(forum.get_absolute_url())
    older = client.get(f"{forum.get_absolute_url()}?after={first.context['listing'].next_cursor}")

    assert "data-forum-stream" in first.content.decode()
    assert "data-forum-stream" not in older.content.decode()
    assert "forum_live.js" not in older.content.decode()


def test_the_topic_list_fragment_is_the_pages_list_alone(client: Client) -> None:
    forum = make_forum()
    author = make_member(username="writer")
    for n in range(30):
        make_topic(forum=forum, author=author, title=f"Topic {n:02d}")

    page = client.get(forum.get_absolute_url()).content.decode()
    fragment = client.get(topics_url(forum)).content.decode()

    assert "<html" not in fragment and "<h1" not in fragment
    assert fragment.count('<li class="topic-row') == 25
    assert "Topic 29" in fragment and "Topic 04" not in fragment
    assert f'href="{forum.get_absolute_url()}?after=' in fragment
    assert fragment.strip() in page


def test_the_topic_list_of_a_forum_that_does_not_exist_is_a_404(client: Client) -> None:
    forum = make_forum()
    url = topics_url(forum)
    Forum.objects.filter(pk=forum.pk).delete()

    assert client.get(url).status_code == 404
    assert client.get("/f/99999999999999999999-x/topics/").status_code == 404


def test_the_topic_list_costs_no_more_than_the_page_and_the_same_for_3_topics_as_for_60(
    client: Client,
) -> None:
    quiet, busy = make_forum(name="Quiet"), make_forum(name="Busy")
    author = make_member(username="writer")
    for n in range(3):
        make_topic(forum=quiet, author=author, title=f"Quiet topic {n}")
    for n in range(60):
        topic = make_topic(forum=busy, author=author, title=f"Busy topic {n}")
    since = now_micros()
    make_replies(topic, 3)
    make_topic(forum=busy, author=author, title="Started since")

    for reader in (None, make_member(username="reader")):
        if reader is not None:
            client.force_login(reader)
        page_cost = count_queries(client, quiet.get_absolute_url())
        quiet_cost = count_queries(client, topics_url(quiet, since))
        assert count_queries(client, topics_url(busy, since)) == quiet_cost
        assert count_queries(client, topics_url(busy)) == quiet_cost
        assert quiet_cost <= page_cost


def test_the_topic_list_marks_replies_and_topics_since_the_page_was_loaded(
    client: Client,
) -> None:
    forum = make_forum()
    replied = make_topic(forum=forum, title="Replied to")
    make_topic(forum=forum, title="Left alone")
    since = now_micros()
    make_replies(replied, 2)
    make_topic(forum=forum, title="Started since")

    html = client.get(topics_url(forum, since)).content.decode()

    assert html.count("badge--new") == 2
    assert f'href="{replied.get_absolute_url()}post/2/">2 new replies</a>' in html
    started = Topic.objects.get(title="Started since")
    assert f'<a href="{started.get_absolute_url()}">Started since</a> <span class="badge' in html
    assert ">New</span>" in html
    assert "new repl" not in client.get(topics_url(forum)).content.decode()


def test_a_members_own_reading_point_says_more_than_the_pages_moment(client: Client) -> None:
    forum = make_forum()
    topic = make_topic(forum=forum)
    make_replies(topic, 2)
    reader = make_member(username="reader")
    client.force_login(reader)
    client.get(topic.get_absolute_url())  # read to post 3
    make_replies(topic, 1)  # post 4, before the page
    since = now_micros()
    make_replies(topic, 1)  # post 5, after it

    html = client.get(topics_url(forum, since)).content.decode()

    assert f'href="{topic.get_absolute_url()}post/4/">2 new replies</a>' in html


def test_marks_reach_back_a_day_at_most(client: Client) -> None:
    forum = make_forum()
    topic = make_topic(forum=forum)
    Post.objects.filter(topic=topic).update(created_at=timezone.now() - timedelta(days=3))
    make_replies(topic, 1)

    html = client.get(topics_url(forum, "0")).content.decode()

    assert "1 new reply" in html
    assert ">New</span>" not in html, "a topic older than a day is not new"


@pytest.mark.parametrize("since", ["yesterday", "-5", "999999999999999999", "1" * 30, "٣"])
def test_a_forged_moment_marks_nothing_and_breaks_nothing(client: Client, since: str) -> None:
    forum = make_forum()
    make_topic(forum=forum)

    response = client.get(f"{topics_url(forum)}?since={since}")

    assert response.status_code == 200
    assert "badge--new" not in response.content.decode()


@pytest.mark.parametrize("after", ["999999999999999999_1", "253402300800000000_5", "1_٣"])
def test_a_cursor_out_of_any_calendar_is_the_first_page_not_an_error(
    client: Client, after: str
) -> None:
    forum = make_forum()
    make_topic(forum=forum, title="Only topic")

    response = client.get(f"{forum.get_absolute_url()}?after={after}")

    assert response.status_code == 200
    assert "Only topic" in response.content.decode()


def test_moments_round_trip_to_the_microsecond() -> None:
    moment = timezone.now().replace(microsecond=999_999)

    assert selectors.parse_micros(str(selectors.micros(moment))) == moment
