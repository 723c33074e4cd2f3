"""Bad input through the posting forms: refused at the field, kept as typed, nothing written.

Every refusal is checked three ways: the message sits in the error block of the field it
is about (or the answer is a 403, a 404 or the sign-in page, where that is the right one),
the text the member typed comes back in the form, escaped, and the database and the media
folder are exactly as they were: no topic, post, counter bump, revision, upload or file.
Text that is merely odd (malformed Markdown, script in a title) is accepted and must come
out of every page inert.
"""

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from PIL import Image

from sala.accounts.models import User
from sala.accounts.tests.factories import make_member
from sala.core.tests.html_pages import (
    Page,
    assert_kept,
    assert_not_echoed,
    assert_only_errors_at,
    page_of,
)
from sala.core.tests.images import blank_png
from sala.forums.models import Forum, Post, PostRevision, Topic, Upload
from sala.forums.tests.factories import make_forum, make_replies, make_topic

pytestmark = pytest.mark.django_db

NEW_TOPIC = "/new/topic/"


# --- Files -----------------------------------------------------------------------------------


def files_under(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def noise(size: int) -> bytes:
    """Return `size` bytes that look random and do not compress: the same every run."""
    return hashlib.shake_256(b"sala forums").digest(size)


@cache
def noisy_png() -> bytes:
    """Return a 96x96 PNG of noise, about 28 KB."""
    output = io.BytesIO()
    Image.frombytes("RGB", (96, 96), noise(96 * 96 * 3)).save(output, format="PNG")
    return output.getvalue()


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


@pytest.fixture
def world(client: Client) -> World:
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


# --- Posting with bad input -------------------------------------------------------------------

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


@dataclass(frozen=True)
class Attachment:
    name: str
    content_type: str
    content: Callable[[], bytes]


@dataclass(frozen=True)
class BadPost:
    #: Fields to change in the good submission; None leaves the field out entirely.
    typed: dict[str, str | None]
    #: The field whose error block must show `message`.
    field: str
    message: str
    image: Attachment | None = None


NOT_AN_IMAGE = "This file is not a JPEG, PNG, GIF or WebP image."
NOT_A_WEB_ADDRESS = "Enter the article's web address, starting with http:// or https://."
SVG_WITH_SCRIPT = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(1)</script></svg>"
)

#: Bad bodies and bad images, refused the same way by the topic and the reply form.
BODY_AND_IMAGE_CASES = [
    pytest.param(BadPost({"text": ""}, "text", "Write something first."), id="empty body"),
    pytest.param(
        BadPost({"text": " \n\t \r\n "}, "text", "Write something first."),
        id="whitespace-only body",
    ),
    pytest.param(
        BadPost({"text": "\u200b\u200b\u200b\u2060\u3164"}, "text", "Write something first."),
        id="body of invisible characters",
    ),
    pytest.param(
        BadPost(
            {"text": "x" * 30_001},
            "text",
            "Ensure this value has at most 30000 characters (it has 30001).",
        ),
        id="body one character over the limit",
    ),
    pytest.param(
        BadPost(
            {"caption": "c" * 301},
            "caption",
            "Ensure this value has at most 300 characters (it has 301).",
        ),
        id="image caption over 300 characters",
    ),
    pytest.param(
        BadPost(
            {"action": "attach"},
            "image",
            NOT_AN_IMAGE,
            Attachment("harbour.png", "image/png", lambda: b"Just some words, not a picture.\n"),
        ),
        id="attach a text file named .png",
    ),
    pytest.param(
        BadPost(
            {"action": "attach"},
            "image",
            NOT_AN_IMAGE,
            Attachment("harbour.svg", "image/svg+xml", lambda: SVG_WITH_SCRIPT),
        ),
        id="attach an SVG with a script",
    ),
    pytest.param(
        BadPost(
            {"action": "attach"},
            "image",
            "The image is damaged and can't be read.",
            Attachment("harbour.png", "image/png", lambda: noisy_png()[: len(noisy_png()) // 2]),
        ),
        id="attach a truncated PNG",
    ),
    pytest.param(
        BadPost(
            {"action": "attach"},
            "image",
            "The image is too large: the limit is 40 megapixels.",
            Attachment("harbour.png", "image/png", lambda: blank_png(30_000, 30_000)),
        ),
        id="attach a 900-megapixel decompression bomb",
    ),
    pytest.param(
        BadPost({"action": "attach"}, "image", "Choose an image to add."),
        id="attach without choosing an image",
    ),
]

#: Bad titles, refused the same way by the new-topic and the edit form. Each table adds its
#: own whitespace-only title: the two are tried with different white space.
TITLE_CASES = [
    pytest.param(BadPost({"title": ""}, "title", "Give your topic a title."), id="empty title"),
    pytest.param(
        BadPost(
            {"title": "Ab"}, "title", "Ensure this value has at least 3 characters (it has 2)."
        ),
        id="2-character title",
    ),
    pytest.param(
        BadPost(
            {"title": "\u200b\u200b\u200b\u2060\u3164"},
            "title",
            "Give your topic a title of at least 3 characters.",
        ),
        id="title of invisible characters",
    ),
    pytest.param(
        BadPost(
            {"title": "T" * 10_000},
            "title",
            "Ensure this value has at most 200 characters (it has 10000).",
        ),
        id="10,000-character title",
    ),
]

TOPIC_CASES = [
    *TITLE_CASES,
    pytest.param(
        BadPost({"title": "   \t  "}, "title", "Give your topic a title."),
        id="whitespace-only title",
    ),
    pytest.param(
        BadPost({"source_url": "javascript:alert(1)"}, "source_url", NOT_A_WEB_ADDRESS),
        id="source javascript: URL",
    ),
    pytest.param(
        BadPost(
            {"source_url": " JavaScript:alert(document.cookie)"}, "source_url", NOT_A_WEB_ADDRESS
        ),
        id="source javascript: URL in mixed case after a space",
    ),
    pytest.param(
        BadPost({"source_url": "ftp://x"}, "source_url", NOT_A_WEB_ADDRESS), id="source ftp URL"
    ),
    pytest.param(
        BadPost(
            {"source_url": "data:text/html,<script>alert(1)</script>"},
            "source_url",
            NOT_A_WEB_ADDRESS,
        ),
        id="source data: URL",
    ),
    pytest.param(
        BadPost({"source_url": "//evil.example/tram"}, "source_url", NOT_A_WEB_ADDRESS),
        id="source protocol-relative URL",
    ),
    pytest.param(
        BadPost({"source_url": "not a url"}, "source_url", NOT_A_WEB_ADDRESS),
        id="source not a URL",
    ),
    pytest.param(
        BadPost(
            {"source_url": "https://news.example.org/" + "a" * (3000 - 25)},
            "source_url",
            "Ensure this value has at most 2000 characters (it has 3000).",
        ),
        id="source URL of 3000 characters",
    ),
    pytest.param(
        BadPost(
            {"forum": "999999"}, "forum", "That forum doesn't exist; choose one from the list."
        ),
        id="forged forum id that does not exist",
    ),
    pytest.param(
        BadPost(
            {"forum": "news' OR 1=1 --"},
            "forum",
            "That forum doesn't exist; choose one from the list.",
        ),
        id="forged non-numeric forum id",
    ),
    pytest.param(
        BadPost({"forum": None}, "forum", "Choose the forum your topic belongs in."),
        id="missing forum",
    ),
    pytest.param(
        BadPost({"forum": ""}, "forum", "Choose the forum your topic belongs in."),
        id="no forum chosen",
    ),
    *BODY_AND_IMAGE_CASES,
]


def submission(base: dict[str, str], case: BadPost) -> tuple[dict[str, Any], dict[str, str]]:
    """Return the POST data for `case` and what the member typed into each text control."""
    typed = dict(base)
    for name, value in case.typed.items():
        if value is None:
            typed.pop(name, None)
        else:
            typed[name] = value
    data: dict[str, Any] = dict(typed)
    if case.image is not None:
        data["image"] = SimpleUploadedFile(
            case.image.name, case.image.content(), content_type=case.image.content_type
        )
    return data, typed


@pytest.mark.parametrize("case", TOPIC_CASES)
def test_new_topic_with_bad_input_shows_the_error_at_the_field_keeps_the_text_and_writes_nothing(
    client: Client, world: World, case: BadPost
) -> None:
    data, typed = submission(good_topic(world), case)
    before = database_state()

    response = client.post(NEW_TOPIC, data)

    page = page_of(response)
    assert_only_errors_at(page, {case.field: case.message})
    assert_kept(page, typed, "title", "text", "source_url")
    if case.field != "forum":
        assert page.selected("forum") == [str(world.forum.pk)]
    assert_not_echoed(page, "image")
    assert "<script>" not in page.html
    assert_nothing_written(before)


@pytest.mark.parametrize("case", BODY_AND_IMAGE_CASES)
def test_reply_with_bad_input_shows_the_error_at_the_field_keeps_the_text_and_writes_nothing(
    client: Client, world: World, case: BadPost
) -> None:
    data, typed = submission(good_reply(world), case)
    before = database_state()

    response = client.post(world.url("reply"), data)

    page = page_of(response)
    assert_only_errors_at(page, {case.field: case.message})
    assert_kept(page, typed, "text")
    assert "<script>" not in page.html
    assert_nothing_written(before)


EDIT_CASES = [
    *TITLE_CASES,
    pytest.param(
        BadPost({"title": "   "}, "title", "Give your topic a title."), id="whitespace-only title"
    ),
    pytest.param(BadPost({"text": ""}, "text", "Write something first."), id="empty body"),
    pytest.param(
        BadPost({"text": "  \n  "}, "text", "Write something first."), id="whitespace-only body"
    ),
    pytest.param(
        BadPost({"text": "\u200b\u200b\u200b\u2060\u3164"}, "text", "Write something first."),
        id="body of invisible characters",
    ),
    pytest.param(
        BadPost(
            {"text": "x" * 30_001},
            "text",
            "Ensure this value has at most 30000 characters (it has 30001).",
        ),
        id="body one character over the limit",
    ),
]


@pytest.mark.parametrize("case", EDIT_CASES)
def test_editing_a_topic_with_bad_input_shows_the_error_at_the_field_and_changes_nothing(
    client: Client, world: World, case: BadPost
) -> None:
    data, typed = submission({"title": GOOD_TITLE, "text": GOOD_TEXT, "action": "post"}, case)
    before = database_state()

    response = client.post(world.url("edit_post", 1), data)

    page = page_of(response)
    assert_only_errors_at(page, {case.field: case.message})
    assert_kept(page, typed, "title", "text")
    assert_nothing_written(before)


@pytest.mark.parametrize("key", [None, "", "not-a-uuid"], ids=["missing", "empty", "garbled"])
def test_a_missing_or_garbled_submission_key_never_traps_the_member(
    client: Client, world: World, key: str | None
) -> None:
    """A stale or tampered page may lack a good key; the member must still get to post.

    Either the topic is created, or the form says what went wrong and comes back with a
    fresh key that works: never a silent refusal that repeats on every try.
    """
    data = good_topic(world)
    if key is None:
        del data["submission_key"]
    else:
        data["submission_key"] = key
    topics_before = Topic.objects.count()

    response = client.post(NEW_TOPIC, data)

    if response.status_code == 200:
        page = page_of(response)
        assert page.form_errors or page.with_class("field__errors"), (
            "the form came back refused, with no message anywhere"
        )
        assert_kept(page, data, "title", "text")
        assert Topic.objects.count() == topics_before
        data["submission_key"] = page.value_of("submission_key")
        response = client.post(NEW_TOPIC, data)
    assert response.status_code == 302
    assert Topic.objects.count() == topics_before + 1


# --- Refused outright: 403, 404, sign in ------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    method: str
    url: Callable[[World], str]
    status: int
    data: dict[str, str] = field(default_factory=dict)
    guest: bool = False
    prepare: Callable[[World], None] = lambda world: None
    settings: dict[str, Any] = field(default_factory=dict)


def lock(world: World) -> None:
    Topic.objects.filter(pk=world.topic.pk).update(is_locked=True)


def delete_topic(world: World) -> None:
    Topic.objects.filter(pk=world.topic.pk).update(is_deleted=True)


def age_first_post(world: World) -> None:
    window = timedelta(minutes=settings.SALA_EDIT_WINDOW_MINUTES)
    old = timezone.now() - window - timedelta(minutes=1)
    Post.objects.filter(topic=world.topic, number=1).update(created_at=old)


REPLY = {"text": "Let me in.", "submission_key": "0e1f2a3b-3333-4000-8000-00000000000c"}
EDIT = {"title": "A title of my choosing", "text": "Rewritten by someone else."}

REFUSALS = [
    pytest.param(
        Refusal("post", lambda w: w.url("reply"), 403, REPLY, prepare=lock),
        id="reply to a locked topic",
    ),
    pytest.param(
        Refusal("get", lambda w: w.url("reply"), 403, prepare=lock),
        id="open the reply form of a locked topic",
    ),
    pytest.param(
        Refusal("post", lambda w: w.url("reply"), 404, REPLY, prepare=delete_topic),
        id="reply to a deleted topic",
    ),
    pytest.param(
        Refusal("post", lambda w: w.url("reply"), 302, REPLY, guest=True),
        id="reply as a guest",
    ),
    pytest.param(
        Refusal("post", lambda w: NEW_TOPIC, 302, {"title": "Guest topic"}, guest=True),
        id="start a topic as a guest",
    ),
    pytest.param(
        Refusal("post", lambda w: w.url("edit_post", 2), 403, EDIT),
        id="edit someone else's post",
    ),
    pytest.param(
        Refusal("get", lambda w: w.url("edit_post", 2), 403),
        id="open the edit form of someone else's post",
    ),
    pytest.param(
        Refusal(
            "post",
            lambda w: w.url("edit_post", 1),
            403,
            EDIT,
            settings={"SALA_EDIT_WINDOW_MINUTES": 0},
        ),
        id="edit with an edit window of 0 minutes",
    ),
    pytest.param(
        Refusal("post", lambda w: w.url("edit_post", 1), 403, EDIT, prepare=age_first_post),
        id="edit a post older than the edit window",
    ),
    pytest.param(
        Refusal("post", lambda w: w.url("edit_post", 1), 302, EDIT, guest=True),
        id="edit as a guest",
    ),
    pytest.param(
        Refusal("post", lambda w: w.url("delete_post", 2), 403),
        id="delete someone else's post",
    ),
    pytest.param(
        Refusal("get", lambda w: w.url("delete_post", 2), 403),
        id="open the delete page of someone else's post",
    ),
    pytest.param(
        Refusal("post", lambda w: w.url("delete_post", 1), 403),
        id="delete your own topic after someone replied",
    ),
    pytest.param(
        Refusal("post", lambda w: w.url("recommend_post", 2), 403),
        id="recommend a post without being a moderator",
    ),
    pytest.param(
        Refusal("post", lambda w: w.url("recommend_post", 2), 403, {"recommend": "0"}),
        id="stop recommending a post without being a moderator",
    ),
    pytest.param(
        Refusal("post", lambda w: w.url("recommend_post", 2), 302, guest=True),
        id="recommend a post as a guest",
    ),
    pytest.param(
        Refusal("post", lambda w: w.url("edit_post", 99), 404, EDIT),
        id="edit a post that does not exist",
    ),
]


@pytest.mark.parametrize("refusal", REFUSALS)
def test_a_forbidden_write_is_refused_and_writes_nothing(
    client: Client, world: World, settings: Any, refusal: Refusal
) -> None:
    refusal.prepare(world)
    world.refresh()
    for name, value in refusal.settings.items():
        setattr(settings, name, value)
    if refusal.guest:
        client.logout()
    url = refusal.url(world)
    before = database_state()

    response = getattr(client, refusal.method)(url, refusal.data)

    assert response.status_code == refusal.status
    if refusal.guest:
        login = reverse("account_login")
        assert response["Location"].startswith(f"{login}?next="), response["Location"]
    else:
        page_of(response, refusal.status)
    assert_nothing_written(before)


# --- Bad query strings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "page",
    ["abc", "0", "-1", "99999", "1.5", "", "9" * 30, "²", "\u0661"],
    ids=[
        "letters",
        "zero",
        "negative",
        "past the end",
        "a fraction",
        "empty",
        "30 digits",
        "superscript two",
        "Arabic-Indic one",
    ],
)
def test_a_topic_page_that_is_not_a_page_number_is_not_found(
    client: Client, world: World, page: str
) -> None:
    response = client.get(world.topic.get_absolute_url(), {"page": page})

    page_of(response, 404)


@pytest.mark.parametrize(
    "quote",
    ["abc", "-1", "99", "²", "9" * 30],
    ids=["letters", "negative", "no such post", "superscript two", "30 digits"],
)
def test_quoting_a_post_that_is_not_there_opens_an_empty_reply_box(
    client: Client, world: World, quote: str
) -> None:
    response = client.get(world.topic.get_absolute_url(), {"quote": quote})

    assert page_of(response).value_of("text") == ""


@pytest.mark.parametrize(
    "forum",
    ["abc", "999999", "²", "9" * 30],
    ids=["letters", "no such forum", "superscript two", "30 digits"],
)
def test_starting_a_topic_in_a_forum_that_is_not_there_offers_every_forum(
    client: Client, world: World, forum: str
) -> None:
    response = client.get(NEW_TOPIC, {"forum": forum})

    assert page_of(response).selected("forum") in ([], [""])


@pytest.mark.parametrize(
    "after",
    ["abc", "_", "2026-01-01T00:00:00+00:00_abc", "2026-01-01T00:00:00+00:00_²"],
    ids=["letters", "separator only", "topic id of letters", "topic id of superscript two"],
)
def test_a_forum_page_with_a_garbled_cursor_shows_the_first_page(
    client: Client, world: World, after: str
) -> None:
    response = client.get(world.forum.get_absolute_url(), {"after": after})

    assert world.topic.title in page_of(response).main.text


# --- Odd text that must still post and render -------------------------------------------------

MALFORMED_MARKDOWN = [
    pytest.param("```python\nprint('never closed')\n\nmore text", id="unclosed code fence"),
    pytest.param("~~~\n" * 3 + "`" * 5000, id="5000 backticks"),
    pytest.param(">" * 5000 + " deep", id="5000 nested quotes on one line"),
    pytest.param("\n".join(">" * n + " level" for n in range(1, 200)), id="199 deepening quotes"),
    pytest.param("- " * 2000 + "nested list", id="2000 nested list markers"),
    pytest.param("[" * 5000 + "x" + "]" * 5000, id="5000 nested brackets"),
    pytest.param("*" * 10_000 + "a" + "_" * 10_000, id="20,000 emphasis markers"),
    pytest.param(
        "[a long link](https://example.org/" + "a" * 10_000 + ")", id="link of 10,000 characters"
    ),
    pytest.param(
        "[" + "long words " * 1000 + "](https://example.org/)", id="link text of 11,000 characters"
    ),
    pytest.param("<" * 5000 + "&" * 5000, id="5000 angle brackets and ampersands"),
    pytest.param("| a | b |\n|---|\n| 1 | 2 | 3 |", id="table with mismatched columns"),
    pytest.param("\u202eevil\u200b text\x0b\x0c with controls", id="control and bidi characters"),
]


@pytest.mark.parametrize("text", MALFORMED_MARKDOWN)
def test_malformed_markdown_is_accepted_and_renders(
    client: Client, world: World, text: str
) -> None:
    before = Post.objects.count()

    posted = client.post(world.url("reply"), {**good_reply(world), "text": text})
    assert posted.status_code == 302, "the reply was refused"
    shown = client.get(posted["Location"], follow=True)

    page = page_of(shown)
    assert Post.objects.count() == before + 1
    assert len(page.with_class("post")) == 3
    preview = client.post(
        world.url("reply"), {**good_reply(world), "text": text, "action": "preview"}
    )
    assert page_of(preview).with_class("preview")


# --- Submitting twice -------------------------------------------------------------------------


def test_posting_the_same_reply_form_twice_gives_one_reply_and_both_land_on_it(
    client: Client, world: World
) -> None:
    posts_before = Post.objects.count()
    data = good_reply(world)

    first = client.post(world.url("reply"), data)
    second = client.post(world.url("reply"), data)

    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == f"{world.url('topic')}#post-3"
    assert Post.objects.count() == posts_before + 1
    world.refresh()
    assert world.topic.reply_count == 2
    assert User.objects.get(pk=world.alice.pk).post_count == 2


def test_posting_the_same_new_topic_twice_gives_one_topic_and_both_land_on_it(
    client: Client, world: World
) -> None:
    data = good_topic(world)
    topics_before = Topic.objects.count()

    first = client.post(NEW_TOPIC, data)
    second = client.post(NEW_TOPIC, data)

    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Topic.objects.count() == topics_before + 1
    world.forum.refresh_from_db()
    assert world.forum.topic_count == 2
    assert world.forum.post_count == 3


# --- Script in titles and posts ---------------------------------------------------------------

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    '"><script>alert(1)</script>',
    "'><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "</textarea><script>alert(1)</script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<img src=x onerror=alert(1)>",
    '<img src="x" onerror="alert(1)">',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text y="20">x</text></a></svg>',
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<p style="background:url(javascript:alert(1))">styled</p>',
    "<style>*{background:url(javascript:alert(1))}</style>",
    '<a href="javascript:alert(1)">click</a>',
    '<a href="https://example.org" onclick="alert(1)">click</a>',
    "<details open ontoggle=alert(1)>",
    "<body onload=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    '<form action="javascript:alert(1)"><button>go</button></form>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<!--<img src=x onerror=alert(1)>-->",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](java&#x09;script:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    "![x](data:image/svg+xml,<svg onload=alert(1)>)",
    '![x](https://example.org/x.png "a" onerror="alert(1)")',
    '[x](https://example.org/ "title" onmouseover="alert(1)")',
    "<javascript:alert(1)>",
    '<https://example.org/"onmouseover="alert(1)>',
    'https://example.org/?q="><script>alert(1)</script>',
    "[x]: javascript:alert(1)\n\n[click][x]",
    "`<script>alert(1)</script>`",
    "```html\n<script>alert(1)</script>\n```",
    "@<script>alert(1)</script>",
]

#: Attributes that a browser follows or loads as a URL.
URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background", "cite"}
)
DANGEROUS_SCHEMES = ("javascript:", "data:", "vbscript:")


def as_browser_reads(url: str) -> str:
    """Return `url` as a browser reads its scheme: no tabs or newlines, no leading junk."""
    for ignored in "\t\n\r":
        url = url.replace(ignored, "")
    return url.lstrip("".join(map(chr, range(0x21)))).lower()


def assert_inert(page: Page) -> None:
    """Fail if the page holds anything a member's text could make a browser run."""
    for element in page.elements:
        in_main = page.main in element.ancestors()
        if element.tag == "script":
            assert "src" in element.attrs and not in_main, f"script in the page: {element}"
        assert element.tag not in {"iframe", "object", "embed", "base", "frame"}, element
        if in_main:
            assert element.tag not in {"style", "meta", "link"}, element
        for name, value in element.attrs.items():
            assert not name.startswith("on"), f"event handler {name}={value!r} on <{element.tag}>"
            if name in URL_ATTRIBUTES or name == "srcset":
                assert not as_browser_reads(value).startswith(DANGEROUS_SCHEMES), (
                    f"<{element.tag} {name}={value!r}>"
                )
        if any("post__body" in e.classes for e in [element, *element.ancestors()]):
            assert "style" not in element.attrs, f"style in a post: {element}"
            assert element.tag not in {"form", "input", "button", "textarea", "select"}, element


def assert_title_escaped(page: Page, title: str) -> None:
    assert escape(title) in page.html
    if "<" in title:
        assert title not in page.html, "the title came back unescaped"


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_script_posted_as_title_and_body_never_runs_on_any_page(
    client: Client, world: World, payload: str
) -> None:
    data = {**good_topic(world), "title": payload, "text": payload}
    title = " ".join(payload.split())

    preview = page_of(client.post(NEW_TOPIC, {**data, "action": "preview"}))
    assert_inert(preview)
    posted = client.post(NEW_TOPIC, data)

    if posted.status_code == 200:  # refused: the form comes back, still inert
        refused = page_of(posted)
        assert_inert(refused)
        assert_title_escaped(refused, payload)
        return
    assert posted.status_code == 302
    topic_page = page_of(client.get(posted["Location"]))
    assert_inert(topic_page)
    assert_title_escaped(topic_page, title)
    (heading,) = [e for e in topic_page.elements if e.tag == "h1"]
    assert heading.text == title
    for listing in (world.forum.get_absolute_url(), reverse("forums:index")):
        listing_page = page_of(client.get(listing))
        assert_inert(listing_page)
        assert_title_escaped(listing_page, title)


@pytest.mark.parametrize(
    "source_url",
    [
        'https://example.org/"onmouseover="alert(1)',
        'https://example.org/"><script>alert(1)</script>',
        "https://example.org/'><img src=x onerror=alert(1)>",
        "https://example.org/#javascript:alert(1)",
    ],
)
def test_an_accepted_source_address_comes_out_as_an_inert_link(
    client: Client, world: World, source_url: str
) -> None:
    posted = client.post(NEW_TOPIC, {**good_topic(world), "source_url": source_url})

    if posted.status_code == 200:
        assert_only_errors_at(page_of(posted), {"source_url": NOT_A_WEB_ADDRESS})
        return
    page = page_of(client.get(posted["Location"]))
    assert_inert(page)
    (read_more,) = [e for e in page.elements if e.tag == "a" and e.text == "read more"]
    assert unquote(read_more.attrs["href"]) == source_url
