"""The generation store: counters named after what pages show, which every process reads
and a write bumps, so that a page stored under old values is never served again.

A page is stored with the values of the generations it depends on (`depend_on`, in
middleware.py) and served only while they still hold (middleware.py, front.py). The
names are the apps' own (sala/forums/cached_pages.py for the forums' pages, bumped by
sala/forums/listeners.py on their domain events; sala/accounts/remembered.py for
sessions and members); core knows only EVERY_PAGE.

With REDIS_URL the generations live in Redis and each process mirrors the values it read,
dropping them as it hears of bumps through pub/sub, so a bump reaches every worker on
every node within moments and a cached read costs no round trip; when Redis does not
answer, reads return None (pages are rendered as if nothing were cached, never an
error) and this process's stored pages (store.py) are dropped. Without it they live in a
small table of counters in a file every process on this machine maps into memory
(beside the SQLite database), so all of `sala serve`'s workers see a bump at once
without a server.
"""

import fcntl
import functools
import hashlib
import logging
import mmap
import os
import struct
import tempfile
import threading
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import redis
from django.conf import settings
from django.db import connections, transaction
from redis.backoff import NoBackoff
from redis.client import PubSub
from redis.connection import Connection
from redis.retry import Retry
from redis.utils import str_if_bytes

from sala.core.page_cache.store import pages
from sala.core.redis_client import OutageGuard, fail_fast_client

logger = logging.getLogger(__name__)

#: Every page depends on it: bumped when something every page shows changes (the names
#: and order of categories and forums, in breadcrumbs and lists) and by `invalidate_all`.
EVERY_PAGE = "every-page"
#: The longest time to live honoured, whatever the setting says: generations in Redis are
#: forgotten a day after their last bump, and a page must never outlive what it was
#: checked against.
MAX_SECONDS = 3600
#: How long Redis keeps a generation after its last bump, in seconds.
GENERATION_LIFETIME = 86_400
#: Seconds of silence on a process's subscription to bumps before it is pinged; no answer
#: within as long again counts as an outage (a dead peer behind a silent network never
#: closes the connection), and the mirror goes unused until it is back.
MIRROR_PING_EVERY = 1.0
#: Seconds before subscribing again after a failure, doubling up to RESUBSCRIBE_MAX.
RESUBSCRIBE_FIRST = 0.5
RESUBSCRIBE_MAX = 5.0
#: The most generations a process mirrors; past it the mirror starts afresh.
MIRROR_SIZE = 100_000
#: The most names whose bump failed a process keeps to send again; past it, EVERY_PAGE.
MAX_UNSENT = 100_000


class Generations(Protocol):
    def read(self, names: tuple[str, ...]) -> tuple[int, ...] | None:
        """Return the current value of each of `names`; None when they cannot be known."""

    def bump(self, names: Iterable[str]) -> None:
        """Change each of `names`, so pages stored under their old values are not served."""


class FileGenerations:
    """Generations in a table of counters mapped from one file by every process here.

    A name hashes to one of `slots` counters. Two names sharing a counter only cost each
    other an extra render now and then; a name never misses its own bump. Reads are a
    look into shared memory; bumps take a lock on the file, so two processes bumping the
    same counter at once both count.
    """

    def __init__(self, path: Path, *, slots: int = 1 << 16) -> None:
        self.path = path
        self.slots = slots
        size = slots * 8
        # O_NOFOLLOW: in a shared temporary folder, never through someone's symlink.
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        if os.fstat(self._fd).st_uid != os.getuid():
            os.close(self._fd)
            raise PermissionError(f"{path} belongs to another user")
        if os.fstat(self._fd).st_size < size:
            os.ftruncate(self._fd, size)  # a sparse file: untouched counters take no disk
        self._table = mmap.mmap(self._fd, size)
        # lockf keeps processes apart; threads of one process share its locks.
        self._lock = threading.Lock()

    def read(self, names: tuple[str, ...]) -> tuple[int, ...]:
        table = self._table
        return tuple(_COUNTER.unpack_from(table, self._offset(name))[0] for name in names)

    def bump(self, names: Iterable[str]) -> None:
        offsets = {self._offset(name) for name in names}
        with self._lock:
            fcntl.lockf(self._fd, fcntl.LOCK_EX)
            try:
                for offset in offsets:
                    (value,) = _COUNTER.unpack_from(self._table, offset)
                    _COUNTER.pack_into(self._table, offset, (value + 1) % 2**64)
            finally:
                fcntl.lockf(self._fd, fcntl.LOCK_UN)

    def _offset(self, name: str) -> int:
        # crc32, not hash(): every process must find a name at the same place.
        return zlib.crc32(name.encode()) % self.slots * 8


_COUNTER = struct.Struct("<Q")


class RedisGenerations:
    """Generations as Redis counters shared by every process on every node, mirrored in
    each process while it hears of every bump.

    `<prefix><name>` is INCRemented by a bump and expires GENERATION_LIFETIME after it;
    a missing key reads as 0. A bump also PUBLISHes the names it bumped, in the same round
    trip, on a channel every reading process subscribes to from a thread of its own
    (started by its first read); each drops those names from its mirror, the values its
    reads found. So a read of mirrored names costs no round trip, and one of others is an
    MGET, whose values are mirrored unless a bump was heard while it was on its way: they
    may be from before it, and no message would come to drop them.

    The mirror is used only while the subscription is known to be up (`mirroring`),
    started afresh at each subscription, since bumps published while it was down were not
    heard. A subscription that falls silent is pinged; one that does not answer counts as
    lost, so a bump can go unheard for at most about twice MIRROR_PING_EVERY. Reads and
    bumps never raise: while Redis is away a read returns None.
    """

    def __init__(self, client: redis.Redis, *, prefix: str = "sala:page-generation:") -> None:
        self.client = client
        self.prefix = prefix
        # Pub/sub ignores the database number: without it in the name, sites on other
        # databases of the same server would drop each other's mirrors.
        database = client.connection_pool.connection_kwargs.get("db", 0)
        self.channel = f"{prefix}bumped:db{database}"
        #: Whether reads are answered from the mirror: only while subscribed.
        self.mirroring = False
        self._mirror: dict[str, int] = {}
        # Moves with every change to what the mirror may hold (a bump heard, a subscription
        # gained or lost): an MGET's values are mirrored only if it did not move meanwhile.
        self._epoch = 0
        self._lock = threading.Lock()
        self._listener: threading.Thread | None = None
        self._closed = threading.Event()
        self._guard = OutageGuard(
            logger,
            down="Serving no page from the guest page cache, Redis did not answer",
            up="The guest page cache is back, Redis answers.",
        )
        self._listening_down = False
        #: Names whose bump failed, sent with the next bump or when Redis answers again.
        self._unsent: set[str] = set()

    def read(self, names: tuple[str, ...]) -> tuple[int, ...] | None:
        if self.mirroring:
            try:
                return tuple(map(self._mirror.__getitem__, names))
            except KeyError:
                pass
        elif self._listener is None:
            self._listen_in_background()
        epoch = self._epoch
        keys = [self.prefix + name for name in names]
        values = self._guard.call(lambda: self.client.mget(keys))
        if values is None:
            return None
        current = tuple(int(value) if value else 0 for value in values)
        with self._lock:
            if self.mirroring and self._epoch == epoch:
                if len(self._mirror) + len(names) > MIRROR_SIZE:
                    self._mirror.clear()
                self._mirror.update(zip(names, current, strict=True))
        return current

    def bump(self, names: Iterable[str]) -> None:
        names = list(names)
        with self._lock:
            # Bumps an outage kept from Redis go with this one (see _start_mirroring).
            unsent, self._unsent = self._unsent, set()
        sending = list(dict.fromkeys([*names, *unsent]))
        if not sending:
            return

        def bump_all() -> bool:
            pipe = self.client.pipeline(transaction=False)
            for name in sending:
                pipe.incr(self.prefix + name)
                pipe.expire(self.prefix + name, GENERATION_LIFETIME)
            # After the INCRs: a process that drops a name on hearing this reads its new value.
            pipe.publish(self.channel, "\n".join(sending))
            pipe.execute()
            return True

        bumped = self._guard.call(bump_all)
        # This process's readers need not wait for the message to come back.
        self._forget(names)
        if bumped is None:
            # Other workers may serve what this write changed until Redis answers again and
            # the bump is sent; this one at least drops its own pages.
            pages.clear()
            with self._lock:
                if len(self._unsent) + len(sending) <= MAX_UNSENT:
                    self._unsent.update(sending)
                else:  # past that, the pages at least (sessions and members time out)
                    self._unsent.add(EVERY_PAGE)

    def close(self) -> None:
        """Stop listening for bumps; reads go to Redis every time from now on."""
        self._closed.set()
        self._stop_mirroring()

    def _forget(self, names: Iterable[str]) -> None:
        with self._lock:
            self._epoch += 1
            for name in names:
                self._mirror.pop(name, None)

    def _start_mirroring(self) -> None:
        with self._lock:
            if self._closed.is_set():
                return
            self._epoch += 1
            self._mirror.clear()
            self.mirroring = True
            unsent = bool(self._unsent)
        if self._listening_down:
            self._listening_down = False
            logger.info("The guest page cache hears of bumps again.")
        if unsent:
            self.bump([])  # Redis answers again: send what an outage kept from it

    def _stop_mirroring(self) -> bool:
        """Stop using the mirror, until the next subscription; return whether it was used."""
        with self._lock:
            was_mirroring, self.mirroring = self.mirroring, False
            self._epoch += 1
            self._mirror.clear()
        return was_mirroring

    def _listen_in_background(self) -> None:
        with self._lock:
            if self._listener is not None or self._closed.is_set():
                return
            self._listener = threading.Thread(
                target=self._listen, name=f"listening on {self.channel}", daemon=True
            )
        self._listener.start()

    def _listen(self) -> None:
        """Keep a subscription to bumps up until closed, subscribing again with backoff."""
        failures = 0
        while not self._closed.is_set():
            failures = 0 if self._subscribe_and_follow() else failures + 1
            self._closed.wait(min(RESUBSCRIBE_FIRST * 2**failures, RESUBSCRIBE_MAX))

    def _subscribe_and_follow(self) -> bool:
        """Subscribe and apply what is heard until the subscription fails or this is
        closed; return whether it was ever up."""
        pubsub = self.client.pubsub()
        try:
            pubsub.subscribe(self.channel)
            self._follow(pubsub)
        except (redis.RedisError, OSError) as error:
            if not self._listening_down and not self._closed.is_set():
                self._listening_down = True
                logger.warning(
                    "The guest page cache reads generations from Redis at every hit, "
                    "its subscription to bumps failed: %s",
                    error,
                )
        except Exception:
            # A bug here must not leave the mirror unused for good. (Closing the client
            # under a closed listener is no bug: that is how it stops at once.)
            if not self._closed.is_set():
                logger.exception("The guest page cache's subscription failed; subscribing again.")
        finally:
            was_up = self._stop_mirroring()
            pubsub.close()
        return was_up

    def _follow(self, pubsub: PubSub) -> None:
        """Apply what the subscription hears until closed; raise RedisError when it fails."""
        # Reconnecting is _listen's job: a connection redis-py made again by itself would
        # have missed the bumps published meanwhile, while the mirror went on being used.
        # The connection goes back to the client's pool after, so it gets its retry back.
        connection: Connection = pubsub.connection  # type: ignore[assignment]  # set by subscribe
        pooled_retry, connection.retry = connection.retry, Retry(NoBackoff(), retries=0)
        try:
            pinged = False
            while not self._closed.is_set():
                message = pubsub.get_message(timeout=MIRROR_PING_EVERY)
                if message is None:
                    if pinged:
                        raise redis.TimeoutError(f"no answer to a ping in {MIRROR_PING_EVERY} s")
                    pubsub.ping()
                    pinged = True
                    continue
                pinged = False
                if message["type"] == "subscribe":
                    self._start_mirroring()
                elif message["type"] == "message":
                    self._forget(str_if_bytes(message["data"]).split("\n"))
        finally:
            connection.retry = pooled_retry


#: What the file of generations beside a SQLite database adds to the database's name.
_TABLE_SUFFIX = "-page-generations"


def _table_path() -> Path:
    """Return where the file of generations lives: named after the database it describes,
    so every process of this machine writing to that database shares it (a test's server
    process and the test, too): beside a SQLite file, else in the temporary folder."""
    database = connections["default"].settings_dict
    name = str(database["NAME"])
    if database["ENGINE"] == "django.db.backends.sqlite3" and not name.startswith(
        (":memory:", "file:")
    ):
        return Path(name + _TABLE_SUFFIX)
    identity = "|".join(
        str(database.get(key) or "") for key in ("ENGINE", "HOST", "PORT", "NAME", "USER")
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / f"sala-{os.getuid()}-{digest}.generations"


def _remove_orphans(folder: Path) -> None:
    """Remove the files of generations of SQLite databases that are gone (every test run
    has a database of its own, deleted when it ends)."""
    for table in folder.glob(f"*{_TABLE_SUFFIX}"):
        if not Path(str(table).removesuffix(_TABLE_SUFFIX)).exists():
            table.unlink(missing_ok=True)


class _NoGenerations:
    """Stands in when generations cannot be kept: nothing is stored, every page rendered."""

    def read(self, names: tuple[str, ...]) -> None:
        return None

    def bump(self, names: Iterable[str]) -> None:
        pass


@functools.cache
def get_generations() -> Generations:
    """Return this process's generations: in Redis if REDIS_URL is set, else in the file."""
    if settings.REDIS_URL:
        return RedisGenerations(fail_fast_client(settings.REDIS_URL))
    path = _table_path()
    try:
        if path.name.endswith(_TABLE_SUFFIX):
            _remove_orphans(path.parent)
        return FileGenerations(path)
    except OSError as error:
        logger.warning("The guest page cache is off, %s cannot be used: %s", path, error)
        return _NoGenerations()


def bump_on_commit(*names: str) -> None:
    """Bump `names` once the current transaction commits (at once outside of one).

    After the commit, not before: a guest page rendered in between from the old rows
    would otherwise be stored under the new generations and served until it expired.
    """
    transaction.on_commit(lambda: get_generations().bump(names), robust=True)


def invalidate_all() -> None:
    """Stop serving every stored page, in every process (they share EVERY_PAGE)."""
    pages.clear()
    get_generations().bump([EVERY_PAGE])


def forget() -> None:
    """Forget this process's generations backend, closing its subscription (for tests)."""
    if get_generations.cache_info().currsize:
        generations = get_generations()
        if isinstance(generations, RedisGenerations):
            generations.close()  # its thread would listen on for nobody
    get_generations.cache_clear()
