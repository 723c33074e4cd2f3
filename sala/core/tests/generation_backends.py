"""The generations a guest page cache test runs with: a backend of the test's own, used by
every part that asks, and a Redis that goes away on demand."""

import asyncio
import functools
import threading

import pytest

from sala.core import page_cache
from sala.core.page_cache import Generations
from sala.live.tests.redis_outage import Outage


def use_generations(monkeypatch: pytest.MonkeyPatch, backend: Generations) -> None:
    """Make `backend` this process's generations until the test ends, for the cache's parts
    (sala.core.page_cache.generations) and the apps (`page_cache.get_generations`) alike."""
    get_generations = functools.cache(lambda: backend)
    monkeypatch.setattr(page_cache.generations, "get_generations", get_generations)
    monkeypatch.setattr(page_cache, "get_generations", get_generations)


class SyncOutage:
    """The live tests' Redis outage on demand, cut and restored from synchronous code."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.proxy = Outage(upstream_port=6379)
        self.restore()
        self.url = f"redis://127.0.0.1:{self.proxy.port}/15"

    def cut(self) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.cut(), self.loop).result(timeout=5)

    def restore(self) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.restore(), self.loop).result(timeout=5)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._end(), self.loop).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()

    async def _end(self) -> None:
        await self.proxy.cut()
        forwarding = asyncio.all_tasks() - {asyncio.current_task()}
        for task in forwarding:
            task.cancel()
        await asyncio.gather(*forwarding, return_exceptions=True)
