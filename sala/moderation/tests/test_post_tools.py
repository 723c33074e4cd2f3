"""Hiding, showing again and restoring posts: who sees what after each, the counters a
recount would give, the audit log, and a second moderator arriving too late."""

from typing import TYPE_CHECKING

import pytest
from django.urls import reverse

from sala.accounts.models import User
from sala.accounts.tests.factories import client_of, make_member
from sala.forums import services as forum_services
from sala.forums.models import Forum, Post, Topic
from sala.forums.tests.counting import recount_everything, snapshot
from sala.forums.tests.factories import make_forum, make_moderator, make_replies, make_topic
from sala.moderation import services
from sala.staff.audit import Acting
from sala.staff.models import AuditEntry

if TYPE_CHECKING:  # what the test client returns, as django-stubs names it
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db


def post_url(post: Post, action: str) -> str:
    return reverse(f"moderation:{action}_post", args=[post.topic_id, post.topic.slug, post.number])


@pytest.fixture(name="scene")
def scene_fixture() -> dict[str, object]:
    forum = make_forum()
    author = make_member(username="oskar")
    topic = make_topic(forum=forum)
    replies = make_replies(topic, 3, author=author)
    return {"forum": forum, "topic": topic, "author": author, "reply": replies[1]}


def hide_through_the_page(moderator: User, post: Post, reason: str) -> "Response":
    return client_of(moderator).post(post_url(post, "hide"), {"reason": reason})


def test_a_hidden_reply_shows_its_notice_to_readers_and_itself_marked_to_its_author(
    scene: dict[str, object],
) -> None:
    reply, author = scene["reply"], scene["author"]
    assert isinstance(reply, Post) and isinstance(author, User)
    moderator = make_moderator()

    response = hide_through_the_page(moderator, reply, "Advertising a shop")

    assert response.status_code == 302
    url = reply.topic.get_absolute_url()
    guest = client_of(None).get(url).content.decode()
    reader = client_of(make_member(username="reader")).get(url).content.decode()
    own = client_of(author).get(url).content.decode()
    staff = client_of(moderator).get(url).content.decode()
    for page in (guest, reader):
        assert "Post #3 is hidden by the moderators." in page
        assert "Reply number 1." not in page
        assert "Advertising a shop" not in page
    for page in (own, staff):
        assert "Reply number 1." in page
        assert "Reason: Advertising a shop" in page
        assert "Post #3 is hidden by the moderators." not in page
    assert "Unhide" in staff and "Unhide" not in own


def test_hiding_and_showing_again_keep_every_counter_as_a_recount_gives(
    scene: dict[str, object],
) -> None:
    reply, author, forum = scene["reply"], scene["author"], scene["forum"]
    assert isinstance(reply, Post) and isinstance(author, User) and isinstance(forum, Forum)
    moderator = make_moderator()
    acting = Acting(actor=moderator, reason="Off topic")

    services.hide_post(post=reply, acting=acting)
    hidden = snapshot()
    recount_everything()
    assert snapshot() == hidden
    assert User.objects.get(pk=author.pk).post_count == 2
    assert Topic.objects.get(pk=reply.topic_id).reply_count == 2
    assert Forum.objects.get(pk=forum.pk).post_count == 3

    services.unhide_post(post=reply, acting=Acting(actor=moderator))
    shown = snapshot()
    recount_everything()
    assert snapshot() == shown
    assert User.objects.get(pk=author.pk).post_count == 3
    assert Forum.objects.get(pk=forum.pk).post_count == 4


def test_a_hidden_reply_deleted_and_restored_is_counted_once_and_stays_hidden(
    scene: dict[str, object],
) -> None:
    reply, forum = scene["reply"], scene["forum"]
    assert isinstance(reply, Post) and isinstance(forum, Forum)
    moderator = make_moderator()
    services.hide_post(post=reply, acting=Acting(actor=moderator, reason="Spam"))

    forum_services.delete_post(post=reply, actor=moderator, reason="Spam, gone")
    assert Forum.objects.get(pk=forum.pk).post_count == 3
    services.restore_post(post=reply, acting=Acting(actor=moderator))

    kept = snapshot()
    recount_everything()
    assert snapshot() == kept
    restored = Post.objects.get(pk=reply.pk)
    assert (restored.is_deleted, restored.is_hidden) == (False, True)
    assert Forum.objects.get(pk=forum.pk).post_count == 3


def test_a_topic_deleted_by_a_moderator_opens_for_them_and_is_restored_whole(
    scene: dict[str, object],
) -> None:
    topic, forum = scene["topic"], scene["forum"]
    assert isinstance(topic, Topic) and isinstance(forum, Forum)
    moderator = make_moderator()
    before = snapshot()
    first = Post.objects.get(topic=topic, number=1)

    response = client_of(moderator).post(
        reverse("forums:delete_post", args=[topic.pk, topic.slug, 1]), {"reason": "Duplicate"}
    )

    assert response.status_code == 302
    assert client_of(None).get(topic.get_absolute_url()).status_code == 404
    page = client_of(moderator).get(topic.get_absolute_url())
    assert page.status_code == 200
    assert "Restore the topic" in page.content.decode()
    assert Forum.objects.get(pk=forum.pk).topic_count == 0

    client_of(moderator).post(post_url(first, "restore"))

    assert snapshot() == before
    assert client_of(None).get(topic.get_absolute_url()).status_code == 200
    actions = list(AuditEntry.objects.order_by("pk").values_list("action", "reason"))
    assert actions == [("topic.delete", "Duplicate"), ("topic.restore", "")]


def test_hiding_without_a_reason_is_refused_at_the_field_and_changes_nothing(
    scene: dict[str, object],
) -> None:
    reply = scene["reply"]
    assert isinstance(reply, Post)

    response = hide_through_the_page(make_moderator(), reply, "   ")

    assert response.status_code == 200
    assert "Say why, for the author and the other moderators." in response.content.decode()
    assert not Post.objects.get(pk=reply.pk).is_hidden
    assert not AuditEntry.objects.exists()


def test_a_second_moderator_hiding_the_same_post_is_told_it_is_hidden_already(
    scene: dict[str, object],
) -> None:
    reply = scene["reply"]
    assert isinstance(reply, Post)
    first, second = make_moderator("first"), make_moderator("second")
    # Both opened the hide form before either sent it.
    assert client_of(second).get(post_url(reply, "hide")).status_code == 200
    hide_through_the_page(first, reply, "Spam")

    response = client_of(second).post(post_url(reply, "hide"), {"reason": "Rude"}, follow=True)

    # The form's own check refuses, as the post is hidden by now: a clear page, no change.
    assert response.status_code == 403
    assert "This post is already hidden." in response.content.decode()
    hidden = Post.objects.get(pk=reply.pk)
    assert hidden.hidden_reason == "Spam"
    assert list(AuditEntry.objects.values_list("actor__username", flat=True)) == ["first"]


def test_each_action_is_in_the_audit_log_with_who_why_and_where(
    scene: dict[str, object],
) -> None:
    reply, author = scene["reply"], scene["author"]
    assert isinstance(reply, Post) and isinstance(author, User)
    moderator = make_moderator()
    client = client_of(moderator)

    client.post(post_url(reply, "hide"), {"reason": "Shouting"}, REMOTE_ADDR="203.0.113.9")
    client.post(post_url(reply, "unhide"), REMOTE_ADDR="203.0.113.9")
    client.post(
        reverse("forums:edit_post", args=[reply.topic_id, reply.topic.slug, reply.number]),
        {"text": "Toned down.", "reason": "Took out the shouting", "action": "post"},
    )

    entries = list(AuditEntry.objects.order_by("pk"))
    assert [entry.action for entry in entries] == ["post.hide", "post.unhide", "post.edit"]
    assert {entry.actor_name for entry in entries} == {"moderator"}
    assert {entry.subject_id for entry in entries} == {author.pk}
    assert entries[0].reason == "Shouting" and entries[0].address == "203.0.113.9"
    assert entries[2].before == {"text": "Reply number 1."}
    assert entries[2].after == {"text": "Toned down."}
    history = client_of(None).get(
        reverse("forums:post_revisions", args=[reply.topic_id, reply.topic.slug, reply.number])
    )
    assert "Took out the shouting" in history.content.decode()
    assert "moderator" in history.content.decode()


def test_an_author_editing_their_own_post_is_not_asked_why_nor_audited(
    scene: dict[str, object],
) -> None:
    reply, author = scene["reply"], scene["author"]
    assert isinstance(reply, Post) and isinstance(author, User)

    client_of(author).post(
        reverse("forums:edit_post", args=[reply.topic_id, reply.topic.slug, reply.number]),
        {"text": "Typo mended.", "action": "post"},
    )

    assert Post.objects.get(pk=reply.pk).text == "Typo mended."
    assert not AuditEntry.objects.exists()
