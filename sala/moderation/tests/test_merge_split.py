"""Merging a topic into another and splitting replies off into a new one: the posts'
order and numbers, the counters a recount gives, old links leading on, and refusals."""

import pytest
from django.test import Client
from django.urls import reverse

from sala.accounts.tests.factories import client_of
from sala.forums.models import Forum, Post, Topic
from sala.forums.tests.counting import recount_everything, snapshot
from sala.forums.tests.factories import make_forum, make_moderator, make_replies, make_topic
from sala.moderation import services
from sala.staff.audit import Acting
from sala.staff.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_a_merged_topics_posts_follow_the_others_and_its_links_lead_there() -> None:
    news = make_forum(name="News")
    keep = make_topic(forum=news, title="Bridge closes for repairs", text="The main story.")
    make_replies(keep, 2)
    dupe = make_topic(forum=news, title="Bridge closed?!", text="The duplicate.")
    make_replies(dupe, 1)
    moderator = make_moderator()

    response = client_of(moderator).post(
        reverse("moderation:merge_topic", args=[dupe.pk, dupe.slug]),
        {"into": f"https://news.example{keep.get_absolute_url()}", "reason": "Same story"},
    )

    assert response.status_code == 302
    texts = list(Post.objects.filter(topic=keep).order_by("number").values_list("number", "text"))
    assert [number for number, _text in texts] == [1, 2, 3, 4, 5]
    assert texts[3][1] == "The duplicate."
    kept = snapshot()
    recount_everything()
    assert snapshot() == kept
    assert Forum.objects.get(pk=news.pk).topic_count == 1
    guest = Client()
    assert guest.get(dupe.get_absolute_url())["Location"] == keep.get_absolute_url()
    old_link = guest.get(reverse("forums:post", args=[dupe.pk, dupe.slug, 2]))
    assert old_link["Location"] == f"{keep.get_absolute_url()}#post-5"
    assert AuditEntry.objects.get(action="topic.merge").reason == "Same story"


@pytest.mark.parametrize(
    ("into", "message"),
    [
        ("itself", "A topic can&#x27;t be merged into itself."),
        ("999999", "There is no such topic"),
        ("not a topic", "Give a topic&#x27;s number or paste its address."),
        ("", "Say which topic to merge this one into."),
    ],
)
def test_merging_into_itself_or_nothing_is_refused_at_the_field(into: str, message: str) -> None:
    topic = make_topic()
    make_replies(topic, 1)
    moderator = make_moderator()
    before = snapshot()

    response = client_of(moderator).post(
        reverse("moderation:merge_topic", args=[topic.pk, topic.slug]),
        {"into": str(topic.pk) if into == "itself" else into},
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert snapshot() == before


def test_split_replies_start_a_new_topic_numbered_from_one_and_old_links_lead_on() -> None:
    news, sport = make_forum(name="News"), make_forum(name="Sport")
    topic = make_topic(forum=news, title="City budget")
    replies = make_replies(topic, 5)
    moderator = make_moderator()

    response = client_of(moderator).post(
        reverse("moderation:split_topic", args=[topic.pk, topic.slug]),
        {"posts": ["3", "5"], "title": "The stadium in the budget", "forum": sport.pk},
    )

    assert response.status_code == 302
    new = Topic.objects.get(title="The stadium in the budget")
    moved = list(Post.objects.filter(topic=new).order_by("number"))
    assert [(post.number, post.pk) for post in moved] == [(1, replies[1].pk), (2, replies[3].pk)]
    assert new.forum_id == sport.pk and new.author_id == replies[1].author_id
    kept = snapshot()
    recount_everything()
    # The old topic keeps its highest number: numbers are never handed out twice.
    assert Topic.objects.get(pk=topic.pk).last_number == 6
    Topic.objects.filter(pk=topic.pk).update(last_number=6)
    assert snapshot() == kept
    old_link = Client().get(reverse("forums:post", args=[topic.pk, topic.slug, 5]))
    assert old_link["Location"] == f"{new.get_absolute_url()}#post-2"


@pytest.mark.parametrize(
    ("posts", "message"),
    [
        ([], "Choose at least one reply to split off."),
        (["1"], "Select a valid choice"),
        (["77"], "Select a valid choice"),
    ],
)
def test_splitting_nothing_or_the_first_post_is_refused_and_changes_nothing(
    posts: list[str], message: str
) -> None:
    topic = make_topic()
    make_replies(topic, 2)
    moderator = make_moderator()
    before = snapshot()

    response = client_of(moderator).post(
        reverse("moderation:split_topic", args=[topic.pk, topic.slug]),
        {"posts": posts, "title": "A new topic", "forum": topic.forum_id},
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert snapshot() == before
    assert Topic.objects.count() == 1


def test_the_service_refuses_the_first_post_and_numbers_not_in_the_topic() -> None:
    topic = make_topic()
    make_replies(topic, 2)
    acting = Acting(actor=make_moderator())
    forum = Forum.objects.get(pk=topic.forum_id)

    for numbers, message in (([1, 2], "first post stays"), ([2, 9], "Post #9 is not")):
        with pytest.raises(Exception, match=message):
            services.split_topic(
                topic=topic, numbers=numbers, title="Split", to_forum=forum, acting=acting
            )
    assert Topic.objects.count() == 1
