"""The forum pages as readers meet them, and what each costs in queries."""

import re
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks, Settings

from sala.accounts.tests.factories import make_member
from sala.core import page_cache
from sala.core.buffered_counts import get_counter
from sala.forums import services
from sala.forums.models import Forum, Post, Topic
from sala.forums.tests.factories import make_forum, make_moderator, make_replies, make_topic
from sala.forums.tests.querying import GUEST_BUDGET, MEMBER_BUDGET, count_queries

pytestmark = pytest.mark.django_db


def page_urls() -> dict[str, str]:
    """Return a topic with a second page, its forum and the index, by page name."""
    topic = make_topic()
    make_replies(topic, 25)
    forum = Forum.objects.get(pk=topic.forum_id)
    return {"topic": topic.get_absolute_url(), "forum": forum.get_absolute_url(), "index": "/"}


@pytest.mark.parametrize("name", ["topic", "forum", "index"])
def test_each_page_keeps_to_its_query_budget_for_guests_and_members(
    client: Client, name: str
) -> None:
    url = page_urls()[name]
    assert count_queries(client, url) <= GUEST_BUDGET[name]
    client.force_login(make_member(username="reader"))
    assert count_queries(client, url) <= MEMBER_BUDGET[name]


@pytest.mark.parametrize("name", ["topic", "forum", "index"])
def test_a_guests_second_read_comes_from_the_page_cache_without_a_query(
    client: Client, name: str
) -> None:
    url = page_urls()[name]
    first = client.get(url)
    assert first[page_cache.CACHE_HEADER] == "miss"
    with CaptureQueriesContext(connection) as queries:
        second = Client(headers={"user-agent": "another guest"}).get(url)
    assert second[page_cache.CACHE_HEADER] == "hit"
    assert second.content == first.content
    assert len(queries) == 0


def bulk_replies(topic: Topic, how_many: int) -> None:
    """Add many replies quickly (same services, one member)."""
    make_replies(topic, how_many)


def test_a_topic_page_costs_the_same_queries_for_5_posts_as_for_500(client: Client) -> None:
    small = make_topic(title="Small topic")
    bulk_replies(small, 4)
    large = make_topic(title="Large topic")
    bulk_replies(large, 499)
    large.refresh_from_db()
    assert large.page_count == 25

    small_cost = count_queries(client, small.get_absolute_url())
    assert count_queries(client, large.get_absolute_url()) == small_cost
    assert count_queries(client, large.get_absolute_url() + "?page=25") <= small_cost
    assert small_cost <= GUEST_BUDGET["topic"]


def test_a_members_topic_page_costs_the_same_on_page_1_and_the_last_page(client: Client) -> None:
    topic = make_topic()
    bulk_replies(topic, 60)
    client.force_login(make_member(username="reader"))
    first = count_queries(client, topic.get_absolute_url())
    last = count_queries(client, topic.get_absolute_url() + "?page=4")
    assert last <= first <= MEMBER_BUDGET["topic"]


def test_the_forum_page_and_index_cost_the_same_for_3_topics_as_for_60(client: Client) -> None:
    quiet = make_forum(name="Quiet")
    busy = make_forum(name="Busy")
    author = make_member(username="writer")
    for n in range(3):
        make_topic(forum=quiet, author=author, title=f"Quiet topic {n}")
    for n in range(60):
        make_topic(forum=busy, author=make_member(username=f"w{n}"), title=f"Busy topic {n}")
    quiet_cost = count_queries(client, quiet.get_absolute_url())
    assert count_queries(client, busy.get_absolute_url()) == quiet_cost
    assert quiet_cost <= GUEST_BUDGET["forum"]
    index_cost = count_queries(client, "/")
    make_forum(name="Another")
    assert count_queries(client, "/") == index_cost
    assert index_cost <= GUEST_BUDGET["index"]


def test_posts_are_twenty_a_page_in_number_order(client: Client) -> None:
    topic = make_topic()
    make_replies(topic, 44)
    html = client.get(topic.get_absolute_url() + "?page=2").content.decode()
    numbers = [n for n in range(1, 46) if f'id="post-{n}"' in html]
    assert numbers == list(range(21, 41))
    assert "Page 2 of 3" in html


def test_a_post_link_lands_on_its_page_at_the_post(client: Client) -> None:
    topic = make_topic()
    make_replies(topic, 44)
    response = client.get(f"{topic.get_absolute_url()}post/42/")
    assert response.status_code == 302
    assert response["Location"] == f"{topic.get_absolute_url()}?page=3#post-42"


def test_an_old_slug_redirects_permanently_to_the_current_one(client: Client) -> None:
    topic = make_topic(title="Old title")
    services.edit_post(post=topic.posts.get(), editor=topic.author, text="x", title="New title")
    response = client.get(f"/t/{topic.pk}-old-title/?page=1")
    assert response.status_code == 301
    assert response["Location"] == f"/t/{topic.pk}-new-title/"
    forum = Forum.objects.get(pk=topic.forum_id)
    assert client.get(f"/f/{forum.pk}-whatever/").status_code == 301


def test_the_forum_page_lists_pinned_first_then_by_last_activity(client: Client) -> None:
    forum = make_forum()
    older = make_topic(forum=forum, title="Older topic")
    pinned = make_topic(forum=forum, title="Pinned topic")
    newer = make_topic(forum=forum, title="Newer topic")
    Topic.objects.filter(pk=pinned.pk).update(is_pinned=True)
    make_replies(older, 1)  # activity brings it to the top of the unpinned ones
    html = client.get(forum.get_absolute_url()).content.decode()
    positions = [html.index(t) for t in ("Pinned topic", "Older topic", "Newer topic")]
    assert positions == sorted(positions)
    assert newer.title in html


def test_the_forum_page_walks_topics_25_at_a_time_without_repeats(client: Client) -> None:
    forum = make_forum()
    author = make_member(username="writer")
    for n in range(60):
        make_topic(forum=forum, author=author, title=f"Topic number {n:02d}")
    seen: list[str] = []
    url = forum.get_absolute_url()
    while url:
        response = client.get(url)
        listing = response.context["listing"]
        seen += [topic.title for topic in listing.topics]
        url = (
            f"{forum.get_absolute_url()}?after={listing.next_cursor}" if listing.next_cursor else ""
        )
    assert len(seen) == 60
    assert len(set(seen)) == 60


def test_the_index_shows_counts_and_the_latest_post(client: Client) -> None:
    forum = make_forum(name="World news")
    topic = make_topic(forum=forum, title="Ferry strike ends")
    make_replies(topic, 2, author=make_member(username="oskar", display_name="Oskar Lind"))
    html = client.get("/").content.decode()
    assert "World news" in html
    assert "Ferry strike ends" in html
    assert "by Oskar Lind" in html


def test_a_guest_sees_the_sign_in_panel_instead_of_a_reply_box(client: Client) -> None:
    topic = make_topic()
    html = client.get(topic.get_absolute_url()).content.decode()
    assert "You need to be a member in order to leave a comment" in html
    assert 'id="reply"' not in html


def test_a_member_sees_a_reply_box_and_can_quote_a_post(client: Client) -> None:
    topic = make_topic(text="Line one\n\nLine two")
    client.force_login(make_member(username="reader"))
    html = client.get(topic.get_absolute_url() + "?quote=1").content.decode()
    assert 'id="reply"' in html
    assert "wrote:\n\n&gt; Line one\n&gt;\n&gt; Line two" in html
    assert "You need to be a member" not in html


def test_recommended_replies_come_first_with_who_recommended_them(client: Client) -> None:
    topic = make_topic()
    replies = make_replies(topic, 3)
    moderator = make_moderator()
    services.recommend_post(post=replies[2], moderator=moderator)
    html = client.get(topic.get_absolute_url()).content.decode()
    heading = html.index("Recommended Posts")
    recommended = html.index(f"Recommended by {moderator.name}")
    assert heading < recommended < html.index('id="post-1"')


def test_a_reply_lands_the_member_on_their_post_with_counts_updated(client: Client) -> None:
    topic = make_topic()
    member = make_member(username="oskar")
    client.force_login(member)
    html = client.get(topic.get_absolute_url()).content.decode()
    key = re.search(r'name="submission_key" value="([0-9a-f-]{36})"', html)
    assert key, "the reply box carries a submission key"
    response = client.post(
        f"{topic.get_absolute_url()}reply/",
        {"text": "My reply", "submission_key": key[1], "action": "post"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"{topic.get_absolute_url()}#post-2"  # straight to it
    topic.refresh_from_db()
    assert topic.reply_count == 1
    assert Post.objects.get(topic=topic, number=2).submission_key == uuid.UUID(key[1])


def test_preview_shows_the_cooked_text_and_posts_nothing(client: Client) -> None:
    topic = make_topic()
    client.force_login(make_member(username="oskar"))
    response = client.post(
        f"{topic.get_absolute_url()}reply/",
        {
            "text": "Some **bold** idea",
            "submission_key": "9b7c1c1e-3f5b-4a7e-9d7e-0a4c2b1d5e6f",
            "action": "preview",
        },
    )
    html = response.content.decode()
    assert "<strong>bold</strong>" in html
    assert "Some **bold** idea</textarea>" in html
    assert topic.posts.count() == 1


def test_an_edited_post_says_so_and_its_earlier_versions_can_be_read(client: Client) -> None:
    topic = make_topic(text="Original words")
    post = topic.posts.get()
    services.edit_post(post=post, editor=topic.author, text="Better words")
    services.edit_post(post=post, editor=topic.author, text="Best words")
    assert "Edited 2 times" in client.get(topic.get_absolute_url()).content.decode()
    history = client.get(f"{topic.get_absolute_url()}post/1/revisions/").content.decode()
    assert history.index("Best words") < history.index("Better words")
    assert "Original words" in history


def test_a_deleted_reply_leaves_a_placeholder_and_the_numbering(client: Client) -> None:
    topic = make_topic()
    replies = make_replies(topic, 2)
    services.delete_post(post=replies[0], actor=replies[0].author)
    html = client.get(topic.get_absolute_url()).content.decode()
    assert "Post #2 was deleted." in html
    assert 'id="post-3"' in html
    assert "Reply number 0." not in html


def test_views_are_counted_in_batches_not_written_on_every_read(client: Client) -> None:
    topic = make_topic()
    client.get(topic.get_absolute_url())  # the first read in a while flushes the buffer
    with CaptureQueriesContext(connection) as queries:
        for _ in range(5):
            client.get(topic.get_absolute_url())
    assert not [q for q in queries if "UPDATE" in q["sql"].upper()]
    services.add_views(get_counter("topic_views").take())
    topic.refresh_from_db()
    assert topic.view_count == 6


def test_recently_browsing_names_members_but_counts_hidden_ones_as_guests(
    client: Client,
) -> None:
    topic = make_topic()
    shown = make_member(username="marta", display_name="Marta Q")
    hidden = make_member(username="oskar", display_name="Oskar L")
    hidden.hide_presence = True
    hidden.save()
    for member in (shown, hidden):
        reader = Client(headers={"user-agent": f"browser of {member.username}"})
        reader.force_login(member)
        reader.get(topic.get_absolute_url())
    html = client.get(topic.get_absolute_url()).content.decode()
    assert "1 member" in html
    assert "Marta Q" in html
    assert "Oskar L" not in html
    assert "and 2 guests" in html


def test_the_index_shows_who_is_online_and_the_most_ever(
    client: Client, settings: Settings
) -> None:
    # Rendered every time: a cached index says who was online when it was rendered.
    settings.SALA_GUEST_CACHE_SECONDS = 0
    marta = make_member(username="marta", display_name="Marta Q")
    member_client = Client(headers={"user-agent": "marta's browser"})
    member_client.force_login(marta)
    member_client.get("/u/marta/")
    Client(headers={"user-agent": "a guest's browser"}).get("/")
    html = client.get("/").content.decode()
    assert "1 member, 2 guests in the last 15 minutes" in html
    assert "Marta Q" in html
    assert "Most ever online: 3 (" in html


def test_the_forum_page_marks_topics_that_got_replies_since_the_member_read_them(
    client: Client, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    forum = make_forum()
    read_topic = make_topic(forum=forum, title="Read, then replied to")
    make_topic(forum=forum, title="Never opened")
    reader = make_member(username="reader")
    client.force_login(reader)
    client.get(read_topic.get_absolute_url())
    assert "new repl" not in client.get(forum.get_absolute_url()).content.decode()

    with django_capture_on_commit_callbacks(execute=True):  # as the replies commit
        make_replies(read_topic, 2)
    html = client.get(forum.get_absolute_url()).content.decode()
    assert "2 new replies" in html
    assert f'href="{read_topic.get_absolute_url()}post/2/"' in html

    client.get(read_topic.get_absolute_url())
    assert "new repl" not in client.get(forum.get_absolute_url()).content.decode()


@pytest.mark.parametrize("path", ["/t/99999999999999999999-x/", "/f/99999999999999999999-x/"])
def test_an_impossibly_large_id_is_not_found_rather_than_an_error(
    client: Client, path: str
) -> None:
    assert client.get(path).status_code == 404


def test_posting_a_reply_costs_the_same_queries_in_a_long_topic_and_joins_nothing(
    client: Client,
) -> None:
    client.force_login(make_member(username="writer"))
    short, long = make_topic(title="A short one"), make_topic(title="A long one")
    make_replies(long, 60)

    def post_reply(topic: Topic) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            response = client.post(
                f"{topic.get_absolute_url()}reply/",
                {"text": "Agreed.", "submission_key": str(uuid.uuid4()), "action": "post"},
            )
        assert response.status_code == 302
        return [query["sql"] for query in queries]

    post_reply(short)  # also records "last seen", which changes the member's row
    post_reply(short)  # loads it again
    in_short, in_long = post_reply(short), post_reply(long)

    assert len(in_short) == len(in_long)
    assert not any(" JOIN " in sql for sql in in_long), "the topic's row is all a reply reads"
