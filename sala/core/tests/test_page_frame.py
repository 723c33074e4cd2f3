"""The frame around every page, as guests and members meet it."""

import re
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from sala.accounts import services
from sala.accounts.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def member() -> User:
    return services.create_member(
        username="marta", email="marta@example.org", password=None, display_name="Marta Q"
    )


@pytest.mark.parametrize("path", ["/", "/u/marta/"])
def test_a_guest_reading_gets_no_cookie_and_writes_no_session(
    client: Client, member: User, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.cookies == {}
    assert "Set-Cookie" not in response.headers
    assert Session.objects.count() == 0


def test_the_skip_link_is_the_first_focusable_element_and_targets_main(client: Client) -> None:
    html = client.get("/").content.decode()
    first_focusable = re.search(r"<(a|button|input|select|textarea|summary)\b[^>]*>", html)
    assert first_focusable is not None
    assert 'href="#content"' in first_focusable.group(0)
    assert '<main id="content" tabindex="-1">' in html


def test_a_guest_sees_create_new_and_sign_in_and_sign_up(client: Client) -> None:
    html = client.get("/").content.decode()
    assert "Create New..." in html
    assert ">Sign In</a>" in html
    assert ">Sign Up</a>" in html


def test_a_member_sees_their_menu_instead_of_sign_in(client: Client, member: User) -> None:
    client.force_login(member)
    html = client.get("/").content.decode()
    assert "Marta Q" in html
    assert "Sign Out" in html
    assert ">Sign In</a>" not in html


def test_pages_carry_a_content_security_policy_without_inline_scripts(client: Client) -> None:
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert not re.search(r"<script(?![^>]*\bsrc=)", response.content.decode())
    assert not re.search(r"<[^>]+\son[a-z]+=", response.content.decode())


def test_times_are_shown_in_the_members_time_zone(client: Client, member: User) -> None:
    member.date_joined = datetime(2026, 1, 1, 20, 0, tzinfo=UTC)
    member.save()
    assert "Jan. 1, 2026, 8 p.m." in client.get("/u/marta/").content.decode()

    reader = services.create_member(username="kenji", email="kenji@example.org", password=None)
    reader.time_zone = "Asia/Tokyo"
    reader.save()
    client.force_login(reader)
    assert "Jan. 2, 2026, 5 a.m." in client.get("/u/marta/").content.decode()


def write_mo(path: Path, messages: dict[str, str]) -> None:
    """Write a GNU gettext catalogue (.mo) holding `messages`."""
    catalogue = {"": "Content-Type: text/plain; charset=UTF-8\n", **messages}
    keys = sorted(catalogue)
    ids = b"".join(k.encode() + b"\0" for k in keys)
    strs = b"".join(catalogue[k].encode() + b"\0" for k in keys)
    header_size = 7 * 4 + 16 * len(keys)
    offsets, position = [], 0
    for key in keys:
        offsets.append((len(key.encode()), header_size + position))
        position += len(key.encode()) + 1
    str_offsets, position = [], 0
    for key in keys:
        value = catalogue[key].encode()
        str_offsets.append((len(value), header_size + len(ids) + position))
        position += len(value) + 1
    output = struct.pack("<7I", 0x950412DE, 0, len(keys), 28, 28 + 8 * len(keys), 0, 0)
    output += b"".join(struct.pack("<2I", *o) for o in offsets)
    output += b"".join(struct.pack("<2I", *o) for o in str_offsets)
    path.parent.mkdir(parents=True)
    path.write_bytes(output + ids + strs)


def test_a_second_language_is_added_by_dropping_in_a_catalogue(
    client: Client, settings: Any, tmp_path: Path
) -> None:
    write_mo(
        tmp_path / "fr/LC_MESSAGES/django.mo",
        {"Jump to content": "Aller au contenu", "Create New...": "Créer..."},
    )
    settings.LOCALE_PATHS = [tmp_path]  # Django drops its loaded catalogues on this change
    html = client.get("/", headers={"accept-language": "fr"}).content.decode()
    assert "Aller au contenu" in html
    assert "Créer..." in html
    assert '<html lang="fr"' in html
