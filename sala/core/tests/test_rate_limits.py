"""The site's one limiter: rates, sliding windows in memory and in Redis, the fallback."""

import logging
import time
import uuid
from typing import Any

import pytest
import redis

from sala.core import rate_limits
from sala.core.rate_limits import LocalWindows, Rate, RedisWindows, Windows


def test_rates_are_written_as_a_count_per_seconds_minutes_hours_or_days() -> None:
    assert Rate.parse("1/15") == Rate(1, 15)
    assert Rate.parse("10/5m") == Rate(10, 300)
    assert Rate.parse("3/d") == Rate(3, 86_400)
    assert Rate.parse(" 2 / 1h ") == Rate(2, 3600)


@pytest.mark.parametrize("text", ["", "5", "five/10", "1/0", "1/-5", "1/5w", "1/5/ip"])
def test_a_rate_that_is_not_one_is_refused_naming_the_form_expected(text: str) -> None:
    with pytest.raises(ValueError, match="N/S"):
        Rate.parse(text)


def test_the_wait_is_told_in_the_largest_unit_that_fits() -> None:
    assert rate_limits.wait_message(1) == "Try again in 1 second."
    assert rate_limits.wait_message(42) == "Try again in 42 seconds."
    assert rate_limits.wait_message(241) == "Try again in 5 minutes."
    assert rate_limits.wait_message(20 * 3600) == "Try again in 20 hours."


def test_an_ipv6_subscribers_whole_64_shares_one_key_and_ipv4_is_itself() -> None:
    assert rate_limits.address_key("2001:db8:1:2:aaaa::1") == rate_limits.address_key(
        "2001:db8:1:2:bbbb::9"
    )
    assert rate_limits.address_key("2001:db8:1:3::1") != rate_limits.address_key("2001:db8:1:2::1")
    assert rate_limits.address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert rate_limits.address_key("192.0.2.7") == "192.0.2.7"


@pytest.fixture(params=["memory", "redis"])
def windows(request: pytest.FixtureRequest, redis_client: redis.Redis) -> Windows:
    """Each behaviour, in this process's memory and in Redis (keys of this test's own)."""
    if request.param == "memory":
        return LocalWindows()
    return RedisWindows(redis_client, prefix=f"test:rate:{uuid.uuid4().hex}:")


def test_a_window_lets_its_count_through_then_says_how_long_to_wait(windows: Windows) -> None:
    rate = Rate(3, 60)
    answers = [windows.hit("alice", rate) for _ in range(4)]

    assert [answer.allowed for answer in answers] == [True, True, True, False]
    assert 58 <= answers[3].retry_after <= 60
    assert windows.hit("bob", rate).allowed, "another key has a window of its own"


def test_once_the_window_has_passed_its_oldest_entry_the_next_is_let_through(
    windows: Windows,
) -> None:
    rate = Rate(1, 1)
    assert windows.hit("alice", rate).allowed
    assert not windows.hit("alice", rate).allowed

    time.sleep(1.05)

    assert windows.hit("alice", rate).allowed


def test_an_entry_given_back_frees_its_place_and_forgetting_empties_the_window(
    windows: Windows,
) -> None:
    rate = Rate(1, 60)
    taken = windows.hit("alice", rate)
    windows.undo("alice", taken.token)
    again = windows.hit("alice", rate)
    assert again.allowed
    assert not windows.hit("alice", rate).allowed

    windows.forget("alice")

    assert windows.hit("alice", rate).allowed


def test_while_redis_does_not_answer_each_process_still_limits_and_logs_it_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from conftest import free_port

    gone = redis.Redis(port=free_port(), socket_connect_timeout=0.2, socket_timeout=0.2)
    windows = RedisWindows(gone)
    rate = Rate(2, 60)

    with caplog.at_level(logging.WARNING, logger="sala.core.rate_limits"):
        answers = [windows.hit("alice", rate).allowed for _ in range(3)]

    assert answers == [True, True, False]
    outages = [r for r in caplog.records if "Redis does not answer" in r.getMessage()]
    assert len(outages) == 1


def test_with_limits_off_or_a_limit_off_everything_is_let_through(settings: Any) -> None:
    settings.SALA_RATE_LIMITS = {**settings.SALA_RATE_LIMITS, "reply": "1/60", "topic": "off"}
    settings.SALA_RATE_LIMITS_ON = True
    assert rate_limits.hit("reply", 1).allowed
    assert not rate_limits.hit("reply", 1).allowed
    assert all(rate_limits.hit("topic", 1).allowed for _ in range(5))

    settings.SALA_RATE_LIMITS_ON = False

    assert rate_limits.hit("reply", 1).allowed


def test_a_changed_rate_starts_a_window_of_its_own(settings: Any) -> None:
    settings.SALA_RATE_LIMITS_ON = True
    settings.SALA_RATE_LIMITS = {**settings.SALA_RATE_LIMITS, "reply": "1/60"}
    assert rate_limits.hit("reply", 1).allowed
    assert not rate_limits.hit("reply", 1).allowed

    settings.SALA_RATE_LIMITS = {**settings.SALA_RATE_LIMITS, "reply": "2/60"}

    assert rate_limits.hit("reply", 1).allowed
