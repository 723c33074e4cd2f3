"""Fixtures shared by every test: a real SMTP sink, a real Sala server, real Chromium.

Nothing here is a mock: mail goes over SMTP to an aiosmtpd server, pages are served by
`sala serve` in its own process against the test database, and browsers are Debian's
Chromium driven by Playwright, with every page checked by the Nu HTML Checker and axe.
"""

import asyncio
import concurrent.futures
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import redis
from aiosmtpd.controller import Controller
from django.conf import settings
from django.core.cache import cache
from django.utils import translation

from sala.core import local_memo, page_cache, rate_limits, shared_pages
from sala.core.buffered_counts import get_counter
from sala.live.bus import get_bus
from sala.live.presence import get_presence
from sala.live.slots import get_slots

# Playwright's sync API keeps an event loop running in the test thread; the database work
# pytest-django does around each test is still synchronous, so allow it in this process.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

ROOT = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def run_async[T](coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to completion on a fresh event loop in a thread of its own.

    Browser tests keep Playwright's loop running in the test thread, where asyncio.run()
    would refuse to start another.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def in_thread[**P, T](function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call `function` in a thread of its own and return its result.

    The sync test client runs async views with async_to_sync, which refuses to start in
    a thread where Playwright's event loop is running.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args, **kwargs).result()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_http(
    url: str, *, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Return once `url` answers over HTTP; fail with the process's output if it died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            raise RuntimeError(f"The server exited with {process.returncode}:\n{output}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


# --- Redis ---------------------------------------------------------------------------

#: The Redis database the tests use; each test keeps to keys of its own prefix.
REDIS_TEST_URL = "redis://127.0.0.1:6379/15"


def eventually(condition: Callable[[], bool], *, within: float = 5) -> None:
    """Wait until `condition()` holds (what another thread or process does meanwhile);
    fail the test if it has not within `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    """Return a client of the test Redis, failing the test clearly if Redis is not up."""
    client = redis.Redis.from_url(REDIS_TEST_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail(f"The tests need Redis at {REDIS_TEST_URL}.")
    yield client
    client.close()


# --- Mail -------------------------------------------------------------------------------


@dataclass
class SmtpSink:
    """A real SMTP server on 127.0.0.1 that keeps every message it receives."""

    port: int
    messages: list[Message] = field(default_factory=list)
    received: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.received:
            self.messages.append(message_from_bytes(envelope.content))
            self.received.notify_all()
        return "250 Message accepted"

    def wait_for(self, to: str, *, count: int = 1, timeout: float = 10) -> Message:
        """Return the `count`-th message sent to `to`, waiting for it to arrive."""
        deadline = time.monotonic() + timeout
        with self.received:
            while True:
                mine = [m for m in self.messages if to in (m["To"] or "")]
                if len(mine) >= count:
                    return mine[count - 1]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    subjects = [(m["To"], m["Subject"]) for m in self.messages]
                    raise AssertionError(f"No mail #{count} to {to}; got {subjects}")
                self.received.wait(remaining)

    def clear(self) -> None:
        with self.received:
            self.messages.clear()


def message_text(message: Message) -> str:
    """Return the plain-text body of `message`."""
    part = message
    if message.is_multipart():
        part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(part.get_content_charset() or "utf-8")


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[SmtpSink]:
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture
def mail(smtp_sink: SmtpSink, settings: Any) -> Iterator[SmtpSink]:
    """Send this test's mail over SMTP to the sink, starting from an empty mailbox."""
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": smtp_sink.port, "timeout": 10},
        }
    }
    smtp_sink.clear()
    yield smtp_sink


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Start each test with an empty cache, so rate limits and counts don't carry over."""
    cache.clear()
    page_cache.reset()
    shared_pages.reset()
    local_memo.clear_all()
    get_counter.cache_clear()
    get_presence.cache_clear()
    get_bus.cache_clear()
    get_slots.cache_clear()
    rate_limits.reset()
    yield
    cache.clear()
    # A view called outside the middleware (or a mail rendered in a member's language)
    # leaves its language active in this thread; the next test starts in the default.
    translation.deactivate()


@pytest.fixture(autouse=True)
def _no_rate_limits(settings: Any) -> None:
    """Let tests post as fast as they like; the tests of the limits turn them on
    (the `rate_limits_on` fixture)."""
    settings.SALA_RATE_LIMITS_ON = False


@pytest.fixture
def rate_limits_on(settings: Any) -> Any:
    """Turn the rate limits on, with their defaults; return the settings to change them."""
    settings.SALA_RATE_LIMITS_ON = True
    return settings


@pytest.fixture(autouse=True)
def _tasks_run_at_once(settings: Any) -> None:
    """Run background tasks inside the call that enqueues them (Django's ImmediateBackend).

    A test's transaction never commits, so a task stored in it would never be run: this
    way a test sees a task's effects (a mail sent) right after the call, and no runner
    thread outlives it. sala/core/tests/test_tasks.py puts the database backend back.
    """
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def _files_for_in_process_tests(settings: Any, tmp_path: Path) -> None:
    """Keep each test's uploads in its own folder; serve static files uncollected.

    Server processes started by the tests use the collected, hashed files instead.
    """
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


# --- A real server ----------------------------------------------------------------------


@dataclass
class LiveSala:
    url: str
    process: subprocess.Popen[bytes]
    env: dict[str, str]


def database_url() -> str:
    """Return a DATABASE_URL for the test database pytest-django created."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def child_environment(**overrides: str) -> dict[str, str]:
    """Return this process's environment for a child Sala process, with `overrides`.

    The test-only permission for synchronous database calls stays behind.
    """
    inherited = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return {**inherited, **overrides}


def server_environment(smtp_port: int, data_dir: Path) -> dict[str, str]:
    """Return the environment of a production-mode Sala process on the test database."""
    return child_environment(
        DATABASE_URL=database_url(),
        SALA_DATA_DIR=str(data_dir),
        SALA_DEBUG="0",
        SALA_HTTPS="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
        SECRET_KEY="test-server-key-" + "x" * 40,
        SALA_LOG_LEVEL="WARNING",
        # Browser stories post as fast as a script can; the limits are tested in-process.
        SALA_RATE_LIMITS_ON="0",
        # The server's in-process runner runs what the server enqueues (its mail) at once,
        # but must not look for due tasks on its own: it shares the test database with
        # the `sala worker` processes of sala/core/tests/test_tasks.py.
        SALA_TASKS_POLL_SECONDS="3600",
    )


def start_server(
    env: dict[str, str], *extra: str, port: int | None = None
) -> tuple[str, subprocess.Popen[bytes]]:
    """Start `sala serve` on `port` (default: a free one); return its URL once it answers."""
    port = port or free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sala", "serve", "--port", str(port), "--workers", "1", *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for_http(url + "/", timeout=30, process=process)
    return url, process


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Collect static files once for every server the tests start."""
    data_dir = tmp_path_factory.mktemp("server-data")
    subprocess.run(
        [sys.executable, "-m", "sala", "collectstatic", "--noinput", "--verbosity", "0"],
        env=child_environment(SALA_DATA_DIR=str(data_dir), SALA_DEBUG="0"),
        check=True,
    )
    return data_dir


@contextmanager
def asgi_sala(env: dict[str, str]) -> Iterator[LiveSala]:
    """Run Sala the way `make run` does: everything, live streams included, over ASGI."""
    # Open streams never end by themselves, so give them a short grace at shutdown.
    url, process = start_server(env, "--interface", "asgi", "--grace", "2")
    try:
        yield LiveSala(url=url, process=process, env=env)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def asgi_server(
    django_db_setup: None, smtp_sink: SmtpSink, collected_static: Path
) -> Iterator[LiveSala]:
    """A Sala process serving everything over ASGI, on the test database."""
    with asgi_sala(server_environment(smtp_sink.port, collected_static)) as server:
        yield server


@pytest.fixture(scope="session")
def sala_server(
    django_db_setup: None, smtp_sink: SmtpSink, collected_static: Path
) -> Iterator[LiveSala]:
    """Run Sala in production mode in its own process, on the test database."""
    env = server_environment(smtp_sink.port, collected_static)
    url, process = start_server(env)
    yield LiveSala(url=url, process=process, env=env)
    process.terminate()
    process.wait(timeout=30)


# --- A real browser, with every page checked ----------------------------------------------


class PageChecker:
    """Check pages with the Nu HTML Checker (no errors) and axe-core (no serious issues)."""

    def __init__(self, vnu_url: str) -> None:
        self.vnu_url = vnu_url
        self.axe_source = (ROOT / "node_modules/axe-core/axe.min.js").read_text()

    def html_errors(self, html: str) -> list[str]:
        request = urllib.request.Request(
            self.vnu_url + "/?out=json",
            data=html.encode(),
            headers={"Content-Type": "text/html; charset=utf-8"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            report = json.load(response)
        return [
            f"line {m.get('lastLine')}: {m['message']} [{m.get('extract', '').strip()}]"
            for m in report["messages"]
            if m["type"] == "error" or m.get("subType") == "fatal"
        ]

    def accessibility_violations(self, page: Any) -> list[str]:
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            # Evaluated through DevTools, so the page's CSP (no inline script) still holds.
            page.evaluate(self.axe_source + "\n;undefined")
        result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        return [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
            for v in result["violations"]
            if v["impact"] in {"serious", "critical"}
        ]

    def check(self, page: Any) -> None:
        """Fail the test if the page's HTML is invalid or it has serious a11y violations."""
        problems = self.html_errors(page.content()) + self.accessibility_violations(page)
        assert not problems, f"{page.url}:\n" + "\n".join(problems)


@pytest.fixture(scope="session")
def page_checker() -> Iterator[PageChecker]:
    port = free_port()
    jar = ROOT / "node_modules/vnu-jar/build/dist/vnu.jar"
    process = subprocess.Popen(
        [
            "java",
            "-Xss8m",
            "-Dnu.validator.servlet.bind-address=127.0.0.1",
            "-cp",
            str(jar),
            "nu.validator.servlet.Main",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for_http(url + "/", timeout=60, process=process)
    yield PageChecker(url)
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
