"""Stream caps: the same behaviour in-process and shared through Redis."""

import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from sala.live.slots import LocalSlots, RedisSlots, Slots

ADDRESS = ("address:203.0.113.9", 2)
SESSION = ("session:abc", 3)


def make_slots(request: pytest.FixtureRequest, *, lease: float = 60.0) -> Iterator[Slots]:
    if request.param == "in-process":
        yield LocalSlots(lease=lease)
        return
    client: redis.Redis = request.getfixturevalue("redis_client")
    prefix = f"test:{uuid.uuid4().hex}:slots:"
    yield RedisSlots(client, prefix=prefix, lease=lease)
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)


@pytest.fixture(params=["in-process", "redis"])
def slots(request: pytest.FixtureRequest) -> Iterator[Slots]:
    yield from make_slots(request)


@pytest.fixture(params=["in-process", "redis"])
def short_slots(request: pytest.FixtureRequest) -> Iterator[Slots]:
    yield from make_slots(request, lease=0.3)


def test_streams_are_admitted_up_to_the_cap_and_the_next_is_refused(slots: Slots) -> None:
    assert slots.claim([ADDRESS], "one") is None
    assert slots.claim([ADDRESS], "two") is None

    assert slots.claim([ADDRESS], "three") == ADDRESS[0]


def test_the_full_key_is_named_and_no_slot_is_taken_under_the_others(slots: Slots) -> None:
    for stream in ("a", "b", "c"):
        assert slots.claim([SESSION], stream) is None

    assert slots.claim([ADDRESS, SESSION], "d") == SESSION[0]
    # The refused stream took nothing under the address: two more still fit there.
    assert slots.claim([ADDRESS], "e") is None
    assert slots.claim([ADDRESS], "f") is None


def test_a_closed_stream_gives_its_slot_back(slots: Slots) -> None:
    slots.claim([ADDRESS], "one")
    slots.claim([ADDRESS], "two")

    slots.release([ADDRESS[0]], "one")

    assert slots.claim([ADDRESS], "three") is None


def test_another_client_has_an_allowance_of_its_own(slots: Slots) -> None:
    slots.claim([ADDRESS], "one")
    slots.claim([ADDRESS], "two")

    assert slots.claim([("address:198.51.100.1", 2)], "three") is None


def test_slots_of_a_node_that_died_lapse_by_themselves(short_slots: Slots) -> None:
    short_slots.claim([ADDRESS], "one")
    short_slots.claim([ADDRESS], "two")
    assert short_slots.claim([ADDRESS], "three") == ADDRESS[0]

    time.sleep(0.5)  # nobody renewed: both leases have lapsed

    assert short_slots.claim([ADDRESS], "three") is None


def test_a_renewed_slot_outlives_its_first_lease(short_slots: Slots) -> None:
    short_slots.claim([ADDRESS], "one")
    short_slots.claim([ADDRESS], "two")
    for _ in range(3):
        time.sleep(0.15)
        short_slots.renew([ADDRESS[0]], "one")
        short_slots.renew([ADDRESS[0]], "two")

    assert short_slots.claim([ADDRESS], "three") == ADDRESS[0]


def test_two_nodes_sharing_redis_share_one_allowance(redis_client: redis.Redis) -> None:
    prefix = f"test:{uuid.uuid4().hex}:slots:"
    node_a = RedisSlots(redis_client, prefix=prefix)
    node_b = RedisSlots(redis_client, prefix=prefix)

    assert node_a.claim([ADDRESS], "one") is None
    assert node_b.claim([ADDRESS], "two") is None

    assert node_a.claim([ADDRESS], "three") == ADDRESS[0]
    assert node_b.claim([ADDRESS], "three") == ADDRESS[0]
    for key in redis_client.scan_iter(match=f"{prefix}*"):
        redis_client.delete(key)


def test_with_redis_unreachable_each_node_still_caps_its_own_streams() -> None:
    unreachable = redis.Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.2)
    slots = RedisSlots(unreachable)

    assert slots.claim([ADDRESS], "one") is None
    assert slots.claim([ADDRESS], "two") is None
    assert slots.claim([ADDRESS], "three") == ADDRESS[0]
