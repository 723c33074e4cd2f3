"""The generation store: bumps after commit only, in Redis mirrored in each process (heard
at once, never stale, through outages) and in a file every process here maps."""

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.db import transaction
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks

from conftest import REDIS_TEST_URL, eventually
from sala.core import page_cache
from sala.core.page_cache import EVERY_PAGE, FileGenerations, Generations, RedisGenerations
from sala.core.redis_client import fail_fast_client
from sala.core.tests.generation_backends import SyncOutage
from sala.core.tests.guest_reads import cache_state, read
from sala.forums.tests.factories import make_topic

pytestmark = pytest.mark.django_db

#: A generation of these tests' own: the apps name theirs (sala/forums/cached_pages.py).
SOME_PAGE = "some-page"


def test_a_write_rolled_back_drops_nothing(
    generations: Generations, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    before = generations.read((SOME_PAGE,))
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                page_cache.bump_on_commit(SOME_PAGE)
                raise RuntimeError("the write failed")
        except RuntimeError:
            pass
    assert generations.read((SOME_PAGE,)) == before


def test_a_bump_lost_to_an_outage_is_sent_once_redis_answers_again(
    outage: SyncOutage, redis_client: redis.Redis
) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    writer = RedisGenerations(fail_fast_client(outage.url), prefix=prefix)
    name = SOME_PAGE
    writer.read((name,))
    eventually(lambda: writer.mirroring)
    outage.cut()
    eventually(lambda: not writer.mirroring)

    writer.bump([name])  # lost: Redis does not answer
    assert redis_client.get(prefix + name) is None

    outage.restore()
    try:
        eventually(lambda: redis_client.get(prefix + name) == b"1", within=10)
    finally:
        writer.close()
        for key in redis_client.scan_iter(match=f"{prefix}*"):
            redis_client.delete(key)


# --- Generations in Redis, mirrored in each process ---------------------------------------


@pytest.fixture
def processes(redis_client: redis.Redis) -> Iterator[Callable[[], RedisGenerations]]:
    """Return a way to make the generations of another process: one Redis, clients apart."""
    prefix = f"test:{uuid.uuid4().hex}:page-generation:"
    made: list[RedisGenerations] = []

    def process() -> RedisGenerations:
        made.append(RedisGenerations(redis.Redis.from_url(REDIS_TEST_URL), prefix=prefix))
        return made[-1]

    yield process
    for generations in made:
        generations.close()
        generations.client.close()
    for key in redis_client.scan_iter(match=f"{prefix}*"):
        redis_client.delete(key)


def mirroring(generations: RedisGenerations) -> RedisGenerations:
    """Return `generations` once it reads from its mirror (its first read starts it)."""
    generations.read((EVERY_PAGE,))
    eventually(lambda: generations.mirroring)
    return generations


def count_mgets(generations: RedisGenerations, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Return a list that gets an item for each MGET `generations` sends from now on."""
    sent: list[object] = []
    mget = generations.client.mget

    def counted(keys: list[str]) -> object:
        sent.append(keys)
        return mget(keys)

    monkeypatch.setattr(generations.client, "mget", counted)
    return sent


def test_a_mirrored_read_costs_no_round_trip(
    processes: Callable[[], RedisGenerations], monkeypatch: pytest.MonkeyPatch
) -> None:
    generations = mirroring(processes())
    names = (EVERY_PAGE, SOME_PAGE)
    sent = count_mgets(generations, monkeypatch)

    first = generations.read(names)
    again = [generations.read(names) for _ in range(100)]

    assert again == [first] * 100
    assert len(sent) == 1


def test_a_bump_in_one_process_reaches_another_processes_reads_at_once(
    processes: Callable[[], RedisGenerations],
) -> None:
    reader, writer = mirroring(processes()), processes()
    names = (EVERY_PAGE, SOME_PAGE)
    (every_page, topic) = reader.read(names) or ()
    assert reader.read(names) == (every_page, topic), "now from the mirror"

    writer.bump([SOME_PAGE])

    eventually(lambda: reader.read(names) == (every_page, topic + 1), within=1)


def test_a_read_after_a_bump_in_the_same_process_sees_it_without_waiting(
    processes: Callable[[], RedisGenerations],
) -> None:
    generations = mirroring(processes())
    names = (SOME_PAGE,)
    (before,) = generations.read(names) or ()
    generations.read(names)

    generations.bump(names)

    assert generations.read(names) == (before + 1,)


def test_a_bump_heard_while_a_read_was_in_redis_leaves_no_old_value_mirrored(
    processes: Callable[[], RedisGenerations], monkeypatch: pytest.MonkeyPatch
) -> None:
    reader, writer = mirroring(processes()), processes()
    names = (SOME_PAGE,)
    mget = reader.client.mget

    def mget_overtaken_by_a_bump(keys: list[str]) -> object:
        values = mget(keys)
        epoch = reader._epoch
        writer.bump(names)
        eventually(lambda: reader._epoch != epoch)  # the reader heard of it
        return values

    monkeypatch.setattr(reader.client, "mget", mget_overtaken_by_a_bump)
    (old,) = reader.read(names) or ()
    monkeypatch.setattr(reader.client, "mget", mget)

    assert reader.read(names) == (old + 1,)


def test_the_mirror_is_not_used_before_the_subscription_is_up(
    processes: Callable[[], RedisGenerations], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(RedisGenerations, "_listen", lambda self: None)
    generations = processes()
    names = (SOME_PAGE,)
    (before,) = generations.read(names) or ()

    # Behind the mirror's back: no message tells anyone.
    generations.client.incr(generations.prefix + SOME_PAGE)

    assert not generations.mirroring
    assert generations.read(names) == (before + 1,)


def test_the_mirror_starts_afresh_when_the_subscription_is_back(
    outage: SyncOutage, redis_client: redis.Redis
) -> None:
    generations = mirroring(
        RedisGenerations(fail_fast_client(outage.url), prefix=f"test:{uuid.uuid4().hex}:")
    )
    names = (SOME_PAGE,)
    (before,) = generations.read(names) or ()
    generations.read(names)

    outage.cut()
    eventually(lambda: not generations.mirroring)
    assert generations.read(names) is None
    # Bumped while this process could not hear of it.
    redis_client.incr(generations.prefix + SOME_PAGE)
    outage.restore()

    assert generations.read(names) == (before + 1,)
    eventually(lambda: generations.mirroring)
    assert generations.read(names) == (before + 1,)
    generations.close()
    redis_client.delete(generations.prefix + SOME_PAGE)


def test_pages_are_rendered_when_the_file_of_generations_cannot_be_made(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(
        page_cache.generations, "_table_path", lambda: tmp_path / "missing" / "table"
    )
    url = make_topic().get_absolute_url()
    read(url)
    response = read(url)
    assert response.status_code == 200
    assert cache_state(response) is None


def test_files_of_generations_of_databases_that_are_gone_are_removed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "live.sqlite3").touch()
    kept, orphan = (
        tmp_path / "live.sqlite3-page-generations",
        tmp_path / "gone.sqlite3-page-generations",
    )
    kept.touch()
    orphan.touch()
    monkeypatch.setattr(
        page_cache.generations, "_table_path", lambda: tmp_path / "new.sqlite3-page-generations"
    )
    page_cache.get_generations()
    assert kept.exists()
    assert not orphan.exists()


def test_generations_in_one_file_are_shared_by_every_map_of_it(tmp_path: Path) -> None:
    one = FileGenerations(tmp_path / "generations")
    other = FileGenerations(tmp_path / "generations")
    names = (EVERY_PAGE, SOME_PAGE)
    before = other.read(names)
    one.bump([SOME_PAGE])
    after = other.read(names)
    assert after[0] == before[0]
    assert after[1] == before[1] + 1
