"""One read of a topic page for guests, members and the API to come; what reading records."""

import re

import pytest
from django.db import connection
from django.http import Http404
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sala.accounts.models import User
from sala.accounts.tests.factories import make_member
from sala.core import shared_pages
from sala.forums import selectors, services
from sala.forums.models import Topic, TopicRead
from sala.forums.tests.factories import make_moderator, make_replies, make_topic

pytestmark = pytest.mark.django_db


def long_and_short_topics() -> tuple[Topic, Topic]:
    short = make_topic(title="A short one")
    make_replies(short, 4)
    long = make_topic(title="A long one")
    make_replies(long, 499)
    for topic in (short, long):
        services.recommend_post(
            post=topic.posts.get(number=2), moderator=make_moderator(f"mod{topic.pk}")
        )
    return Topic.objects.get(pk=short.pk), Topic.objects.get(pk=long.pk)


def test_reading_a_topic_page_costs_the_same_queries_for_5_posts_as_for_500() -> None:
    short, long = long_and_short_topics()
    counts = {}
    for topic in (short, long):
        for page in (1, topic.page_count):
            with CaptureQueriesContext(connection) as queries:
                topic_page = selectors.read_topic_page(topic.pk, page)
                # All the page shows is loaded: the forum, its category, authors, who
                # recommended.
                shown = [topic_page.topic.forum.category.name]
                shown += [post.author.name for post in topic_page.posts]
                shown += [str(post.recommended_by) for post in topic_page.recommended]
            assert shown
            counts[topic.title, page] = len(queries)

    assert counts == {
        ("A short one", 1): 3,
        ("A long one", 1): 3,
        ("A long one", 25): 2,  # past page 1, no recommended replies to show
    }


def test_a_page_read_knows_how_far_its_reader_read() -> None:
    _, long = long_and_short_topics()

    assert selectors.read_topic_page(long.pk, 1).last_number == 20
    assert selectors.read_topic_page(long.pk, 25).last_number == 500


def test_reading_a_missing_topic_or_a_page_past_its_end_is_not_found() -> None:
    short, _ = long_and_short_topics()
    with pytest.raises(Http404):
        selectors.read_topic_page(short.pk, 2)
    with pytest.raises(Http404):
        selectors.read_topic_page(short.pk + 1000, 1)


def posts_shown(html: str) -> list[tuple[str, str]]:
    """Return each post on a page as (its number, its cooked body)."""
    found = re.findall(
        r'<article class="post[^"]*" id="post-(\d+)">.*?<div class="post__body">(.*?)</div>',
        html,
        flags=re.DOTALL,
    )
    return [(number, body) for number, body in found]


def recommended_shown(html: str) -> str:
    """Return the block of recommended replies, as shown."""
    block = re.search(r'<div class="recommended">.*?</article>\s*</div>', html, flags=re.DOTALL)
    assert block, "no recommended replies shown"
    return block[0]


def read_as(member: User | None, url: str) -> str:
    client = Client(headers={"user-agent": f"{member or 'guest'}'s browser"})
    if member is not None:
        client.force_login(member)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_guests_members_and_a_member_quoting_see_the_same_posts() -> None:
    short, _ = long_and_short_topics()
    url = short.get_absolute_url()
    reader = make_member(username="reader")

    guest = read_as(None, url)
    member = read_as(reader, url)  # the render members share
    quoting = read_as(reader, f"{url}?quote=3")  # the member's own render

    assert len(posts_shown(guest)) == 5
    assert posts_shown(member) == posts_shown(guest)
    assert posts_shown(quoting) == posts_shown(guest)
    assert recommended_shown(member) == recommended_shown(guest)
    assert "You need to be a member in order to leave a comment" in guest
    for html in (member, quoting):
        assert "You need to be a member" not in html
        assert "Reply to this topic" in html
    quoted_author = short.posts.get(number=3).author.username
    assert f"@{quoted_author} wrote:" in quoting
    assert f"@{quoted_author} wrote:" not in member


def test_the_member_render_and_the_own_render_both_record_the_reading_point() -> None:
    short, _ = long_and_short_topics()
    url = short.get_absolute_url()
    sharing, quoting = make_member(username="sharing"), make_member(username="quoting")

    read_as(sharing, url)
    read_as(quoting, f"{url}?quote=2")

    points = dict(
        TopicRead.objects.filter(topic=short).values_list("member__username", "last_number")
    )
    assert points == {"sharing": 5, "quoting": 5}


def test_a_member_reading_a_page_again_does_not_write_the_same_reading_point_again() -> None:
    short, _ = long_and_short_topics()
    url = short.get_absolute_url()
    member = make_member(username="again")
    client = Client()
    client.force_login(member)
    client.get(url)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)

    assert response[shared_pages.HEADER] == "hit"
    assert not [q for q in queries if "topicread" in q["sql"].lower()]
