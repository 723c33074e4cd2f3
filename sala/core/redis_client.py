"""Redis for what crosses processes: clients that fail fast and outages logged once.

Presence and buffered counts are side channels: when Redis is slow or gone, the page
that touched them must still be served at once, so calls give up quickly and report
the outage once rather than on every request.
"""

import logging
from collections.abc import Callable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def fail_fast_client(url: str) -> redis.Redis:
    """Return a client for `url` that gives up within about a second."""
    return redis.Redis.from_url(
        url,
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
        # One immediate retry replaces a pooled connection that Redis closed; more would
        # only make every page wait while Redis is down.
        retry=Retry(NoBackoff(), retries=1),
    )


class OutageGuard:
    """Run Redis commands; on failure return None and log the outage once, not per call."""

    def __init__(self, logger: logging.Logger, *, down: str, up: str) -> None:
        self.logger = logger
        self.down_message = down
        self.up_message = up
        self.down = False

    def call[T](self, command: Callable[[], T]) -> T | None:
        try:
            result = command()
        except redis.RedisError as error:
            if not self.down:
                self.down = True
                self.logger.warning("%s: %s", self.down_message, error)
            return None
        if self.down:
            self.down = False
            self.logger.info("%s", self.up_message)
        return result
