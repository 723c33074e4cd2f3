"""The live stream endpoint: what it serves, and its answers to what it refuses."""

import asyncio

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from conftest import in_thread, run_async
from sala.accounts.tests.factories import make_member
from sala.forums.models import Topic
from sala.forums.tests.factories import make_moderator, make_topic
from sala.live.presence import get_presence
from sala.live.tests.asgi_client import request

# Streams read the database from their own thread pool, so data must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


def signed_in_cookie(client: Client, username: str) -> str:
    member = make_member(username=username)
    client.force_login(member)
    return f"sessionid={client.cookies['sessionid'].value}"


def test_an_open_stream_sends_who_is_browsing_and_counts_its_reader() -> None:
    topic = make_topic()

    answer = run_async(request(f"/live/t/{topic.pk}/", read_until="event: browsing"))

    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert answer.body.startswith("retry: 2000")
    assert "1 guest is reading" in answer.body


def test_a_closed_stream_stops_counting_its_reader() -> None:
    topic = make_topic()

    run_async(request(f"/live/t/{topic.pk}/", read_until="event: browsing"))

    assert get_presence().browsing(topic.pk).guest_count == 0


def test_a_signed_in_reader_is_named_in_who_is_browsing(client: Client) -> None:
    topic = make_topic()
    cookie = signed_in_cookie(client, "ingrid")

    answer = run_async(
        request(f"/live/t/{topic.pk}/", headers={"cookie": cookie}, read_until="ingrid")
    )

    assert answer.status == 200
    assert "/u/ingrid/" in answer.body


def test_a_reader_who_missed_replies_is_told_on_reconnecting() -> None:
    topic = make_topic()
    Topic.objects.filter(pk=topic.pk).update(last_number=7)

    answer = run_async(
        request(f"/live/t/{topic.pk}/", headers={"last-event-id": "5"}, read_until="id: 7")
    )

    assert 'event: reply\nid: 7\ndata: {"number": 7}' in answer.body


def test_a_stream_reached_through_wsgi_tells_the_browser_not_to_retry(client: Client) -> None:
    topic = make_topic()
    assert in_thread(client.get, f"/live/t/{topic.pk}/").status_code == 204


def test_a_stream_for_a_missing_or_deleted_topic_is_a_404() -> None:
    topic = make_topic()
    Topic.objects.filter(pk=topic.pk).update(is_deleted=True)

    for path in (f"/live/t/{topic.pk}/", "/live/t/999999/"):
        answer = run_async(request(path))
        assert answer.status == 404
        assert "does not exist or is not visible" in answer.body


def test_a_forged_topic_id_in_the_stream_url_is_not_found(client: Client) -> None:
    for path in ("/live/t/abc/", "/live/t/99999999999999999999999/", "/live/t/1/x/", "/live/"):
        answer = run_async(request(path))
        assert answer.status == 404, path
        assert "no live stream at this address" in answer.body
    assert in_thread(client.get, "/live/t/abc/").status_code == 404


def test_a_stream_is_only_read() -> None:
    topic = make_topic()

    answer = run_async(request(f"/live/t/{topic.pk}/", method="POST"))

    assert answer.status == 405
    assert get_presence().browsing(topic.pk).guest_count == 0


def test_an_address_over_its_stream_allowance_gets_a_clear_429(settings: Settings) -> None:
    topic = make_topic()
    settings.SALA_LIVE_STREAMS_PER_ADDRESS = 0

    answer = run_async(request(f"/live/t/{topic.pk}/"))

    assert answer.status == 429
    assert "Too many live pages are open" in answer.body
    assert get_presence().browsing(topic.pk).guest_count == 0


def test_a_session_over_its_stream_allowance_gets_a_clear_429(
    client: Client, settings: Settings
) -> None:
    topic = make_topic()
    cookie = signed_in_cookie(client, "ingrid")
    settings.SALA_LIVE_STREAMS_PER_SESSION = 0

    member = run_async(request(f"/live/t/{topic.pk}/", headers={"cookie": cookie}))
    guest = run_async(request(f"/live/t/{topic.pk}/", read_until="event: browsing"))

    assert member.status == 429
    assert "Too many live pages are open" in member.body
    assert guest.status == 200  # the same address, without that session


def test_a_closed_stream_gives_its_place_back(settings: Settings) -> None:
    topic = make_topic()
    settings.SALA_LIVE_STREAMS_PER_ADDRESS = 1
    path = f"/live/t/{topic.pk}/"

    first = run_async(request(path, read_until="event: browsing"))
    second = run_async(request(path, read_until="event: browsing"))

    assert (first.status, second.status) == (200, 200)


def test_a_page_of_this_site_on_another_port_may_read_the_stream(settings: Settings) -> None:
    topic = make_topic()
    origin = "http://testserver:8000"

    answer = run_async(
        request(f"/live/t/{topic.pk}/", headers={"origin": origin}, read_until="event: browsing")
    )

    assert answer.status == 200
    assert answer.headers["access-control-allow-origin"] == origin
    assert answer.headers["access-control-allow-credentials"] == "true"


def test_a_page_of_another_site_may_not_open_a_stream() -> None:
    topic = make_topic()

    answer = run_async(request(f"/live/t/{topic.pk}/", headers={"origin": "https://evil.example"}))

    assert answer.status == 403
    assert "access-control-allow-origin" not in answer.headers
    assert get_presence().browsing(topic.pk).guest_count == 0


def test_a_stream_for_a_host_this_site_does_not_serve_is_refused() -> None:
    topic = make_topic()

    answer = run_async(request(f"/live/t/{topic.pk}/", headers={"host": "evil.example"}))

    assert answer.status == 400


def test_visitors_behind_the_sites_proxy_each_have_their_own_allowance(
    settings: Settings,
) -> None:
    topic = make_topic()
    settings.SALA_LIVE_STREAMS_PER_ADDRESS = 1
    path = f"/live/t/{topic.pk}/"

    async def two_visitors() -> tuple[int, int, int]:
        first = asyncio.ensure_future(
            request(
                path,
                client="127.0.0.1",
                headers={"x-forwarded-for": "198.51.100.1"},
                read_until="never",
                timeout=3,
            )
        )
        await asyncio.sleep(0.5)  # the first visitor's stream is open now
        second = await request(
            path,
            client="127.0.0.1",
            headers={"x-forwarded-for": "198.51.100.2"},
            read_until="event: browsing",
        )
        third = await request(path, client="127.0.0.1", headers={"x-forwarded-for": "198.51.100.1"})
        first.cancel()
        return second.status, third.status, 0

    second, third, _ = run_async(two_visitors())

    assert second == 200  # another visitor behind the same proxy
    assert third == 429  # the first visitor again, over their allowance


def test_a_wildcard_allowed_host_does_not_trust_every_origin(settings: Settings) -> None:
    topic = make_topic()
    settings.ALLOWED_HOSTS = ["*"]

    answer = run_async(request(f"/live/t/{topic.pk}/", headers={"origin": "https://evil.example"}))

    assert answer.status == 403
    assert "access-control-allow-origin" not in answer.headers


def test_a_stream_opened_by_following_a_link_is_refused() -> None:
    topic = make_topic()

    answer = run_async(request(f"/live/t/{topic.pk}/", headers={"sec-fetch-mode": "navigate"}))

    assert answer.status == 400
    assert get_presence().browsing(topic.pk).guest_count == 0


def test_a_deleted_topics_stream_opens_only_for_its_forums_moderators(client: Client) -> None:
    topic = make_topic()
    Topic.objects.filter(pk=topic.pk).update(is_deleted=True)
    client.force_login(make_moderator("newsdesk"))
    moderator = f"sessionid={client.cookies['sessionid'].value}"
    member = signed_in_cookie(Client(), "ingrid")

    opened = run_async(
        request(f"/live/t/{topic.pk}/", headers={"cookie": moderator}, read_until="newsdesk")
    )
    refused = run_async(request(f"/live/t/{topic.pk}/", headers={"cookie": member}))
    guest = run_async(request(f"/live/t/{topic.pk}/"))

    assert opened.status == 200
    assert refused.status == guest.status == 404
    assert "This topic does not exist or is not visible." in refused.body
    # Where no live server runs, the same rule answers: 204 (no stream) or 404.
    assert client.get(f"/live/t/{topic.pk}/").status_code == 204
    assert Client().get(f"/live/t/{topic.pk}/").status_code == 404
