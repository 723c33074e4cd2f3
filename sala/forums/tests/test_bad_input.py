"""Bad input through the posting forms: refused at the field, kept as typed, nothing written.

Every refusal is checked three ways: the message sits in the error block of the field it
is about (or the answer is a 403, a 404 or the sign-in page, where that is the right one),
the text the member typed comes back in the form, escaped, and the database and the media
folder are exactly as they were: no topic, post, counter bump, revision, upload or file.
Text that is merely odd (malformed Markdown, script in a title) is accepted and must come
out of every page inert.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sala.core.tests.html_pages import (
    assert_kept,
    assert_not_echoed,
    assert_only_errors_at,
    page_of,
)
from sala.core.tests.images import blank_png, noisy_png
from sala.forums.models import Post, Topic
from sala.forums.tests.posting import (
    GOOD_TEXT,
    GOOD_TITLE,
    NEW_TOPIC,
    NOT_A_WEB_ADDRESS,
    World,
    assert_nothing_written,
    database_state,
    good_reply,
    good_topic,
    world_fixture,  # noqa: F401 (the world fixture)
)

pytestmark = pytest.mark.django_db


# --- Posting with bad input -------------------------------------------------------------------


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
