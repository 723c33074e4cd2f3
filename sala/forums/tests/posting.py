"""What the bad-input tests of the posting forms share: Alice's world, a snapshot of
everything a form could write, and images and files to upload.

Test modules import the `world` fixture as `world_fixture` (named apart, so a test's
parameter does not shadow the import).
"""

from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from sala.accounts.models import User
from sala.accounts.tests.factories import make_member
from sala.forums.models import Forum, Post, PostRevision, Topic, Upload
from sala.forums.tests.factories import make_forum, make_replies, make_topic

NEW_TOPIC = "/new/topic/"


# --- Files -----------------------------------------------------------------------------------


def files_under(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


# --- The community ---------------------------------------------------------------------------


@dataclass
class World:
    """Alice's topic with Bob's reply, in a forum; Alice is signed in unless a test says not."""

    forum: Forum
    alice: User
    bob: User
    topic: Topic

    def refresh(self) -> None:
        self.topic.refresh_from_db()

    def url(self, name: str, number: int | None = None) -> str:
        args: list[object] = [self.topic.pk, self.topic.slug]
        if number is not None:
            args.append(number)
        return reverse(f"forums:{name}", args=args)


@pytest.fixture(name="world")
def world_fixture(client: Client) -> World:
    """Sign Alice in, with her topic and Bob's reply in a forum."""
    forum = make_forum(name="Harbour news")
    # No passwords: hashing one costs more than the rest of a test, and force_login needs none.
    alice = make_member(username="alice", password=None)
    bob = make_member(username="bob", password=None)
    topic = make_topic(forum=forum, author=alice, title="The tram to the harbour")
    make_replies(topic, 1, author=bob)
    topic.refresh_from_db()
    client.force_login(alice)
    return World(forum=forum, alice=alice, bob=bob, topic=topic)


def database_state() -> dict[str, object]:
    """Return everything a posting form could write, to compare before and after."""
    return {
        "topic rows": Topic.objects.count(),
        "post rows": Post.objects.count(),
        "topics": list(
            Topic.objects.order_by("pk").values(
                "pk",
                "title",
                "slug",
                "source_url",
                "is_locked",
                "is_deleted",
                "last_number",
                "reply_count",
                "last_post_at",
                "last_poster",
            )
        ),
        "posts": list(
            Post.objects.order_by("pk").values(
                "pk",
                "number",
                "text",
                "html",
                "is_deleted",
                "edit_count",
                "edited_at",
                "recommended_by",
                "recommended_at",
            )
        ),
        "forum counters": list(
            Forum.objects.order_by("pk").values("pk", "topic_count", "post_count", "last_post")
        ),
        "member post counts": dict(User.objects.values_list("username", "post_count")),
        "revisions": PostRevision.objects.count(),
        "uploads": Upload.objects.count(),
        "media files": files_under(Path(settings.MEDIA_ROOT)),
    }


def assert_nothing_written(before: dict[str, object]) -> None:
    after = database_state()
    changed = {key: (before[key], after[key]) for key in before if before[key] != after[key]}
    assert not changed, f"written although refused: {changed}"


# --- What a member means to post -------------------------------------------------------------

#: What a member means to post; each bad case changes some of it. The markup is there to
#: show that what comes back is escaped.
GOOD_TITLE = 'Fares <b>rise</b> & "the harbour line"'
GOOD_TEXT = "The council voted 7 to 2 & the <line> opens in May.\n\nSee you there."
GOOD_SOURCE = "https://news.example.org/tram?id=7&lang=en"


def good_topic(world: World) -> dict[str, str]:
    return {
        "forum": str(world.forum.pk),
        "title": GOOD_TITLE,
        "source_url": GOOD_SOURCE,
        "text": GOOD_TEXT,
        "caption": "",
        "submission_key": "9a0b3c1d-1111-4000-8000-00000000000a",
        "action": "post",
    }


def good_reply(world: World) -> dict[str, str]:
    return {
        "text": GOOD_TEXT,
        "caption": "",
        "submission_key": "9a0b3c1d-2222-4000-8000-00000000000b",
        "action": "post",
    }


NOT_A_WEB_ADDRESS = "Enter the article's web address, starting with http:// or https://."
