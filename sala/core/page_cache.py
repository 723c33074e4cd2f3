"""The guest page cache: whole pages rendered for guests, served again from each worker's memory.

Guests are most of a forum's readers and all see the same page, so the first guest read
of a page renders it and the next ones get the stored bytes and headers without touching
the database. A page is kept fresh by generations: counters named after what a page shows
(`topic_generation(7)`, `forum_generation(2)`, `INDEX`, `EVERY_PAGE`). A view declares the
ones its page depends on before reading anything (`depend_on`); the page is stored with
their values; every write bumps the ones it changes after it commits (`bump_on_commit`),
and a stored page whose generations moved is never served again. A short time to live
(SALA_GUEST_CACHE_SECONDS) bounds what no write announces: view counts, who is online,
a member's new name. docs/subsystems/caching.md has the whole design.

With REDIS_URL the generations live in Redis and each process mirrors the values it read,
dropping them as it hears of bumps through pub/sub, so a bump reaches every worker on
every node within moments and a cached read costs no round trip; when Redis does not
answer, pages are rendered as if nothing were cached, never an error. Without it they
live in a small table of counters in a file every process on this machine maps into
memory (beside the SQLite database), so all of `sala serve`'s workers see a bump at once
without a server.

Under WSGI, GuestPageCacheFront answers hits before Django's handler runs, with the
headers Django sent for the page; the middleware answers the rest (and under ASGI).
"""

import fcntl
import functools
import hashlib
import logging
import mmap
import os
import re
import struct
import tempfile
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import redis
from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest
from django.core.signals import setting_changed
from django.db import close_old_connections, connections, transaction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.urls.base import get_urlconf
from django.utils import translation
from redis.backoff import NoBackoff
from redis.client import PubSub
from redis.connection import Connection
from redis.retry import Retry
from redis.utils import str_if_bytes

from sala.core.redis_client import OutageGuard, fail_fast_client

logger = logging.getLogger(__name__)

#: Every page depends on it: bumped when something every page shows changes (the names
#: and order of categories and forums, in breadcrumbs and lists) and by `invalidate_all`.
EVERY_PAGE = "every-page"
#: The forum index: each forum's counts and latest post.
INDEX = "index"


def forum_generation(forum_id: int) -> str:
    """Return the generation of a forum's pages: its list of topics, their counts."""
    return f"forum:{forum_id}"


def topic_generation(topic_id: int) -> str:
    """Return the generation of all of a topic's pages: what each shows of the topic (its
    title, state, page count, recommended posts)."""
    return f"topic:{topic_id}"


def topic_page_generation(topic_id: int, page: int) -> str:
    """Return the generation of one page of a topic: its posts. A reply that lands on
    the last page bumps only that page's, so readers of the first page keep their copy."""
    return f"topic:{topic_id}:page:{page}"


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
#: The response header that says whether a guest page was served from the cache.
CACHE_HEADER = "X-Sala-Cache"

OnHit = Callable[[HttpRequest], None]


# --- Generations ------------------------------------------------------------------------


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
            _pages.clear()
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
    _pages.clear()
    get_generations().bump([EVERY_PAGE])


def reset() -> None:
    """Forget this process's stored pages, generations backend (closing its subscription),
    `once_in` keys and remembered answers (for tests)."""
    _pages.clear()
    _recent.clear()
    _languages.clear()
    _hosts.clear()
    _known.clear()
    _settings_entries.cache_clear()
    if get_generations.cache_info().currsize:
        generations = get_generations()
        if isinstance(generations, RedisGenerations):
            generations.close()  # its thread would listen on for nobody
    get_generations.cache_clear()


@receiver(setting_changed)
def _settings_changed(**kwargs: Any) -> None:
    # Only tests change settings while running: a page rendered under the old ones (another
    # live server, another Redis) must not answer under the new.
    reset()


# --- The stored pages -------------------------------------------------------------------

#: (path, query string, language): what a guest page may differ by.
Key = tuple[str, str, str]


@dataclass(frozen=True)
class CachedPage:
    body: bytes
    headers: dict[str, str]
    generation_names: tuple[str, ...]
    generation_values: tuple[int, ...]
    on_hit: OnHit | None
    expires: float
    size: int
    #: The headers Django sent with the page when the middleware answered with it, over
    #: HTTPS (True) and over HTTP (False), for GuestPageCacheFront to send as they were.
    sent_headers: dict[bool, list[tuple[str, str]]] = field(default_factory=dict)

    def response(self) -> HttpResponse:
        return HttpResponse(self.body, headers=self.headers)


class Stored(Protocol):
    """What a PageStore keeps: something with a size in bytes and a moment it expires."""

    @property
    def expires(self) -> float: ...

    @property
    def size(self) -> int: ...


class PageStore[K: Hashable, P: Stored]:
    """Pages in this process's memory, the least recently read dropped past `max_bytes`."""

    def __init__(self) -> None:
        self._pages: OrderedDict[K, P] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: K, now: float) -> P | None:
        """Return the page stored under `key` unless it expired before `now`."""
        with self._lock:
            page = self._pages.get(key)
            if page is None:
                return None
            if page.expires <= now:
                self._remove(key)
                return None
            self._pages.move_to_end(key)
            return page

    def put(self, key: K, page: P, *, max_bytes: int) -> None:
        if page.size > max_bytes:
            return
        with self._lock:
            if key in self._pages:
                self._remove(key)
            self._pages[key] = page
            self._bytes += page.size
            while self._bytes > max_bytes:
                self._remove(next(iter(self._pages)))

    def discard(self, key: K, page: P) -> None:
        """Drop `page` from `key`, unless another request stored a newer one meanwhile."""
        with self._lock:
            if self._pages.get(key) is page:
                self._remove(key)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._pages)

    @property
    def size(self) -> int:
        return self._bytes

    def _remove(self, key: K) -> None:
        self._bytes -= self._pages.pop(key).size


_pages: PageStore[Key, CachedPage] = PageStore()


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


# --- Which requests, which responses ----------------------------------------------------

#: The only query strings a cached page may have: a topic's `?page=`, a forum's `?after=`.
_PAGE_QUERY = re.compile(r"page=[0-9]{1,9}|after=[0-9]{1,20}_[0-9]{1,19}")
#: Besides the session's, cookies that may make a page a guest's own: a message for them.
_PERSONAL_COOKIES = (CookieStorage.cookie_name,)
#: Response headers a page may vary by and still be shared by every guest: the language
#: is in the key, and guests send no session cookie.
_SHARED_VARY = frozenset({"accept-language", "cookie"})
#: Where the view's facts about its page wait for the response, on the request.
_KEY_ATTRIBUTE = "_sala_guest_page_key"
_FACTS_ATTRIBUTE = "_sala_guest_page_facts"


def _guest_key(request: HttpRequest) -> Key | None:
    """Return the key of the page `request` asks for, if a guest may share it; else None."""
    if request.method not in ("GET", "HEAD") or settings.SALA_GUEST_CACHE_SECONDS <= 0:
        return None
    meta = request.META
    query = meta.get("QUERY_STRING", "")
    if query and not _PAGE_QUERY.fullmatch(query):
        return None
    if "HTTP_AUTHORIZATION" in meta:
        return None
    if "HTTP_COOKIE" in meta:
        cookies = request.COOKIES
        if settings.SESSION_COOKIE_NAME in cookies or any(
            name in cookies for name in _PERSONAL_COOKIES
        ):
            return None
    return (request.path, query, _language(request))


def _language(request: HttpRequest) -> str:
    """Return the language LocaleMiddleware will choose for `request` (cookie, then
    Accept-Language, then the default)."""
    prefixed, _default = is_language_prefix_patterns_used(get_urlconf() or settings.ROOT_URLCONF)
    if prefixed:
        return translation.get_language_from_request(request, check_path=True)
    cookie = None
    if "HTTP_COOKIE" in request.META:
        cookie = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    # Browsers send a few dozen different headers, not thousands: remember the answers.
    asked = (cookie, request.META.get("HTTP_ACCEPT_LANGUAGE", ""))
    language = _languages.get(asked)
    if language is None:
        language = translation.get_language_from_request(request)
        if len(_languages) < 1000:
            _languages[asked] = language
    return language


_languages: dict[tuple[str | None, str], str] = {}


@dataclass(frozen=True)
class _PageFacts:
    names: tuple[str, ...]
    values: tuple[int, ...]
    on_hit: OnHit | None


def depend_on(request: HttpRequest, *names: str, on_hit: OnHit | None = None) -> None:
    """Let the page answering `request` be stored for guests, under the current values
    of `names` (and EVERY_PAGE); call it before the view reads anything the page shows.

    `on_hit(request)` is called when the stored page answers a later request instead of
    the view: what the view and the middleware below the cache record for a guest read.
    Does nothing for members and for requests the cache does not take.
    """
    if getattr(request, _KEY_ATTRIBUTE, None) is None:
        return
    if request.user.is_authenticated:
        return
    names = (EVERY_PAGE, *names)
    values = get_generations().read(names)
    if values is not None:
        setattr(request, _FACTS_ATTRIBUTE, _PageFacts(names, values, on_hit))


def _storable(request: HttpRequest, response: HttpResponse, key: Key) -> bool:
    """Return whether `response` is the same for every guest and safe to send again."""
    if response.status_code != 200 or response.streaming or response.cookies:
        return False
    if request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):
        return False  # the page holds a CSRF token, which belongs to one visitor only
    if response.get("Content-Language", key[2]) != key[2]:
        return False
    if "private" in response.get("Cache-Control", "") or "no-store" in response.get(
        "Cache-Control", ""
    ):
        return False
    vary = {field.strip().lower() for field in response.get("Vary", "").split(",")} - {""}
    if not vary <= _SHARED_VARY:
        return False
    # A nonce must be new on every response; a page whose scripts needed one is rendered
    # every time. Sala's pages load scripts from files only, so their policy has none.
    policies = response.get("Content-Security-Policy", "") + response.get(
        "Content-Security-Policy-Report-Only", ""
    )
    return "'nonce-" not in policies


class GuestPageCacheMiddleware:
    """Answer a guest's read from a stored page when its generations still hold.

    Sits above sessions, CSRF, auth and messages (and the CSP middleware, whose header is
    stored with the page), so a hit runs none of them: a dict lookup, one read of the
    generations, the page's `on_hit`, and bytes out.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = _guest_key(request)
        if key is None:
            return self.get_response(request)
        answered, stale = self._answer_stored(request, key)
        if answered is not None:
            return answered
        if stale is None:
            return self._render(request, key)
        # A write made the page stale: one render of it at a time in this process, and
        # guests who ask for it meanwhile (a busy topic, a reply) get that render's copy.
        # The stale copy stays until then, so each of them knows to wait.
        lock = _render_locks[hash(key) % len(_render_locks)]
        if not lock.acquire(timeout=RENDER_WAIT_SECONDS):
            return self._render(request, key)
        try:
            answered, stale = self._answer_stored(request, key)
            if answered is not None:
                return answered
            response = self._render(request, key)
            if stale is not None:
                _pages.discard(key, stale)  # the render stored nothing in its place
            return response
        finally:
            lock.release()

    def _answer_stored(
        self, request: HttpRequest, key: Key
    ) -> tuple[HttpResponse | None, CachedPage | None]:
        """Answer from the page stored under `key` if its generations hold; else return
        None, and the page if one is stored but stale (its generations moved)."""
        page = _pages.get(key, time.monotonic())
        if page is None:
            return None, None
        current = get_generations().read(page.generation_names)
        if current == page.generation_values:
            request.get_host()  # refuse hosts outside ALLOWED_HOSTS, as a render would
            if page.on_hit is not None:
                page.on_hit(request)
            request.META[_ANSWERED_WITH] = page  # for the front, to learn its headers
            return page.response(), None
        if current is None:
            # Redis is out: pages stored before may have missed bumps meanwhile.
            _pages.clear()
            return None, None
        return None, page

    def _render(self, request: HttpRequest, key: Key) -> HttpResponse:
        setattr(request, _KEY_ATTRIBUTE, key)
        response = self.get_response(request)
        facts: _PageFacts | None = getattr(request, _FACTS_ATTRIBUTE, None)
        if facts is not None and _storable(request, response, key):
            self._store(key, response, facts)
            response[CACHE_HEADER] = "miss"
        return response

    def _store(self, key: Key, response: HttpResponse, facts: _PageFacts) -> None:
        body = response.content
        headers = dict(response.items())
        headers[CACHE_HEADER] = "hit"
        seconds = min(settings.SALA_GUEST_CACHE_SECONDS, MAX_SECONDS)
        size = len(body) + sum(len(name) + len(value) for name, value in headers.items()) + 500
        page = CachedPage(
            body=body,
            headers=headers,
            generation_names=facts.names,
            generation_values=facts.values,
            on_hit=facts.on_hit,
            expires=time.monotonic() + seconds,
            size=size,
        )
        _pages.put(key, page, max_bytes=settings.SALA_GUEST_CACHE_MB * 1024 * 1024)


#: Locks that keep renders of one page to one at a time per process, a page's by its key's
#: hash (two pages sharing one wait for each other now and then).
_render_locks = tuple(threading.Lock() for _ in range(64))
#: How long a guest waits for another thread's render of their page before rendering it.
RENDER_WAIT_SECONDS = 5.0


# --- In front of Django -----------------------------------------------------------------

#: Where the middleware leaves the page it answered with, in the WSGI environ.
_ANSWERED_WITH = "sala.guest_page"


class GuestPageCacheFront:
    """Answer guest hits in front of Django's WSGI handler, as the middleware would.

    A hit through Django costs its request cycle (signals, a request object, the response
    object, two middleware) several times what the hit itself does. The front answers
    what the middleware would answer with a stored page, with the same checks, and hands
    everything else to Django: requests the middleware would not take (`_guest_key`),
    a host outside ALLOWED_HOSTS (Django answers 400 and logs it), a request
    SecurityMiddleware would redirect to HTTPS (or knows exempt), a page whose
    generations moved (the middleware drops it and renders), and a page whose headers
    the front has not seen yet. It learns them from the first hit Django sends for the
    page, over HTTPS and over HTTP apart (HSTS is for HTTPS only): a hit carries what
    every middleware above the cache added, as they added it.

    Django's request_started and request_finished signals are not sent for a hit
    answered here: they would cost more than the hit. Of what their receivers do, what
    matters after an `on_hit` (which may write buffered counts) is done: a database
    connection past CONN_MAX_AGE or broken is closed. If `on_hit` raises, Django answers
    the request instead, through the middleware (which records the hit again).
    """

    def __init__(self, application: WSGIApplication) -> None:
        self.application = application

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        signature = _signature(environ)
        known = _known.get(signature) if signature is not None else None
        if known is not None:
            try:
                answered = self._answer(known, _HitRequest(environ), start_response)
            except _HitNotRecorded:
                return self._through_django(environ, start_response, known.secure)
            if answered is not None:
                return answered
        # On a copy: a WSGIRequest decodes PATH_INFO in its environ, and Django's own
        # would decode it again (breaking any path that is not ASCII).
        request = WSGIRequest(environ.copy())
        key = _guest_key(request)
        if key is None:
            return self.application(environ, start_response)
        secure = request.is_secure()
        if not self._middleware_would_answer(request, secure):
            return self._through_django(environ, start_response, secure)
        known = _Known(key, secure)
        try:
            answered = self._answer(known, request, start_response)
        except _HitNotRecorded:
            answered = None
        if answered is None:
            return self._through_django(environ, start_response, secure)
        if signature is not None:
            if len(_known) >= KNOWN_REQUESTS:
                _known.clear()
            _known[signature] = known
        return answered

    def _answer(
        self, known: "_Known", request: HttpRequest, start_response: StartResponse
    ) -> list[bytes] | None:
        """Answer with the stored page `known` names if it is current and its headers are
        learnt, recording the hit; return None to let Django answer instead. Raise
        _HitNotRecorded if `on_hit` failed: Django answers, and records, instead."""
        page = _pages.get(known.key, time.monotonic())
        if page is None:
            return None
        headers = page.sent_headers.get(known.secure)
        if (
            headers is None
            or get_generations().read(page.generation_names) != page.generation_values
        ):
            return None
        if page.on_hit is not None:
            try:
                self._record_hit(page.on_hit, request)
            except Exception as error:
                raise _HitNotRecorded from error
        start_response("200 OK", headers)
        return [page.body]

    def _middleware_would_answer(self, request: HttpRequest, secure: bool) -> bool:
        """Return whether the middleware would get to answer `request`: no HTTPS redirect
        before it, and a host it accepts."""
        if settings.SECURE_SSL_REDIRECT and not secure:
            return False
        return _allowed_host(request, secure)

    def _record_hit(self, on_hit: OnHit, request: HttpRequest) -> None:
        try:
            on_hit(request)
        finally:
            # What request_finished does for the database (close a connection past its
            # age or broken), without the signals themselves, which cost more than a hit.
            close_old_connections()

    def _through_django(
        self, environ: WSGIEnvironment, start_response: StartResponse, secure: bool
    ) -> Iterable[bytes]:
        """Let Django answer; if the middleware answered with a stored page, keep the
        headers Django sent with it."""

        def start_and_learn(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            page: CachedPage | None = environ.get(_ANSWERED_WITH)
            if (
                page is not None
                and status.startswith("200 ")
                and not any(name.lower() == "set-cookie" for name, _ in headers)
            ):
                page.sent_headers[secure] = list(headers)
            return start_response(status, headers, exc_info)

        return self.application(environ, start_and_learn)


class _HitNotRecorded(Exception):
    """A hit's `on_hit` failed in front of Django (the page goes through Django)."""


@dataclass(frozen=True)
class _Known:
    """What the checks in front of Django made of a request: its page's key, and whether
    it came over HTTPS (its host allowed, no redirect due)."""

    key: Key
    secure: bool


#: The environ entries every check in front of Django reads for a request without
#: cookies or credentials: the method, the path and query, the language asked for, the
#: scheme, and the host (see _settings_entries for the headers settings add).
_SIGNATURE_ENTRIES = (
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "HTTP_ACCEPT_LANGUAGE",
    "wsgi.url_scheme",
    "HTTP_HOST",
    "SERVER_NAME",
    "SERVER_PORT",
)
#: The longest signature (in characters of its entries) worth remembering: requests
#: with longer headers are checked in full, and cannot make `_known` grow large.
MAX_SIGNATURE = 1000
#: How many requests `_known` remembers (a few per page a site's guests read); past that
#: it starts afresh.
KNOWN_REQUESTS = 10_000
#: Requests already checked in full, by signature, with what the checks made of them: a
#: request with the same signature gets the same answers, so only the page is looked up.
_known: dict[tuple[object, ...], _Known] = {}


def _signature(environ: WSGIEnvironment) -> tuple[object, ...] | None:
    """Return what the checks in front of Django read of `environ`; None for a request
    with cookies or credentials (which the checks read in full every time)."""
    if "HTTP_COOKIE" in environ or "HTTP_AUTHORIZATION" in environ:
        return None
    signature = (*map(environ.get, _SIGNATURE_ENTRIES), *map(environ.get, _settings_entries()))
    if sum(len(entry) for entry in signature if isinstance(entry, str)) > MAX_SIGNATURE:
        return None
    return signature


@functools.cache
def _settings_entries() -> tuple[str, ...]:
    """Return the headers the checks read only under some settings: the proxy's scheme
    header (SECURE_PROXY_SSL_HEADER) and the forwarded host and port (USE_X_FORWARDED_*).
    Left out otherwise, since Django ignores them: any value a client sends in them would
    only make more signatures."""
    entries = []
    if settings.SECURE_PROXY_SSL_HEADER:
        entries.append(settings.SECURE_PROXY_SSL_HEADER[0])
    if settings.USE_X_FORWARDED_HOST:
        entries.append("HTTP_X_FORWARDED_HOST")
    if settings.USE_X_FORWARDED_PORT:
        entries.append("HTTP_X_FORWARDED_PORT")
    return tuple(entries)


class _HitRequest(HttpRequest):
    """The request an `on_hit` gets for a hit answered from a known signature: its
    method, path and META (the environ, read only), no cookies. Building Django's
    WSGIRequest (body stream, content type, decoded paths) costs more than the hit."""

    def __init__(self, environ: WSGIEnvironment) -> None:
        self.META = environ
        self.method = environ["REQUEST_METHOD"]
        self.path = self.path_info = environ.get("PATH_INFO", "")
        self.COOKIES = {}


def _allowed_host(request: HttpRequest, secure: bool) -> bool:
    """Return whether `request.get_host()` accepts the request's host.

    Remembered by what get_host reads, for the few hosts a site is reached by: checking
    against ALLOWED_HOSTS would be a good part of a hit's time in front of Django.
    """
    meta = request.META
    asked = (
        meta.get("HTTP_HOST"),
        meta.get("HTTP_X_FORWARDED_HOST"),
        meta.get("SERVER_NAME"),
        meta.get("SERVER_PORT"),
        meta.get("HTTP_X_FORWARDED_PORT"),
        secure,
    )
    allowed = _hosts.get(asked)
    if allowed is None:
        try:
            request.get_host()
            allowed = True
        except DisallowedHost:
            allowed = False
        if len(_hosts) < 1000:
            _hosts[asked] = allowed
    return allowed


_hosts: dict[tuple[str | bool | None, ...], bool] = {}
