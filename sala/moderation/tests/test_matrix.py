"""Every moderation action, by every role, in a forum the role moderates, in another, and
as a plain member or guest: done, or refused with a clear page (403; guests are sent to
sign in), never a silent no-op. Each action added to Sala gets its row here."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from sala.accounts.models import User
from sala.accounts.tests.factories import make_member
from sala.forums import services as forum_services
from sala.forums.models import Forum, Post, Topic
from sala.forums.tests.factories import make_forum, make_replies, make_topic
from sala.moderation import reports, services
from sala.moderation.models import Reason, ReviewItem, State
from sala.staff.audit import Acting
from sala.staff.models import Role, StaffRole

if TYPE_CHECKING:  # what the test client returns, as django-stubs names it
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Scene:
    """A forum with a topic and a reply by someone else; the role under test acts on it."""

    forum: Forum
    other_forum: Forum
    topic: Topic
    reply: Post
    helper: User  # a global moderator who sets things up (hides, deletes, locks)


def _post_action(name: str, data: dict[str, str] | None = None) -> Callable[..., "Response"]:
    def send(client: Client, scene: Scene) -> "Response":
        post = scene.reply
        url = reverse(name, args=[post.topic_id, post.topic.slug, post.number])
        return client.post(url, data or {})

    return send


def _fresh(scene: Scene) -> Post:
    return Post.objects.get(pk=scene.reply.pk)


@dataclass(frozen=True)
class Action:
    name: str
    send: Callable[[Client, Scene], "Response"]
    done: Callable[[Scene], bool]
    prepare: Callable[[Scene], None] = lambda scene: None
    #: The roles it is allowed for, when not every role that moderates the forum.
    allowed_for: frozenset[str] | None = None


def _hide_first(scene: Scene) -> None:
    services.hide_post(post=scene.reply, acting=Acting(actor=scene.helper, reason="Spam"))


def _delete_first(scene: Scene) -> None:
    forum_services.delete_post(post=scene.reply, actor=scene.helper, reason="Spam")


def _merge_target_first(scene: Scene) -> None:
    make_topic(forum=scene.forum, title="Merge target")


def _report_first(scene: Scene) -> None:
    reports.report_post(post=scene.reply, reporter=make_member(), reason=Reason.SPAM)


def _hold_first(scene: Scene) -> None:
    """A new topic held in the scene's forum, in the queue."""
    forum = scene.forum
    forum.approve_new_topics = True
    forum_services.submit_topic(forum=forum, author=make_member(), title="Held", text="Wait.")
    reports.open_missing_items()  # as its listener does once the hold commits


def _decide(client: Client, action: str) -> "Response":
    item = ReviewItem.objects.get()
    return client.post(
        reverse("moderation:act_on_item", args=[item.pk]), {"action": action, "reason": "Ad"}
    )


def _lock_first(scene: Scene) -> None:
    Topic.objects.filter(pk=scene.topic.pk).update(is_locked=True)


def _replied_in_locked(scene: Scene) -> bool:
    return Post.objects.filter(topic=scene.topic, text="In a locked topic.").exists()


def _tool(client: Client, scene: Scene, **data: str) -> "Response":
    topic = scene.topic
    return client.post(reverse("moderation:topic_tools", args=[topic.pk, topic.slug]), data)


def _bulk(client: Client, scene: Scene, **data: str) -> "Response":
    forum = scene.forum
    return client.post(
        reverse("moderation:bulk_topics", args=[forum.pk, forum.slug]),
        {"topics": [str(scene.topic.pk)], **data},
    )


ACTIONS = [
    Action(
        "hide a reply",
        _post_action("moderation:hide_post", {"reason": "Spam"}),
        lambda scene: _fresh(scene).is_hidden,
    ),
    Action(
        "unhide a reply",
        _post_action("moderation:unhide_post"),
        lambda scene: not _fresh(scene).is_hidden,
        prepare=_hide_first,
    ),
    Action(
        "restore a deleted reply",
        _post_action("moderation:restore_post"),
        lambda scene: not _fresh(scene).is_deleted,
        prepare=_delete_first,
    ),
    Action(
        "delete another's reply",
        _post_action("forums:delete_post", {"reason": "Rude"}),
        lambda scene: _fresh(scene).is_deleted,
    ),
    Action(
        "edit another's reply",
        _post_action(
            "forums:edit_post", {"text": "Edited by staff.", "reason": "Tidy", "action": "post"}
        ),
        lambda scene: _fresh(scene).text == "Edited by staff.",
    ),
    Action(
        "recommend a reply",
        _post_action("forums:recommend_post"),
        lambda scene: _fresh(scene).recommended_at is not None,
    ),
    Action(
        "lock a topic",
        lambda client, scene: _tool(client, scene, action="lock"),
        lambda scene: Topic.objects.get(pk=scene.topic.pk).is_locked,
    ),
    Action(
        "pin a topic",
        lambda client, scene: _tool(client, scene, action="pin"),
        lambda scene: Topic.objects.get(pk=scene.topic.pk).is_pinned,
    ),
    Action(
        "close a topic for a day",
        lambda client, scene: _tool(client, scene, action="close", close_for="1d"),
        lambda scene: Topic.objects.get(pk=scene.topic.pk).reopens_at is not None,
    ),
    Action(
        # Into the other forum: only those who moderate both may.
        "move a topic to another forum",
        lambda client, scene: client.post(
            reverse("moderation:move_topic", args=[scene.topic.pk, scene.topic.slug]),
            {"forum": scene.other_forum.pk},
        ),
        lambda scene: Topic.objects.get(pk=scene.topic.pk).forum_id == scene.other_forum.pk,
        allowed_for=frozenset({"administrator", "global moderator"}),
    ),
    Action(
        "merge a topic into another of its forum",
        lambda client, scene: client.post(
            reverse("moderation:merge_topic", args=[scene.topic.pk, scene.topic.slug]),
            {"into": str(Topic.objects.get(title="Merge target").pk)},
        ),
        lambda scene: Topic.objects.get(pk=scene.topic.pk).merged_into_id is not None,
        prepare=_merge_target_first,
    ),
    Action(
        "split a reply off into a new topic",
        lambda client, scene: client.post(
            reverse("moderation:split_topic", args=[scene.topic.pk, scene.topic.slug]),
            {"posts": ["2"], "title": "Split off", "forum": scene.forum.pk},
        ),
        lambda scene: Topic.objects.filter(title="Split off").exists(),
    ),
    Action(
        "resolve a report by hiding the post",
        lambda client, scene: client.post(
            reverse("moderation:act_on_item", args=[ReviewItem.objects.get().pk]),
            {"action": "hide", "reason": "Spam"},
        ),
        lambda scene: ReviewItem.objects.get().state == State.RESOLVED,
        prepare=_report_first,
    ),
    Action(
        "approve a post awaiting approval",
        lambda client, scene: _decide(client, "approve"),
        lambda scene: Topic.objects.filter(title="Held").exists(),
        prepare=_hold_first,
    ),
    Action(
        "reject a post awaiting approval",
        lambda client, scene: _decide(client, "reject"),
        lambda scene: ReviewItem.objects.get().state == State.REJECTED,
        prepare=_hold_first,
    ),
    Action(
        "lock topics ticked on the forum page",
        lambda client, scene: _bulk(client, scene, action="lock"),
        lambda scene: Topic.objects.get(pk=scene.topic.pk).is_locked,
    ),
    Action(
        # Into the other forum: only those who moderate both may.
        "move topics ticked on the forum page",
        lambda client, scene: _bulk(
            client, scene, action="move", to_forum=str(scene.other_forum.pk), confirm="1"
        ),
        lambda scene: Topic.objects.get(pk=scene.topic.pk).forum_id == scene.other_forum.pk,
        allowed_for=frozenset({"administrator", "global moderator"}),
    ),
    Action(
        "reply to a locked topic",
        lambda client, scene: client.post(
            reverse("forums:reply", args=[scene.topic.pk, scene.topic.slug]),
            {"text": "In a locked topic.", "action": "post"},
        ),
        _replied_in_locked,
        prepare=_lock_first,
    ),
]


def _give(role: str, scene: Scene) -> Client | None:
    """Return a client signed in as a member holding `role` (None: a guest)."""
    if role == "guest":
        return None
    member = make_member(username=role.replace(" ", "_")[:30])
    if role == "administrator":
        StaffRole.objects.create(role=Role.ADMIN, member=member)
    elif role == "global moderator":
        StaffRole.objects.create(role=Role.GLOBAL_MODERATOR, member=member)
    elif role == "moderator of this forum":
        StaffRole.objects.create(role=Role.FORUM_MODERATOR, member=member, forum_id=scene.forum.pk)
    elif role == "moderator of this forum by group":
        group = Group.objects.create(name="News desk")
        member.groups.add(group)
        StaffRole.objects.create(role=Role.FORUM_MODERATOR, group=group, forum_id=scene.forum.pk)
    elif role == "moderator of another forum":
        StaffRole.objects.create(
            role=Role.FORUM_MODERATOR, member=member, forum_id=scene.other_forum.pk
        )
    client = Client()
    client.force_login(member)
    return client


#: Each role, and whether it may moderate the scene's forum.
ROLES = {
    "administrator": True,
    "global moderator": True,
    "moderator of this forum": True,
    "moderator of this forum by group": True,
    "moderator of another forum": False,
    "plain member": False,
    "guest": False,
}


@pytest.mark.parametrize("action", ACTIONS, ids=lambda action: action.name)
@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_may_do_each_action_only_where_it_moderates(role: str, action: Action) -> None:
    forum, other_forum = make_forum(name="News"), make_forum(name="Sport")
    helper = make_member(username="helper")
    StaffRole.objects.create(role=Role.GLOBAL_MODERATOR, member=helper)
    topic = make_topic(forum=forum)
    (reply,) = make_replies(topic, 1)
    scene = Scene(forum, other_forum, topic, reply, User.objects.get(pk=helper.pk))
    action.prepare(scene)
    client = _give(role, scene)

    response = action.send(client or Client(), scene)

    allowed = ROLES[role] if action.allowed_for is None else role in action.allowed_for
    if allowed:
        assert response.status_code == 302, response.content.decode()[:500]
        assert action.done(scene), "allowed, yet nothing happened"
    elif client is None:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
        assert not action.done(scene)
    elif ROLES[role]:
        # Refused at the form's field: the forum is not among those offered.
        assert response.status_code == 200
        assert "Choose one of the forums you moderate" in response.content.decode()
        assert not action.done(scene)
    else:
        assert response.status_code == 403
        page = response.content.decode()
        assert "Not allowed" in page
        assert any(
            sentence in page
            for sentence in (
                "Only moderators of this forum can do that.",
                "You can only edit your own posts.",
                "You can only delete your own posts.",
                "This topic is locked: no new replies.",
            )
        ), page
        assert not action.done(scene)
