"""Domain events: heard after the write commits, in order, never when it rolls back."""

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.db import transaction

from sala.core import events
from sala.core.events import DomainEvent, announce, listen

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass(frozen=True, slots=True)
class Happened(DomainEvent):
    what: str


@dataclass(frozen=True, slots=True)
class HappenedHere(Happened):
    where: str


Heard = list[tuple[str, DomainEvent]]


@pytest.fixture
def heard() -> Iterator[Heard]:
    """Listen to Happened (and so HappenedHere) for one test; return what was heard."""
    log: Heard = []

    def first(event: Happened) -> None:
        log.append(("first", event))

    def second(event: Happened) -> None:
        log.append(("second", event))

    def here(event: HappenedHere) -> None:
        log.append(("here", event))

    saved = {kind: list(listeners) for kind, listeners in events._listeners.items()}
    listen(Happened, first)
    listen(Happened, second)
    listen(HappenedHere, here)
    listen(Happened, first)  # again: still heard once
    yield log
    events._listeners.clear()
    events._listeners.update(saved)
    events._resolved.clear()


def test_an_event_is_heard_only_once_its_transaction_commits(heard: Heard) -> None:
    with transaction.atomic():
        announce(Happened("reply"))
        assert heard == []
    assert heard == [("first", Happened("reply")), ("second", Happened("reply"))]


def test_an_event_announced_outside_a_transaction_is_heard_at_once(heard: Heard) -> None:
    announce(Happened("edit"))
    assert [name for name, _ in heard] == ["first", "second"]


def test_a_rolled_back_write_announces_nothing_even_from_a_savepoint(heard: Heard) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        announce(Happened("lost"))
        raise RuntimeError
    with transaction.atomic():
        announce(Happened("kept"))
        try:
            with transaction.atomic():
                announce(Happened("rolled back with its savepoint"))
                raise RuntimeError
        except RuntimeError:
            pass
    assert [event for _, event in heard] == [Happened("kept"), Happened("kept")]


def test_listeners_of_a_base_class_hear_its_subclasses_first(heard: Heard) -> None:
    announce(HappenedHere("reply", where="topic 7"))
    assert [name for name, _ in heard] == ["first", "second", "here"]


def test_a_failing_listener_is_logged_and_the_others_still_run(
    heard: Heard, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: Happened) -> None:
        raise ValueError("the index is away")

    listen(Happened, broken)
    with caplog.at_level(logging.ERROR, logger="sala.core.events"):
        announce(Happened("reply"), HappenedHere("reply", where="forum 2"))
    assert [name for name, _ in heard] == ["first", "second", "first", "second", "here"]
    failures = [record.exc_info[1] for record in caplog.records if record.exc_info]
    assert [str(failure) for failure in failures] == ["the index is away"] * 2
