"""The `once_in` throttle: let a process do a thing at most once in so many seconds per key.

Kept in each process's memory, for the 10,000 most recent keys. Nothing here is about
pages: the guest page cache's hits, the topic view and OnlineMiddleware ask it before
recording a reader in presence or pushing view counts again. sala.core.page_cache still
offers it as `page_cache.once_in`, where it used to live.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable


class _RecentKeys:
    """Keys with the moment they were last let through, the oldest forgotten past `size`."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._seen: OrderedDict[Hashable, float] = OrderedDict()
        self._lock = threading.Lock()

    def once_in(self, seconds: float, key: Hashable) -> bool:
        now = time.monotonic()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and now - seen < seconds:
                return False
            self._seen[key] = now
            self._seen.move_to_end(key)
            if len(self._seen) > self.size:
                self._seen.popitem(last=False)
            return True

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


_recent = _RecentKeys()


def once_in(seconds: float, key: Hashable) -> bool:
    """Return True unless this process was asked about `key` less than `seconds` ago.

    For what a cached read does that need not happen at every read, such as recording a
    guest in presence again seconds after the last time: with Redis each is a round trip.
    Remembers the 10,000 most recent keys.
    """
    return _recent.once_in(seconds, key)


def reset() -> None:
    """Forget every key this process was asked about (for tests)."""
    _recent.clear()
