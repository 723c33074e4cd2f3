"""A forum page's live stream: which of its topics have new activity, and what it refuses."""

import asyncio
import json
import re
from collections.abc import Awaitable, Callable

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings

from conftest import in_thread, run_async
from sala.accounts.tests.factories import make_member
from sala.forums import selectors, services
from sala.forums.models import Forum, Topic
from sala.forums.tests.factories import make_forum, make_topic
from sala.live import stream
from sala.live.bus import get_bus
from sala.live.presence import get_presence
from sala.live.tests.asgi_client import request
from sala.live.tests.redis_outage import Outage

# Streams read the database from their own thread pool, so data must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

#: What a forum stream sends once it hears everything: a write after it must arrive.
LISTENING = ": listening"


def committed(write: Callable[[], object]) -> Callable[[], Awaitable[object]]:
    """Return an action that runs `write` in a thread of its own, as a WSGI worker would."""

    def in_worker() -> object:
        try:
            return write()
        finally:
            connection.close()

    async def action() -> object:
        return await asyncio.to_thread(in_worker)

    return action


def reported_topics(body: str) -> list[list[int]]:
    """Return the topic ids of each `activity` event in a stream's `body`, in order."""
    return [
        json.loads(data)["topics"]
        for data in re.findall(r"^event: activity\nid: \d+\ndata: (.*)$", body, re.MULTILINE)
    ]


def reply_to(topic: Topic, text: str = "A reply.") -> Callable[[], object]:
    author = make_member(username=f"replier{topic.pk}")
    return lambda: services.reply(topic=topic, author=author, text=text)


def test_a_reply_committed_in_the_forum_reaches_its_open_forum_stream() -> None:
    forum = make_forum()
    topic = make_topic(forum=forum)

    answer = run_async(
        request(
            f"/live/f/{forum.pk}/",
            when_seen=(LISTENING, committed(reply_to(topic))),
            read_until="event: activity",
        )
    )

    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert reported_topics(answer.body) == [[topic.pk]]
    assert "event: browsing" not in answer.body, "a forum page browses no topic"
    assert get_presence().browsing(topic.pk).guest_count == 0


def test_a_topic_started_in_the_forum_reaches_its_open_forum_stream() -> None:
    forum = make_forum()
    author = make_member(username="starter")

    def start() -> Topic:
        return services.create_topic(forum=forum, author=author, title="Fresh", text="News.")

    answer = run_async(
        request(
            f"/live/f/{forum.pk}/",
            when_seen=(LISTENING, committed(start)),
            read_until="event: activity",
        )
    )

    started = Topic.objects.get(title="Fresh")
    assert reported_topics(answer.body) == [[started.pk]]


def test_a_reply_in_another_forum_is_not_heard() -> None:
    forum, elsewhere = make_forum(name="Here"), make_forum(name="Elsewhere")
    topic, other = make_topic(forum=forum), make_topic(forum=elsewhere)

    def reply_elsewhere_then_here() -> None:
        reply_to(other)()
        reply_to(topic)()

    answer = run_async(
        request(
            f"/live/f/{forum.pk}/",
            when_seen=(LISTENING, committed(reply_elsewhere_then_here)),
            read_until="event: activity",
        )
    )

    assert reported_topics(answer.body) == [[topic.pk]]


class RefusedWrite(Exception):
    pass


def test_a_rolled_back_reply_is_not_announced() -> None:
    forum = make_forum()
    rolled_back, committed_to = make_topic(forum=forum), make_topic(forum=forum)

    def roll_back_then_commit() -> None:
        with pytest.raises(RefusedWrite), transaction.atomic():
            reply_to(rolled_back)()
            raise RefusedWrite
        reply_to(committed_to)()

    answer = run_async(
        request(
            f"/live/f/{forum.pk}/",
            when_seen=(LISTENING, committed(roll_back_then_commit)),
            read_until="event: activity",
        )
    )

    assert reported_topics(answer.body) == [[committed_to.pk]]
    assert Topic.objects.get(pk=rolled_back.pk).reply_count == 0


def test_a_burst_of_replies_is_one_report() -> None:
    forum = make_forum()
    first, second, later = (make_topic(forum=forum) for _ in range(3))
    burst = [reply_to(first), reply_to(second)]

    async def burst_then_pause_then_one_more() -> None:
        await committed(lambda: [burst[n % 2]() for n in range(10)])()
        await asyncio.sleep(stream.FOLD_FOR * 2)
        await committed(reply_to(later))()

    answer = run_async(
        request(
            f"/live/f/{forum.pk}/",
            when_seen=(LISTENING, burst_then_pause_then_one_more),
            read_until=f"[{later.pk}]",
        )
    )

    assert reported_topics(answer.body) == [sorted([first.pk, second.pk]), [later.pk]]


def test_activity_since_the_page_was_rendered_is_reported_when_the_stream_opens() -> None:
    forum = make_forum()
    quiet, busy = make_topic(forum=forum), make_topic(forum=forum)
    rendered = selectors.micros(timezone.now())
    reply_to(busy)()

    answer = run_async(request(f"/live/f/{forum.pk}/?since={rendered}", read_until=LISTENING))

    assert reported_topics(answer.body) == [[busy.pk]]
    assert quiet.pk not in reported_topics(answer.body)[0]


def test_a_reconnecting_stream_catches_up_from_its_last_report_not_from_the_page() -> None:
    forum = make_forum()
    early, late = make_topic(forum=forum), make_topic(forum=forum)
    rendered = selectors.micros(timezone.now())
    reply_to(early)()
    first = run_async(request(f"/live/f/{forum.pk}/?since={rendered}", read_until=LISTENING))
    last_report = re.findall(r"^id: (\d+)$", first.body, re.MULTILINE)[-1]
    # A report resumes a margin before it was made: put the early reply behind that,
    # as it is for a page that reconnects more than a moment later.
    Topic.objects.filter(pk=early.pk).update(
        last_post_at=selectors.parse_micros(last_report) - stream.CATCH_UP_MARGIN  # type: ignore[operator]
    )
    reply_to(late)()

    again = run_async(
        request(
            f"/live/f/{forum.pk}/?since={rendered}",
            headers={"last-event-id": last_report},
            read_until=LISTENING,
        )
    )

    assert reported_topics(again.body) == [[late.pk]]


def test_a_stream_opened_without_a_moment_reports_only_what_comes() -> None:
    forum = make_forum()
    topic = make_topic(forum=forum)
    reply_to(topic)()

    for path in (f"/live/f/{forum.pk}/", f"/live/f/{forum.pk}/?since=yesterday"):
        answer = run_async(request(path, read_until=LISTENING))
        assert reported_topics(answer.body) == [], path


def test_a_forged_forum_id_in_the_stream_url_is_not_found(client: Client) -> None:
    for path in ("/live/f/abc/", "/live/f/99999999999999999999999/", "/live/f/1/x/", "/live/f/"):
        answer = run_async(request(path))
        assert answer.status == 404, path
        assert "no live stream at this address" in answer.body
    answer = run_async(request("/live/f/999999999999999999/"))
    assert answer.status == 404
    assert "This forum does not exist or is not visible." in answer.body
    assert in_thread(client.get, "/live/f/abc/").status_code == 404
    assert in_thread(client.get, "/live/f/999999999999999999/").status_code == 404


def test_a_stream_for_a_deleted_forum_is_a_404(client: Client) -> None:
    forum = make_forum()
    path = f"/live/f/{forum.pk}/"
    Forum.objects.filter(pk=forum.pk).delete()

    answer = run_async(request(path))

    assert answer.status == 404
    assert "This forum does not exist or is not visible." in answer.body
    assert in_thread(client.get, path).status_code == 404


def test_a_forum_stream_reached_through_wsgi_tells_the_browser_not_to_retry(
    client: Client,
) -> None:
    forum = make_forum()
    assert in_thread(client.get, f"/live/f/{forum.pk}/").status_code == 204


def test_a_forum_stream_is_only_read() -> None:
    forum = make_forum()

    answer = run_async(request(f"/live/f/{forum.pk}/", method="POST"))

    assert answer.status == 405


def test_forum_streams_count_against_the_same_allowances(settings: Settings) -> None:
    forum = make_forum()
    settings.SALA_LIVE_STREAMS_PER_ADDRESS = 0

    answer = run_async(request(f"/live/f/{forum.pk}/"))

    assert answer.status == 429
    assert "Too many live pages are open" in answer.body


def test_a_closed_forum_stream_gives_its_place_back(settings: Settings) -> None:
    forum = make_forum()
    settings.SALA_LIVE_STREAMS_PER_ADDRESS = 1

    first = run_async(request(f"/live/f/{forum.pk}/", read_until=LISTENING))
    second = run_async(request(f"/live/f/{forum.pk}/", read_until=LISTENING))

    assert (first.status, second.status) == (200, 200)


def test_a_page_of_this_site_on_another_port_may_read_a_forum_stream() -> None:
    forum = make_forum()
    origin = "http://testserver:8000"

    answer = run_async(
        request(f"/live/f/{forum.pk}/", headers={"origin": origin}, read_until=LISTENING)
    )

    assert answer.status == 200
    assert answer.headers["access-control-allow-origin"] == origin


def test_a_page_of_another_site_may_not_open_a_forum_stream() -> None:
    forum = make_forum()

    answer = run_async(request(f"/live/f/{forum.pk}/", headers={"origin": "https://evil.example"}))

    assert answer.status == 403
    assert "access-control-allow-origin" not in answer.headers


def test_a_forum_stream_for_a_host_this_site_does_not_serve_is_refused() -> None:
    forum = make_forum()

    answer = run_async(request(f"/live/f/{forum.pk}/", headers={"host": "evil.example"}))

    assert answer.status == 400


def test_activity_while_the_bus_is_down_is_reported_when_it_comes_back(
    redis_client: object, settings: Settings
) -> None:
    forum = make_forum()
    topic = make_topic(forum=forum)

    async def scenario() -> str:
        outage = Outage(upstream_port=6379)
        await outage.restore()
        settings.REDIS_URL = f"redis://127.0.0.1:{outage.port}/15"
        get_bus.cache_clear()  # writing the topic above chose the in-process bus

        async def reply_while_down() -> None:
            await outage.cut()
            await asyncio.sleep(stream.HEALTH_CHECK_EVERY * 1.5)
            await committed(reply_to(topic))()  # its event is lost: nobody hears Redis
            await outage.restore()

        try:
            answer = await request(
                f"/live/f/{forum.pk}/",
                when_seen=(LISTENING, reply_while_down),
                read_until="event: activity",
                timeout=20,
            )
        finally:
            await outage.cut()
        return answer.body

    body = run_async(scenario())

    paused = body.index('event: status\ndata: {"paused": true}')
    resumed = body.index('event: status\ndata: {"paused": false}')
    assert paused < resumed < body.index("event: activity")
    assert reported_topics(body) == [[topic.pk]]
