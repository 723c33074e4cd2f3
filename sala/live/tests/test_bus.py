"""The live bus: the same behaviour in-process and through Redis."""

import asyncio
import logging
import sys
import textwrap
import time
import uuid
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest
import redis
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from pytest_django.fixtures import Settings

from conftest import REDIS_TEST_URL, run_async
from sala.live import bus as bus_module
from sala.live.bus import Bus, Event, LocalBus, RedisBus, get_bus, publish_on_commit
from sala.live.tests.redis_outage import Outage, eventually

CLOSED_PORT_URL = "redis://127.0.0.1:1"
TOPIC = 7
FORUM = 3
QUEUE_SIZE = 8


def run[T](scenario: Coroutine[Any, Any, T]) -> T:
    """Run `scenario` on a fresh event loop, failing rather than hanging the suite."""
    return run_async(asyncio.wait_for(scenario, timeout=10))


def reply(post_id: int, topic_id: int = TOPIC) -> Event:
    return Event(kind="reply", topic_id=topic_id, data={"post_id": post_id})


def forum_reply(post_id: int, topic_id: int = TOPIC, forum_id: int = FORUM) -> Event:
    return Event(kind="reply", topic_id=topic_id, data={"post_id": post_id}, forum_id=forum_id)


def unique_prefix() -> str:
    return f"test:{uuid.uuid4().hex}:live:"


@pytest.fixture
def redis_url(redis_client: redis.Redis) -> str:
    return REDIS_TEST_URL


@pytest.fixture(params=["in-process", "redis"])
def bus(request: pytest.FixtureRequest) -> Bus:
    if request.param == "in-process":
        return LocalBus(queue_size=QUEUE_SIZE)
    url: str = request.getfixturevalue("redis_url")
    return RedisBus(url, prefix=unique_prefix(), queue_size=QUEUE_SIZE)


@pytest.fixture(autouse=True)
def fresh_bus() -> Iterator[None]:
    get_bus.cache_clear()
    yield
    get_bus.cache_clear()


def test_a_subscriber_receives_events_for_its_topic_only(bus: Bus) -> None:
    async def scenario() -> list[Event | None]:
        async with bus.subscribe(TOPIC) as subscription:
            bus.publish(reply(1, topic_id=TOPIC + 1))
            bus.publish(reply(2))
            return [await subscription.next(2), await subscription.next(0.2)]

    assert run(scenario()) == [reply(2), None]


def test_a_forum_subscriber_receives_the_events_that_name_its_forum_only(bus: Bus) -> None:
    async def scenario() -> list[Event | None]:
        async with bus.subscribe_forum(FORUM) as subscription:
            bus.publish(forum_reply(1, forum_id=FORUM + 1))
            bus.publish(reply(2))  # names no forum: for its topic's pages only
            bus.publish(forum_reply(3, topic_id=TOPIC + 1))
            return [await subscription.next(2), await subscription.next(0.2)]

    assert run(scenario()) == [forum_reply(3, topic_id=TOPIC + 1), None]


def test_an_event_that_names_a_forum_still_reaches_its_topic_once(bus: Bus) -> None:
    async def scenario() -> list[Event | None]:
        async with bus.subscribe(TOPIC) as topic, bus.subscribe_forum(FORUM) as forum:
            bus.publish(forum_reply(1))
            return [
                await topic.next(2),
                await forum.next(2),
                await topic.next(0.2),
                await forum.next(0.2),
            ]

    assert run(scenario()) == [forum_reply(1), forum_reply(1), None, None]


def test_a_topic_and_a_forum_with_the_same_id_have_channels_of_their_own(bus: Bus) -> None:
    async def scenario() -> list[Event | None]:
        async with bus.subscribe(FORUM) as topic, bus.subscribe_forum(TOPIC) as forum:
            bus.publish(forum_reply(1, topic_id=TOPIC, forum_id=FORUM))
            return [await topic.next(0.3), await forum.next(0.3)]

    assert run(scenario()) == [None, None]


def test_events_arrive_in_the_order_they_were_published(bus: Bus) -> None:
    async def scenario() -> list[Event]:
        async with bus.subscribe(TOPIC) as subscription:
            for post_id in range(5):
                bus.publish(reply(post_id))
            received = []
            async for event in subscription:
                received.append(event)
                if len(received) == 5:
                    return received
        raise AssertionError("the subscription ended")

    assert run(scenario()) == [reply(post_id) for post_id in range(5)]


def test_an_event_published_from_another_thread_arrives(bus: Bus) -> None:
    async def scenario() -> Event | None:
        async with bus.subscribe(TOPIC) as subscription:
            # As a WSGI worker thread does, after its commit.
            await asyncio.to_thread(bus.publish, reply(1))
            return await subscription.next(2)

    assert run(scenario()) == reply(1)


def test_two_subscribers_both_receive_an_event(bus: Bus) -> None:
    async def scenario() -> list[Event | None]:
        async with bus.subscribe(TOPIC) as first, bus.subscribe(TOPIC) as second:
            bus.publish(reply(1))
            return [await first.next(2), await second.next(2)]

    assert run(scenario()) == [reply(1), reply(1)]


def test_one_subscriber_leaving_does_not_deafen_another(bus: Bus) -> None:
    async def scenario() -> list[Event | None]:
        async with bus.subscribe(TOPIC) as staying:
            async with bus.subscribe(TOPIC):
                pass
            bus.publish(reply(1))
            return [await staying.next(2)]

    assert run(scenario()) == [reply(1)]


def test_the_in_process_bus_forgets_subscribers_that_left() -> None:
    bus = LocalBus()

    async def scenario() -> None:
        async with bus.subscribe(TOPIC), bus.subscribe(TOPIC + 1), bus.subscribe_forum(TOPIC):
            assert len(bus._inboxes) == 3

    run(scenario())

    assert bus._inboxes == {}


def test_the_redis_bus_lets_go_of_its_connection_when_the_last_subscriber_leaves(
    redis_url: str,
) -> None:
    bus = RedisBus(redis_url, prefix=unique_prefix())

    async def scenario() -> None:
        async with bus.subscribe(TOPIC), bus.subscribe(TOPIC + 1), bus.subscribe_forum(FORUM):
            assert len(bus._hubs) == 1, "subscriptions on one loop share one connection"

    run(scenario())

    assert bus._hubs == {}


def test_next_returns_none_after_the_timeout_when_nothing_happens(bus: Bus) -> None:
    async def scenario() -> tuple[Event | None, float]:
        async with bus.subscribe(TOPIC) as subscription:
            started = time.monotonic()
            event = await subscription.next(0.2)
            return event, time.monotonic() - started

    event, waited = run(scenario())

    assert event is None
    assert 0.15 <= waited < 1


def test_publishing_with_nobody_listening_is_harmless(bus: Bus) -> None:
    bus.publish(reply(1))

    async def scenario() -> Event | None:
        async with bus.subscribe(TOPIC) as subscription:
            return await subscription.next(0.2)

    assert run(scenario()) is None, "an event is not kept for later subscribers"


def test_a_slow_reader_keeps_only_the_latest_events(bus: Bus) -> None:
    async def scenario() -> list[Event]:
        async with bus.subscribe(TOPIC) as subscription:
            for post_id in range(3 * QUEUE_SIZE):
                bus.publish(reply(post_id))
            await asyncio.sleep(0.3)
            received = []
            while event := await subscription.next(0.1):
                received.append(event)
            return received

    assert run(scenario()) == [reply(post_id) for post_id in range(2 * QUEUE_SIZE, 3 * QUEUE_SIZE)]


def test_a_subscription_is_healthy_while_its_backend_answers(bus: Bus) -> None:
    async def scenario() -> bool:
        async with bus.subscribe(TOPIC) as subscription:
            return subscription.healthy

    assert run(scenario())


def test_data_that_cannot_cross_processes_is_refused(bus: Bus) -> None:
    with pytest.raises(TypeError):
        bus.publish(Event(kind="reply", topic_id=TOPIC, data={"when": object()}))


class RefusedWrite(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_write_announces_nothing_to_its_topic_or_forum(
    bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bus_module, "get_bus", lambda: bus)
    User = get_user_model()

    def write_twice() -> None:
        # In a thread of its own with its own connection, as a WSGI worker would.
        try:
            with pytest.raises(RefusedWrite), transaction.atomic():
                User.objects.create(username="rolled-back")
                publish_on_commit(forum_reply(1))
                raise RefusedWrite
            with transaction.atomic():
                User.objects.create(username="committed")
                publish_on_commit(forum_reply(2))
        finally:
            connection.close()

    async def scenario() -> list[Event | None]:
        async with bus.subscribe(TOPIC) as topic, bus.subscribe_forum(FORUM) as forum:
            await asyncio.to_thread(write_twice)
            return [
                await topic.next(2),
                await topic.next(0.2),
                await forum.next(2),
                await forum.next(0.2),
            ]

    assert run(scenario()) == [forum_reply(2), None, forum_reply(2), None]
    assert list(User.objects.values_list("username", flat=True)) == ["committed"]


def test_data_that_cannot_cross_processes_is_refused_before_the_commit() -> None:
    with pytest.raises(TypeError):
        publish_on_commit(Event(kind="reply", topic_id=TOPIC, data={"when": object()}))


def test_redis_bus_reports_unhealthy_when_redis_is_unreachable_and_publish_does_not_raise(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = RedisBus(CLOSED_PORT_URL, prefix=unique_prefix())

    async def scenario() -> tuple[bool, Event | None]:
        async with bus.subscribe(TOPIC) as subscription:
            bus.publish(reply(1))
            bus.publish(reply(2))
            return subscription.healthy, await subscription.next(0.1)

    with caplog.at_level(logging.WARNING, logger="sala.live.bus"):
        assert run(scenario()) == (False, None)

    messages = [record.getMessage() for record in caplog.records]
    assert sum("not being sent" in message for message in messages) == 1, messages
    assert sum("paused" in message for message in messages) == 1, messages


def test_events_cross_processes(redis_url: str) -> None:
    prefix = unique_prefix()
    bus = RedisBus(redis_url, prefix=prefix)
    publisher = textwrap.dedent(
        f"""
        from sala.live.bus import Event, RedisBus

        RedisBus({redis_url!r}, prefix={prefix!r}).publish(
            Event(kind="reply", topic_id={TOPIC}, data={{"post_id": 1, "by": "another process"}})
        )
        """
    )

    async def scenario() -> Event | None:
        async with bus.subscribe(TOPIC) as subscription:
            process = await asyncio.create_subprocess_exec(sys.executable, "-c", publisher)
            assert await process.wait() == 0
            return await subscription.next(2)

    assert run(scenario()) == Event(
        kind="reply", topic_id=TOPIC, data={"post_id": 1, "by": "another process"}
    )


def test_forum_events_cross_processes(redis_url: str) -> None:
    prefix = unique_prefix()
    bus = RedisBus(redis_url, prefix=prefix)
    publisher = textwrap.dedent(
        f"""
        from sala.live.bus import Event, RedisBus

        RedisBus({redis_url!r}, prefix={prefix!r}).publish(
            Event(kind="topic", topic_id={TOPIC}, data={{"number": 1}}, forum_id={FORUM})
        )
        """
    )

    async def scenario() -> Event | None:
        async with bus.subscribe_forum(FORUM) as subscription:
            process = await asyncio.create_subprocess_exec(sys.executable, "-c", publisher)
            assert await process.wait() == 0
            return await subscription.next(2)

    assert run(scenario()) == Event(
        kind="topic", topic_id=TOPIC, data={"number": 1}, forum_id=FORUM
    )


def test_a_subscriber_resumes_after_redis_comes_back(redis_url: str) -> None:
    prefix = unique_prefix()
    publishing = RedisBus(redis_url, prefix=prefix)

    async def scenario() -> list[Any]:
        outage = Outage(upstream_port=6379)
        await outage.restore()
        listening = RedisBus(f"redis://127.0.0.1:{outage.port}/15", prefix=prefix)
        try:
            async with listening.subscribe(TOPIC) as subscription:
                seen: list[Any] = [subscription.healthy]
                await outage.cut()
                await eventually(lambda: not subscription.healthy)
                seen.append(subscription.healthy)
                await outage.restore()
                await eventually(lambda: subscription.healthy)
                publishing.publish(reply(1))
                seen.append(await subscription.next(2))
                return seen
        finally:
            await outage.cut()

    assert run(scenario()) == [True, False, reply(1)]


def test_the_bus_is_in_process_without_redis_url(settings: Settings) -> None:
    settings.REDIS_URL = ""

    assert isinstance(get_bus(), LocalBus)
    assert get_bus() is get_bus()


def test_the_bus_goes_through_redis_with_a_redis_url(settings: Settings) -> None:
    settings.REDIS_URL = REDIS_TEST_URL

    assert isinstance(get_bus(), RedisBus)
