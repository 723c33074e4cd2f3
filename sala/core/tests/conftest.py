"""Fixtures the guest page cache's tests share: generations of the test's own, in a file
and in Redis, and a Redis outage on demand."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from sala.core.page_cache import FileGenerations, Generations, RedisGenerations
from sala.core.tests.generation_backends import SyncOutage, use_generations


@pytest.fixture(params=["file", "redis"])
def generations(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Generations]:
    """Run the test with generations in a file of its own, then in Redis."""
    backend: Generations
    if request.param == "file":
        backend = FileGenerations(tmp_path / "page-generations")
    else:
        client: redis.Redis = request.getfixturevalue("redis_client")
        prefix = f"test:{uuid.uuid4().hex}:page-generation:"
        backend = RedisGenerations(client, prefix=prefix)
    use_generations(request.getfixturevalue("monkeypatch"), backend)
    yield backend
    if isinstance(backend, RedisGenerations):
        backend.close()
        for key in backend.client.scan_iter(match=f"{backend.prefix}*"):
            backend.client.delete(key)


@pytest.fixture
def outage() -> Iterator[SyncOutage]:
    outage = SyncOutage()
    yield outage
    outage.stop()
