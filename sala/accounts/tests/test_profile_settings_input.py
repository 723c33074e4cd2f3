"""The profile settings form answers bad input at the field, keeps what was typed, saves
nothing; an avatar is stored only as a safe, re-encoded image.

Files are the exception to "keeps what was typed": browsers never re-fill them.
"""

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import FileResponse
from django.http.response import HttpResponseBase
from django.test import Client
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
from sala.core.tests.images import blank_png, encoded, noise, noisy_png

pytestmark = pytest.mark.django_db

PROFILE_SETTINGS = "/settings/profile/"

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def alice() -> User:
    """Alice, signed up with a display name the bad input must leave as it is."""
    return make_member(display_name="Alice")


# --- Profile settings ------------------------------------------------------------------------


@dataclass(frozen=True)
class BadUpload:
    name: str
    content_type: str
    content: Callable[[], bytes]
    message: str
    settings: dict[str, Any] = field(default_factory=dict)


SVG_WITH_SCRIPT = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(1)</script></svg>"
)

NOT_AN_IMAGE = "This file is not a JPEG, PNG, GIF or WebP image."
DAMAGED = "The image is damaged and can't be read."

UPLOAD_CASES = [
    pytest.param(
        BadUpload("avatar.png", "image/png", lambda: b"Just some words.\n", NOT_AN_IMAGE),
        id="text file named .png",
    ),
    pytest.param(
        BadUpload("avatar.svg", "image/svg+xml", lambda: SVG_WITH_SCRIPT, NOT_AN_IMAGE),
        id="SVG with a script",
    ),
    pytest.param(
        BadUpload("avatar.png", "image/png", lambda: SVG_WITH_SCRIPT, NOT_AN_IMAGE),
        id="SVG named .png",
    ),
    pytest.param(
        BadUpload(
            "avatar.bmp",
            "image/bmp",
            lambda: encoded(Image.new("RGB", (32, 32), "teal"), "BMP"),
            NOT_AN_IMAGE,
        ),
        id="BMP image",
    ),
    pytest.param(
        BadUpload("avatar.png", "image/png", lambda: noisy_png()[: len(noisy_png()) // 2], DAMAGED),
        id="PNG cut in half",
    ),
    pytest.param(
        BadUpload(
            "avatar.png",
            "image/png",
            lambda: noisy_png()[:200] + bytes(len(noisy_png()) - 200),
            DAMAGED,
        ),
        id="PNG with its pixels zeroed",
    ),
    pytest.param(
        BadUpload("avatar.png", "image/png", lambda: b"", "The submitted file is empty."),
        id="empty file",
    ),
    pytest.param(
        BadUpload(
            "avatar.png",
            "image/png",
            noisy_png,
            "The file is too large: the limit is 10.0 KB.",
            settings={"SALA_AVATAR_MAX_BYTES": 10 * 1024},
        ),
        id="file over the size limit",
    ),
    pytest.param(
        BadUpload(
            "avatar.png",
            "image/png",
            lambda: blank_png(6000, 6000),
            "The image is too large: 6000 by 6000 pixels; the limit is 25 megapixels.",
        ),
        id="36 megapixels",
    ),
    pytest.param(
        BadUpload(
            "avatar.png",
            "image/png",
            lambda: blank_png(30_000, 30_000),
            "The image is too large: the limit is 25 megapixels.",
        ),
        id="image bomb of 900 megapixels",
    ),
]


@dataclass(frozen=True)
class BadProfile:
    typed: dict[str, str]
    errors: dict[str, str]


#: What the member means to save; each bad case changes some of it.
GOOD_PROFILE = {"display_name": "Alice Liddell", "time_zone": "Europe/Lisbon"}

PROFILE_CASES = [
    pytest.param(
        BadProfile(
            typed={"display_name": "Alice\u202eecilA"},
            errors={"display_name": "can't contain invisible or direction-changing"},
        ),
        id="display name with a right-to-left override",
    ),
    pytest.param(
        BadProfile(
            typed={"display_name": "Ali\u200dce"},
            errors={"display_name": "can't contain invisible or direction-changing"},
        ),
        id="display name with a zero-width joiner",
    ),
    pytest.param(
        BadProfile(
            typed={"display_name": "A" * 51},
            errors={"display_name": "at most 50 characters (it has 51)"},
        ),
        id="display name of 51 characters",
    ),
    pytest.param(
        BadProfile(
            typed={"display_name": "   "},
            errors={"display_name": "Remove the spaces at the start or end."},
        ),
        id="display name of only spaces",
    ),
    pytest.param(
        BadProfile(
            typed={"time_zone": "Mars/Olympus_Mons"},
            errors={"time_zone": "Select a valid choice."},
        ),
        id="unknown time zone",
    ),
    pytest.param(
        BadProfile(typed={"time_zone": ""}, errors={"time_zone": "This field is required."}),
        id="no time zone",
    ),
]


def member_row(member: User) -> dict[str, object]:
    """Return the member's stored row, less the "last seen" time every request touches."""
    row = User.objects.filter(pk=member.pk).values().get()
    return {column: value for column, value in row.items() if column != "last_seen"}


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


def assert_profile_refused(response: HttpResponseBase, typed: dict[str, str]) -> Page:
    assert response.status_code == 200
    page = page_of(response)
    assert_kept(page, typed, "display_name")
    assert SCRIPT not in page.html
    return page


@pytest.mark.parametrize("case", PROFILE_CASES)
def test_profile_with_bad_input_shows_the_error_at_the_field_and_saves_nothing(
    client: Client, alice: User, case: BadProfile
) -> None:
    client.force_login(alice)
    typed = {**GOOD_PROFILE, **case.typed}
    before = member_row(alice)

    response = client.post(PROFILE_SETTINGS, typed)

    page = assert_profile_refused(response, typed)
    assert_only_errors_at(page, case.errors)
    if "time_zone" not in case.errors:
        assert page.selected("time_zone") == [typed["time_zone"]]
    assert member_row(alice) == before
    alice.refresh_from_db()
    assert (alice.display_name, alice.time_zone) == ("Alice", "UTC")


@pytest.mark.parametrize("case", UPLOAD_CASES)
def test_avatar_that_is_not_a_safe_image_is_refused_at_the_field_and_nothing_is_stored(
    client: Client, settings: Any, alice: User, case: BadUpload
) -> None:
    for name, value in case.settings.items():
        setattr(settings, name, value)
    client.force_login(alice)
    upload = SimpleUploadedFile(case.name, case.content(), case.content_type)
    before = member_row(alice)

    response = client.post(PROFILE_SETTINGS, {**GOOD_PROFILE, "avatar": upload})

    page = assert_profile_refused(response, GOOD_PROFILE)
    assert_only_errors_at(page, {"avatar": case.message})
    assert_not_echoed(page, "avatar")
    assert page.selected("time_zone") == [GOOD_PROFILE["time_zone"]]
    assert member_row(alice) == before
    alice.refresh_from_db()
    assert not alice.avatar
    assert files_under(Path(settings.MEDIA_ROOT)) == []


def test_a_photo_becomes_a_256_pixel_webp_without_its_camera_metadata_served_unsniffable(
    client: Client, settings: Any, alice: User
) -> None:
    exif = Image.Exif()
    exif[0x010F] = "SalaTestCamera"  # Make
    exif[0x0131] = "SalaTestSoftware"  # Software
    photo = encoded(
        Image.frombytes("RGB", (640, 480), noise(640 * 480 * 3)), "JPEG", exif=exif.tobytes()
    )
    assert Image.open(io.BytesIO(photo)).getexif()[0x010F] == "SalaTestCamera"
    client.force_login(alice)

    response = client.post(
        PROFILE_SETTINGS,
        {**GOOD_PROFILE, "avatar": SimpleUploadedFile("me.jpg", photo, "image/jpeg")},
    )

    assert response.status_code == 302
    alice.refresh_from_db()
    avatar_name = alice.avatar.name
    assert avatar_name is not None
    assert re.fullmatch(rf"avatars/{alice.pk}/[0-9a-f]{{16}}\.webp", avatar_name)
    with default_storage.open(avatar_name, "rb") as stored_file:
        stored = stored_file.read()
    avatar = Image.open(io.BytesIO(stored))
    assert (avatar.format, avatar.size) == ("WEBP", (256, 256))
    assert not avatar.getexif()
    assert "exif" not in avatar.info
    assert b"SalaTestCamera" not in stored
    assert b"SalaTestSoftware" not in stored
    media_root = Path(settings.MEDIA_ROOT)
    assert files_under(media_root) == [media_root / avatar_name]

    served = client.get(alice.avatar.url)

    assert isinstance(served, FileResponse)
    assert served.status_code == 200
    assert served["Content-Type"] == "image/webp"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served.getvalue() == stored
    served.close()
