"""The embedded default: SQLite tuned so members writing at once queue, not fail."""

import threading

import pytest
from django.db import connection, connections

from sala.accounts import services
from sala.accounts.models import User

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="these settings are SQLite's alone"
)


@pytest.mark.django_db
def test_sqlite_runs_in_wal_mode_with_a_busy_timeout() -> None:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] >= 5000


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_queue_instead_of_failing() -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def register(number: int) -> None:
        try:
            start.wait()
            for attempt in range(5):
                services.create_member(
                    username=f"writer{number}x{attempt}",
                    email=f"writer{number}x{attempt}@example.org",
                    password=None,
                )
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=register, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert User.objects.filter(username__startswith="writer").count() == 40
