"""The forums' admin deletes posts and topics as moderators do, never their rows."""

import pytest
from django.test import Client

from sala.accounts.models import User
from sala.accounts.tests.factories import make_member
from sala.forums.models import Forum, Post, Topic
from sala.forums.tests.factories import make_replies, make_topic

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    admin = make_member(username="admin")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client = Client()
    client.force_login(admin)
    return client


def test_deleting_a_post_in_the_admin_hides_it_and_keeps_numbers_and_counts(
    admin_client: Client,
) -> None:
    topic = make_topic()
    first_reply, _ = make_replies(topic, 2)
    author = User.objects.get(pk=first_reply.author_id)

    response = admin_client.post(
        "/admin/forums/post/",
        {"action": "delete_softly", "_selected_action": [first_reply.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "Deleted 1." in response.content.decode()
    first_reply.refresh_from_db()
    assert first_reply.is_deleted
    assert Post.objects.filter(topic=topic).count() == 3, "the row and its number stay"
    topic.refresh_from_db()
    assert topic.reply_count == 1
    assert User.objects.get(pk=author.pk).post_count == author.post_count - 1
    assert Forum.objects.get(pk=topic.forum_id).post_count == 2


def test_deleting_a_topic_in_the_admin_deletes_it_as_its_first_post_would(
    admin_client: Client,
) -> None:
    topic = make_topic(title="Gone by the admin")
    make_replies(topic, 1)

    admin_client.post(
        "/admin/forums/topic/", {"action": "delete_softly", "_selected_action": [topic.pk]}
    )

    topic.refresh_from_db()
    assert topic.is_deleted
    assert Post.objects.filter(topic=topic).count() == 2
    assert Forum.objects.get(pk=topic.forum_id).topic_count == 0


def test_the_admin_has_no_way_to_delete_rows_of_posts_or_topics(admin_client: Client) -> None:
    topic = make_topic()
    post = Post.objects.get(topic=topic, number=1)

    for url in (f"/admin/forums/post/{post.pk}/delete/", f"/admin/forums/topic/{topic.pk}/delete/"):
        response = admin_client.post(url, {"post": "yes"})
        assert response.status_code == 403, url
    changelist = admin_client.get("/admin/forums/post/").content.decode()

    assert 'value="delete_selected"' not in changelist
    assert Topic.objects.filter(pk=topic.pk).exists()
    assert Post.objects.filter(pk=post.pk).exists()
