"""The shared cache on Redis, failing soft: an outage must not turn pages into errors.

Django's Redis cache raises when Redis is unreachable; every sign-in (rate limits live
in the cache) would then fail. This backend answers as if the cache were empty instead
and logs the outage once. The trade-off, taken knowingly: while Redis is down, rate
limits are not enforced and a two-factor code could be reused within its 30 s window.
"""

import logging
from typing import Any

from django.core.cache.backends.redis import RedisCache

from sala.core.redis_client import OutageGuard

logger = logging.getLogger(__name__)
_guard = OutageGuard(
    logger,
    down="The cache is unavailable, Redis did not answer; carrying on without it",
    up="The cache is available again.",
)


class FailSoftRedisCache(RedisCache):
    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        found = _guard.call(lambda: (super(FailSoftRedisCache, self).get(key, default, version),))
        return default if found is None else found[0]

    def get_many(self, keys: Any, version: Any = None) -> Any:
        return _guard.call(lambda: super(FailSoftRedisCache, self).get_many(keys, version)) or {}

    def set(self, key: Any, value: Any, timeout: Any = 300, version: Any = None) -> None:
        _guard.call(lambda: super(FailSoftRedisCache, self).set(key, value, timeout, version))

    def add(self, key: Any, value: Any, timeout: Any = 300, version: Any = None) -> bool:
        # During an outage, claim success: callers looping until add() succeeds (locks)
        # must not spin forever.
        added = _guard.call(
            lambda: super(FailSoftRedisCache, self).add(key, value, timeout, version)
        )
        return True if added is None else bool(added)

    def delete(self, key: Any, version: Any = None) -> bool:
        return bool(_guard.call(lambda: super(FailSoftRedisCache, self).delete(key, version)))

    def touch(self, key: Any, timeout: Any = 300, version: Any = None) -> bool:
        return bool(
            _guard.call(lambda: super(FailSoftRedisCache, self).touch(key, timeout, version))
        )

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> int:
        value = _guard.call(lambda: super(FailSoftRedisCache, self).incr(key, delta, version))
        return int(value) if value is not None else delta

    def has_key(self, key: Any, version: Any = None) -> bool:
        return bool(_guard.call(lambda: super(FailSoftRedisCache, self).has_key(key, version)))

    def clear(self) -> None:
        _guard.call(lambda: super(FailSoftRedisCache, self).clear())
