"""Recently Browsing: the same behaviour in-process and through Redis."""

import logging
import threading
import uuid
from collections.abc import Iterator

import pytest
import redis
from django.test import RequestFactory
from pytest_django.fixtures import Settings

from conftest import REDIS_TEST_URL
from sala.live.presence import (
    Browsing,
    LocalPresence,
    Presence,
    RedisPresence,
    get_presence,
    visitor_key,
)

CLOSED_PORT_URL = "redis://127.0.0.1:1"
NOW = 1_000_000.0
TOPIC = 7


@pytest.fixture(params=["in-process", "redis"])
def presence(request: pytest.FixtureRequest) -> Iterator[Presence]:
    if request.param == "in-process":
        yield LocalPresence()
        return
    client: redis.Redis = request.getfixturevalue("redis_client")
    prefix = f"test:{uuid.uuid4().hex}:browsing:"
    yield RedisPresence(client, prefix=prefix)
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)


@pytest.fixture(autouse=True)
def fresh_presence() -> Iterator[None]:
    get_presence.cache_clear()
    yield
    get_presence.cache_clear()


def test_nobody_is_browsing_a_topic_nobody_opened(presence: Presence) -> None:
    assert presence.browsing(TOPIC, now=NOW) == Browsing((), 0)


def test_a_member_who_opened_the_topic_is_browsing_it(presence: Presence) -> None:
    presence.touch(TOPIC, member_id=1, visitor_key="a", now=NOW)

    assert presence.browsing(TOPIC, now=NOW) == Browsing((1,), 0)


def test_members_are_listed_most_recent_first(presence: Presence) -> None:
    presence.touch(TOPIC, member_id=1, visitor_key="a", now=NOW - 30)
    presence.touch(TOPIC, member_id=2, visitor_key="b", now=NOW - 20)
    presence.touch(TOPIC, member_id=3, visitor_key="c", now=NOW - 10)
    presence.touch(TOPIC, member_id=1, visitor_key="a", now=NOW)

    assert presence.browsing(TOPIC, now=NOW).member_ids == (1, 3, 2)


def test_a_visitor_older_than_the_window_is_no_longer_browsing(presence: Presence) -> None:
    presence.touch(TOPIC, member_id=1, visitor_key="a", now=NOW - 901)
    presence.touch(TOPIC, member_id=None, visitor_key="b", now=NOW - 901)
    presence.touch(TOPIC, member_id=2, visitor_key="c", now=NOW - 900)
    presence.touch(TOPIC, member_id=None, visitor_key="d", now=NOW - 900)

    assert presence.browsing(TOPIC, within=900, now=NOW) == Browsing((2,), 1)


def test_a_short_window_does_not_forget_visitors_for_a_longer_one(presence: Presence) -> None:
    presence.touch(TOPIC, member_id=1, visitor_key="a", now=NOW - 600)

    assert presence.browsing(TOPIC, within=60, now=NOW) == Browsing((), 0)
    assert presence.browsing(TOPIC, within=900, now=NOW) == Browsing((1,), 0)


def test_guests_are_counted_not_named(presence: Presence) -> None:
    presence.touch(TOPIC, member_id=None, visitor_key="a", now=NOW)
    presence.touch(TOPIC, member_id=None, visitor_key="b", now=NOW)

    assert presence.browsing(TOPIC, now=NOW) == Browsing((), 2)


def test_a_guest_reloading_the_page_is_counted_once(presence: Presence) -> None:
    presence.touch(TOPIC, member_id=None, visitor_key="a", now=NOW - 5)
    presence.touch(TOPIC, member_id=None, visitor_key="a", now=NOW)

    assert presence.browsing(TOPIC, now=NOW) == Browsing((), 1)


def test_a_hidden_member_counts_as_a_guest(presence: Presence) -> None:
    presence.touch(TOPIC, member_id=1, visitor_key="a", hidden=True, now=NOW)

    assert presence.browsing(TOPIC, now=NOW) == Browsing((), 1)


def test_a_hidden_member_on_two_devices_counts_as_one_guest(presence: Presence) -> None:
    presence.touch(TOPIC, member_id=1, visitor_key="phone", hidden=True, now=NOW)
    presence.touch(TOPIC, member_id=1, visitor_key="laptop", hidden=True, now=NOW)

    assert presence.browsing(TOPIC, now=NOW) == Browsing((), 1)


def test_a_member_who_turns_hidden_is_no_longer_named(presence: Presence) -> None:
    presence.touch(TOPIC, member_id=1, visitor_key="a", now=NOW - 5)
    presence.touch(TOPIC, member_id=1, visitor_key="a", hidden=True, now=NOW)

    assert presence.browsing(TOPIC, now=NOW) == Browsing((), 1)


def test_a_guest_who_signs_in_is_counted_once_as_a_member(presence: Presence) -> None:
    presence.touch(TOPIC, member_id=None, visitor_key="a", now=NOW - 5)
    presence.touch(TOPIC, member_id=1, visitor_key="a", now=NOW)

    assert presence.browsing(TOPIC, now=NOW) == Browsing((1,), 0)


def test_a_visitor_who_leaves_is_no_longer_browsing(presence: Presence) -> None:
    presence.touch(TOPIC, member_id=1, visitor_key="a", now=NOW)
    presence.touch(TOPIC, member_id=2, visitor_key="b", hidden=True, now=NOW)
    presence.touch(TOPIC, member_id=None, visitor_key="c", now=NOW)
    presence.touch(TOPIC, member_id=None, visitor_key="d", now=NOW)

    presence.leave(TOPIC, member_id=1, visitor_key="a")
    presence.leave(TOPIC, member_id=2, visitor_key="b")
    presence.leave(TOPIC, member_id=None, visitor_key="c")

    assert presence.browsing(TOPIC, now=NOW) == Browsing((), 1)


def test_leaving_a_topic_nobody_opened_changes_nothing(presence: Presence) -> None:
    presence.leave(TOPIC, member_id=1, visitor_key="a")

    assert presence.browsing(TOPIC, now=NOW) == Browsing((), 0)


def test_browsing_one_topic_is_not_browsing_another(presence: Presence) -> None:
    presence.touch(TOPIC, member_id=1, visitor_key="a", now=NOW)
    presence.touch(TOPIC + 1, member_id=None, visitor_key="b", now=NOW)

    assert presence.browsing(TOPIC, now=NOW) == Browsing((1,), 0)
    assert presence.browsing(TOPIC + 1, now=NOW) == Browsing((), 1)


def test_members_touching_from_many_threads_are_all_browsing(presence: Presence) -> None:
    def browse(member_id: int) -> None:
        for second in range(20):
            presence.touch(TOPIC, member_id=member_id, visitor_key=str(member_id), now=NOW)
            presence.touch(TOPIC, member_id=None, visitor_key=f"guest-{second}", now=NOW)

    threads = [threading.Thread(target=browse, args=(member_id,)) for member_id in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    browsing = presence.browsing(TOPIC, now=NOW)
    assert sorted(browsing.member_ids) == list(range(8))
    assert browsing.guest_count == 20


def test_the_in_process_presence_forgets_abandoned_topics() -> None:
    presence = LocalPresence(retain=900)
    presence.touch(TOPIC, member_id=1, visitor_key="a", now=NOW)
    presence.touch(TOPIC + 1, member_id=2, visitor_key="b", now=NOW + 1000)
    presence.touch(TOPIC + 1, member_id=2, visitor_key="b", now=NOW + 2000)

    assert list(presence._topics) == [TOPIC + 1]


def test_an_abandoned_topic_expires_from_redis(redis_client: redis.Redis) -> None:
    prefix = f"test:{uuid.uuid4().hex}:browsing:"
    presence = RedisPresence(redis_client, prefix=prefix, retain=900)
    presence.touch(TOPIC, member_id=1, visitor_key="a", now=NOW)
    presence.touch(TOPIC, member_id=None, visitor_key="b", now=NOW)
    keys = list(redis_client.scan_iter(match=f"{prefix}*"))
    try:
        assert len(keys) == 2
        assert all(0 < redis_client.ttl(key) <= 900 for key in keys)
    finally:
        redis_client.delete(*keys)


def test_presence_is_in_process_without_redis_url(settings: Settings) -> None:
    settings.REDIS_URL = ""

    assert isinstance(get_presence(), LocalPresence)
    assert get_presence() is get_presence()


def test_presence_goes_through_redis_with_a_redis_url(settings: Settings) -> None:
    settings.REDIS_URL = REDIS_TEST_URL

    assert isinstance(get_presence(), RedisPresence)


def test_pages_keep_working_when_redis_is_unreachable(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.REDIS_URL = CLOSED_PORT_URL
    presence = get_presence()

    with caplog.at_level(logging.WARNING, logger="sala.live.presence"):
        presence.touch(TOPIC, member_id=1, visitor_key="a", now=NOW)
        presence.touch(TOPIC, member_id=None, visitor_key="b", now=NOW)
        browsing = presence.browsing(TOPIC, now=NOW)
        presence.leave(TOPIC, member_id=1, visitor_key="a")

    assert browsing == Browsing((), 0)
    assert len(caplog.records) == 1, "an outage is logged once, not on every page"


def test_a_visitor_key_is_the_same_for_the_same_browser(settings: Settings) -> None:
    settings.SECRET_KEY = "s" * 50
    factory = RequestFactory()
    first = factory.get("/", REMOTE_ADDR="203.0.113.5", HTTP_USER_AGENT="Firefox")
    again = factory.get("/t/1/", REMOTE_ADDR="203.0.113.5", HTTP_USER_AGENT="Firefox")

    assert visitor_key(first) == visitor_key(again)


def test_a_visitor_key_differs_by_address_and_by_browser(settings: Settings) -> None:
    settings.SECRET_KEY = "s" * 50
    factory = RequestFactory()
    keys = {
        visitor_key(factory.get("/", REMOTE_ADDR="203.0.113.5", HTTP_USER_AGENT="Firefox")),
        visitor_key(factory.get("/", REMOTE_ADDR="203.0.113.6", HTTP_USER_AGENT="Firefox")),
        visitor_key(factory.get("/", REMOTE_ADDR="203.0.113.5", HTTP_USER_AGENT="Chrome")),
    }

    assert len(keys) == 3


def test_a_visitor_key_hides_the_address_behind_the_secret_key(
    settings: Settings,
) -> None:
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.5", HTTP_USER_AGENT="Firefox")
    settings.SECRET_KEY = "s" * 50
    key = visitor_key(request)
    settings.SECRET_KEY = "t" * 50

    assert "203.0.113.5" not in key
    assert visitor_key(request) != key
    assert len(key) == 20
