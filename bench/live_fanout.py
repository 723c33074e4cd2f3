"""Live fan-out benchmark: how fast one reply reaches N open topic streams.

Starts a throwaway Sala (production mode, Redis-backed live bus, `sala serve --interface
asgi --workers 2`) on a free port of 127.0.0.1, opens N Server-Sent Events streams to one
topic with raw asyncio sockets, waits until every stream has its first `browsing` event,
measures the server's memory, posts ONE reply through `sala.forums.services.reply` in
this process and times how long each stream takes to receive its `event: reply`.

    .venv/bin/python bench/live_fanout.py --connections 1000 --results bench/RESULTS.md

PostgreSQL is used when BENCH_DATABASE_URL is set, else a SQLite file in the temporary
data folder. Redis database 10 on 127.0.0.1:6379 is flushed before and after. A run
stops by itself within about three minutes, whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from procinfo import command_output, descendants, machine, replace_section, rss_kib

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/10"
HOST = "127.0.0.1"
TARGET_SECONDS = 1.0
TARGET_SHARE = 0.95
#: Time budgets (seconds); together with set-up and shut-down they stay under 3 minutes.
SERVER_START_BUDGET = 30.0
CONNECT_BUDGET = 90.0
REPLY_BUDGET = 20.0
STOP_BUDGET = 10.0
#: With --settle: the longest wait for the `browsing` events to stop before the reply.
SETTLE_BUDGET = 30.0
#: How many connection attempts may be in flight at once.
OPENING_AT_ONCE = 100
SECTION = "## Live fan-out"


# --- Set-up -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def raise_fd_limit(connections: int) -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE so the client (and the server, which inherits it) fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections * 2 + 512
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def bench_environment(data_dir: Path, connections: int) -> dict[str, str]:
    database = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{data_dir / 'db.sqlite3'}"
    return {
        "DJANGO_SETTINGS_MODULE": "sala.settings",
        "DATABASE_URL": database,
        "SALA_DATA_DIR": str(data_dir),
        "SALA_DEBUG": "0",
        "SALA_HTTPS": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECRET_KEY": "bench-key-" + "x" * 50,
        "SALA_LOG_LEVEL": "WARNING",
        "REDIS_URL": REDIS_URL,
        "SALA_LIVE_STREAMS_PER_ADDRESS": str(max(5000, connections * 2)),
        "EMAIL_URL": "dummy://",
    }


def flush_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()


def prepare_django() -> tuple[Any, Any]:
    """Migrate, collect static files and create a forum, a member and a topic."""
    import django

    django.setup()
    from django.core.management import call_command

    from sala.accounts.services import create_member
    from sala.forums import services as forum_services
    from sala.forums.models import Category, Forum

    call_command("migrate", verbosity=0, interactive=False)
    call_command("collectstatic", verbosity=0, interactive=False)
    member = create_member(username="bench", email="bench@example.org", password=None)
    category = Category.objects.create(name="Bench", position=1)
    forum = Forum.objects.create(category=category, name="Bench forum", position=1)
    topic = forum_services.create_topic(
        forum=forum, author=member, title="Fan-out", text="The benchmark's topic."
    )
    return topic, member


# --- The server -----------------------------------------------------------------------------


def start_server(
    env: dict[str, str], port: int, workers: int, log: Path
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        *("-m", "sala", "serve", "--interface", "asgi"),
        *("--workers", str(workers), "--port", str(port), "--grace", "5"),
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stopping it takes the workers
        )
    deadline = time.monotonic() + SERVER_START_BUDGET
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"The server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/", timeout=2):
                pass
        except urllib.error.HTTPError:
            pass
        except OSError:
            time.sleep(0.2)
            continue
        if len(server_pids(process.pid)) > workers:
            return process
        time.sleep(0.2)
    raise TimeoutError(f"The server did not answer within {SERVER_START_BUDGET} s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_BUDGET)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def server_pids(main: int) -> list[int]:
    """Return the server's main pid and all its descendants (granian's workers)."""
    return [main, *descendants(main)]


def server_rss(main: int) -> dict[int, int]:
    return {pid: rss_kib(pid) for pid in server_pids(main)}


def server_threads(main: int) -> int:
    """Return how many threads the server's processes have, all together."""
    total = 0
    for pid in server_pids(main):
        with contextlib.suppress(OSError):
            total += len(list(Path(f"/proc/{pid}/task").iterdir()))
    return total


# --- The clients ----------------------------------------------------------------------------


@dataclass
class Stream:
    index: int
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    replied: asyncio.Event = field(default_factory=asyncio.Event)
    reply_at: float | None = None
    browsing_events: int = 0
    error: str | None = None


@dataclass
class Run:
    started: float | None = None  # perf_counter just before the reply call
    streams: list[Stream] = field(default_factory=list)


async def hold_stream(
    stream: Stream, run: Run, port: int, topic_id: int, opening: asyncio.Semaphore
) -> None:
    writer = None
    try:
        async with opening:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(HOST, port, limit=1 << 20), timeout=30
            )
            request = (
                f"GET /live/t/{topic_id}/ HTTP/1.1\r\n"
                f"Host: {HOST}:{port}\r\n"
                "Accept: text/event-stream\r\n"
                f"User-Agent: sala-bench/{stream.index}\r\n"
                "Cache-Control: no-cache\r\n"
                "\r\n"
            )
            writer.write(request.encode())
            await writer.drain()
            status = await reader.readline()
            if b" 200 " not in status:
                stream.error = f"status {status.decode(errors='replace').strip() or 'none'}"
                return
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass  # headers
        # The body is chunked: chunk-size lines and data lines alike are read as lines;
        # only the `event:` lines matter.
        while True:
            line = await reader.readline()
            if not line:
                stream.error = stream.error or "closed by the server"
                return
            if line.startswith(b"event: browsing"):
                stream.browsing_events += 1
                stream.connected.set()
            elif line.startswith(b"event: reply") and run.started is not None:
                stream.reply_at = time.perf_counter()
                stream.replied.set()
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as error:
        stream.error = f"{type(error).__name__}: {error}"
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def post_reply(topic: Any, member: Any) -> None:
    from sala.forums import services as forum_services

    forum_services.reply(topic=topic, author=member, text="A reply for the fan-out benchmark.")


def percentile_time(times: list[float], share: float, total: int) -> float | None:
    """Return the time by which `share` of `total` streams had the reply, if they did."""
    needed = max(1, int(-(-share * total // 1)))  # ceil
    if len(times) < needed:
        return None
    return sorted(times)[needed - 1]


async def measure(
    args: argparse.Namespace, port: int, server: subprocess.Popen[bytes], topic: Any, member: Any
) -> dict[str, Any]:
    n = args.connections
    run = Run(streams=[Stream(i) for i in range(n)])
    opening = asyncio.Semaphore(OPENING_AT_ONCE)
    rss_before = server_rss(server.pid)
    threads_before = server_threads(server.pid)
    tasks = [asyncio.create_task(hold_stream(s, run, port, topic.pk, opening)) for s in run.streams]
    result: dict[str, Any] = {
        "connections": n,
        "rss_before": rss_before,
        "threads_before": threads_before,
    }
    try:
        began = time.monotonic()
        last_shown = -1
        while True:
            connected = sum(s.connected.is_set() for s in run.streams)
            failed = sum(s.error is not None for s in run.streams)
            elapsed = time.monotonic() - began
            if connected != last_shown or int(elapsed) % 5 == 0:
                print(
                    f"\r  connected {connected}/{n}, failed {failed}, {elapsed:5.1f} s",
                    end="",
                    flush=True,
                )
                last_shown = connected
            if connected + failed >= n or elapsed > CONNECT_BUDGET:
                break
            await asyncio.sleep(0.5)
        print()
        result["connect_seconds"] = round(time.monotonic() - began, 1)
        result["connected"] = connected
        result["connect_failures"] = [s.error for s in run.streams if s.error is not None]
        # Let in-flight `browsing` renders for the last arrivals go out before measuring.
        await asyncio.sleep(1)
        result["rss_after"] = server_rss(server.pid)
        result["threads_after"] = server_threads(server.pid)
        if args.settle:
            # Diagnostic: let the `browsing` events of the arrivals drain first, so the
            # figures show the reply's own fan-out rather than the queue ahead of it.
            settle_began, seen, quiet_since = time.monotonic(), -1, time.monotonic()
            while time.monotonic() - settle_began < SETTLE_BUDGET:
                total = sum(s.browsing_events for s in run.streams)
                if total != seen:
                    seen, quiet_since = total, time.monotonic()
                elif time.monotonic() - quiet_since >= args.settle:
                    break
                await asyncio.sleep(0.2)
            result["settle_seconds"] = round(time.monotonic() - settle_began, 1)
        result["browsing_before_reply"] = sum(s.browsing_events for s in run.streams)

        run.started = time.perf_counter()
        await asyncio.to_thread(post_reply, topic, member)
        result["reply_call_seconds"] = time.perf_counter() - run.started
        waiting = [s.replied.wait() for s in run.streams if s.connected.is_set()]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(REPLY_BUDGET):
                await asyncio.gather(*waiting)
        result["times"] = [s.reply_at - run.started for s in run.streams if s.reply_at]
        result["stream_errors"] = [s.error for s in run.streams if s.error is not None]
        result["browsing_total"] = sum(s.browsing_events for s in run.streams)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return result


# --- Reporting ------------------------------------------------------------------------------


def versions() -> str:
    import django
    import granian
    import redis

    server = command_output("redis-server", "--version")
    match = re.search(r"v=(\S+)", server)
    return (
        f"Python {platform.python_version()}, Django {django.__version__}, "
        f"granian {granian.__version__}, redis-py {redis.__version__}, "
        f"Redis server {match.group(1) if match else '?'}"
    )


def seconds(value: float | None) -> str:
    return "not reached" if value is None else f"{value * 1000:.0f} ms"


def summarise(result: dict[str, Any], args: argparse.Namespace, database: str) -> str:
    n = result["connections"]
    times: list[float] = result.get("times", [])
    p50 = percentile_time(times, 0.50, n)
    p95 = percentile_time(times, TARGET_SHARE, n)
    p100 = percentile_time(times, 1.0, n)
    met = p95 is not None and p95 <= TARGET_SECONDS
    before = sum(result["rss_before"].values())
    after = sum(result.get("rss_after", {}).values())
    per_connection = (after - before) / max(1, result.get("connected", 0))
    failures = n - len(times)
    errors: dict[str, int] = {}
    for error in result.get("stream_errors", []):
        errors[error] = errors.get(error, 0) + 1
    error_text = ", ".join(f"{e} (x{c})" for e, c in sorted(errors.items())) or "none"
    procs = ", ".join(
        f"{pid}: {kib / 1024:.0f}→{result.get('rss_after', {}).get(pid, 0) / 1024:.0f} MiB"
        for pid, kib in result["rss_before"].items()
    )
    lines = [
        SECTION,
        "",
        "One reply posted to a topic that N Server-Sent Events streams are watching; the "
        "time from just before `sala.forums.services.reply` is called until each stream "
        "has read its `event: reply` line.",
        "",
        f"- Date: {command_output('date', '-u')}",
        f"- Machine: {machine()}",
        f"- Versions: {versions()}",
        f"- Set-up: `sala serve --interface asgi --workers {args.workers}`, Redis live bus "
        f"({REDIS_URL}), {database}, client and server on 127.0.0.1",
        f"- Command: `{args.command}`",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| streams asked for | {n} |",
        f"| streams connected (first `browsing` event) | {result.get('connected', 0)}"
        f" in {result.get('connect_seconds', '?')} s |",
        f"| reply received by 50% | {seconds(p50)} |",
        f"| reply received by 95% | {seconds(p95)} |",
        f"| reply received by 100% | {seconds(p100)} |",
        f"| streams that did not get the reply within {REPLY_BUDGET:.0f} s | {failures} |",
        f"| stream errors | {error_text} |",
        f"| the `reply()` call itself | {result.get('reply_call_seconds', 0) * 1000:.0f} ms |",
        f"| server RSS before → after connecting | {before / 1024:.0f} → {after / 1024:.0f} MiB"
        f" ({procs}) |",
        f"| memory per connection | {per_connection:.1f} KiB |",
        f"| server threads before → after connecting | {result.get('threads_before', '?')}"
        f" → {result.get('threads_after', '?')} |",
        f"| `browsing` events received by all streams before the reply | "
        f"{result.get('browsing_before_reply', 0)} |",
        *(
            [f"| waited for `browsing` events to stop (--settle) | {result['settle_seconds']} s |"]
            if "settle_seconds" in result
            else []
        ),
        "",
        f"Target: 95% of streams within {TARGET_SECONDS:.0f} s — "
        f"**{'met' if met else 'not met'}**.",
        "",
    ]
    return "\n".join(lines)


# --- Main -----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--settle",
        type=float,
        default=0,
        help="diagnostic: before replying, wait (up to 30 s) until no `browsing` event has "
        "arrived for this many seconds",
    )
    parser.add_argument("--results", type=Path, help="write a section into this Markdown file")
    args = parser.parse_args()
    args.command = os.environ.get("BENCH_COMMAND") or shlex.join(
        ["python", "bench/live_fanout.py", *sys.argv[1:]]
    )
    soft, _ = raise_fd_limit(args.connections)
    print(f"Live fan-out: {args.connections} streams (RLIMIT_NOFILE soft {soft})")

    data_dir = Path(tempfile.mkdtemp(prefix="sala-bench-"))
    env = bench_environment(data_dir, args.connections)
    os.environ.update(env)
    database = "PostgreSQL" if os.environ.get("BENCH_DATABASE_URL") else "SQLite"
    server = None
    # The whole run is bounded: a stuck step ends in an exception, and `finally` cleans up.
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("3 min")))
    signal.alarm(175)
    try:
        flush_redis()
        print("Preparing the database and static files ...")
        topic, member = prepare_django()
        port = free_port()
        print(f"Starting `sala serve --interface asgi --workers {args.workers}` on port {port}")
        server = start_server(os.environ.copy(), port, args.workers, data_dir / "server.log")
        # One request to the topic page warms each worker a little.
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"http://{HOST}:{port}/t/{topic.pk}-{topic.slug}/", timeout=5)
        result = asyncio.run(measure(args, port, server, topic, member))
        signal.alarm(0)
        section = summarise(result, args, database)
        print()
        print(section)
        if args.results:
            replace_section(args.results, SECTION, section, missing_goes_first=False)
            print(f"Written to {args.results}")
        log = (data_dir / "server.log").read_text(errors="replace").strip()
        if log:
            lines = log.splitlines()
            print(f"Server log ({len(lines)} lines; the last 10):")
            print("\n".join(lines[-10:]))
        return 0
    finally:
        signal.alarm(0)
        if server is not None:
            stop_server(server)
        with contextlib.suppress(Exception):
            flush_redis()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
