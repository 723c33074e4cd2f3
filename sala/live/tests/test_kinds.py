"""Kinds of stream: live serves whatever an app registers, through the app's own hooks."""

from collections.abc import Iterator
from dataclasses import replace

import pytest
from django.http import Http404

from conftest import run_async
from sala.forums import live_streams
from sala.live import kinds
from sala.live.bus import topic_channel
from sala.live.kinds import PresenceKind, register_stream_kind, stream_kind_at
from sala.live.presence import Browsing
from sala.live.tests.asgi_client import request

# Streams call the hooks from their own thread pool.
pytestmark = pytest.mark.django_db(transaction=True)

ROOMS = {7: 12}  # room 7 exists; its newest message is number 12


def check_room(room_id: int, reader: object) -> None:
    if room_id not in ROOMS:
        raise Http404("No such room.")


def render_room_readers(room_id: int, browsing: Browsing) -> str:
    return f"<p>room {room_id}: {browsing.guest_count} guest(s)</p>"


ROOM = PresenceKind(
    name="room",
    letter="r",
    check=check_room,
    missing="No such room here.",
    channel=topic_channel,
    render_presence=render_room_readers,
    numbered_event="message",
    position=ROOMS.__getitem__,
)


@pytest.fixture
def room_kind() -> Iterator[PresenceKind]:
    register_stream_kind(ROOM)
    yield ROOM
    del kinds._kinds[ROOM.letter]


def test_the_forums_register_a_topic_and_a_forum_page() -> None:
    assert stream_kind_at("t") is live_streams.TOPIC
    assert stream_kind_at("f") is live_streams.FORUM


def test_live_serves_a_kind_through_the_hooks_its_app_registered(room_kind: PresenceKind) -> None:
    answer = run_async(
        request("/live/r/7/", headers={"last-event-id": "10"}, read_until="event: message")
    )

    assert answer.status == 200
    assert "room 7: 1 guest(s)" in answer.body
    assert 'event: message\nid: 12\ndata: {"number": 12}' in answer.body


def test_a_target_the_kinds_check_refuses_is_answered_with_its_message(
    room_kind: PresenceKind,
) -> None:
    answer = run_async(request("/live/r/8/"))

    assert answer.status == 404
    assert answer.body == "No such room here."


def test_a_letter_no_kind_registered_names_no_stream() -> None:
    answer = run_async(request("/live/r/7/"))

    assert answer.status == 404
    assert "no live stream at this address" in answer.body


def test_a_second_kind_at_a_registered_letter_is_refused() -> None:
    with pytest.raises(ValueError, match="/live/t/"):
        register_stream_kind(replace(ROOM, letter="t"))
