"""Answers this process remembers for a few seconds, to spare a query on every page.

For facts a page may show a little late without harm (who is browsing, whether a member
moderates, which links to show them) and for writes that need not repeat (a reading
point already recorded). Never for a permission check that guards a write.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Final

#: What `LocalMemo.get` returns for a key it does not remember (None may be an answer).
MISSING: Final = object()


class LocalMemo:
    """Values remembered for `seconds`, the least recently stored forgotten past `size`."""

    def __init__(self, seconds: float, size: int = 10_000) -> None:
        self.seconds = seconds
        self.size = size
        self._values: OrderedDict[Hashable, tuple[float, object]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> object:
        """Return the value remembered under `key`, or MISSING."""
        with self._lock:
            found = self._values.get(key)
        if found is None or found[0] <= time.monotonic():
            return MISSING
        return found[1]

    def put(self, key: Hashable, value: object) -> None:
        with self._lock:
            self._values[key] = (time.monotonic() + self.seconds, value)
            self._values.move_to_end(key)
            if len(self._values) > self.size:
                self._values.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


#: Every memo made by `memo`, so tests can start each without any.
_all: list[LocalMemo] = []


def memo(seconds: float, size: int = 10_000) -> LocalMemo:
    """Return a new memo that `clear_all` empties."""
    made = LocalMemo(seconds, size)
    _all.append(made)
    return made


def clear_all() -> None:
    """Forget everything every memo remembers (for tests)."""
    for made in _all:
        made.clear()
