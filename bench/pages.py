"""Page benchmark: Sala's pages under wrk, beside Spirit and nginx serving the same topic.

Fills a scratch PostgreSQL database (`sala_bench`) with `sala bench_data`, serves it the
way production does (`sala serve --workers 2`, SALA_DEBUG=0, Redis db 10 for the cache,
presence and the live bus) and measures each page with `wrk -t2 -c32 --latency`: the
first and the last page of the big topic as a guest and as a member, the busiest and a
quiet forum, the forum index, a profile, and replies posted at a steady rate while
readers load the topic. In the same session it installs django-spirit from PyPI into a
venv of its own, gives Spirit the same topic (the first page's posts, same text) and
measures its topic page with the same command; and nginx serves Sala's own topic page
bytes as a static file, the ceiling. Sala's figures are reported as ratios to both.

    .venv/bin/python bench/pages.py --quick --results bench/RESULTS.md   # about 2 minutes
    .venv/bin/python bench/pages.py --results bench/RESULTS.md           # the full run

Needs PostgreSQL (user postgres, no password) and Redis on 127.0.0.1; the databases
`sala_bench` and `spirit_bench` are made anew and dropped afterwards (kept with
--keep-temp), Redis db 10 is flushed before and after. wrk and nginx are installed
with apt-get when missing. Every process it starts is stopped, and its temporary
folders removed, however the run ends.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.cookiejar
import json
import os
import platform
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from procinfo import children, command_output, descendants, machine, replace_section, rss_kib

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
HOST = "127.0.0.1"
POSTGRES = "postgres://postgres@127.0.0.1:5432"
SALA_DATABASE = "sala_bench"
SPIRIT_DATABASE = "spirit_bench"
REDIS_URL = "redis://127.0.0.1:6379/10"
SECRET_KEY = "bench-only-secret-key-" + "k" * 40
#: The Python that serves Spirit, in a venv of its own (BENCH_SPIRIT_PYTHON): Spirit 0.14
#: wants Django 5.2, not Sala's 6.1; pyenv's Python 3.12 serves it.
SPIRIT_PYTHON = Path(
    os.environ.get("BENCH_SPIRIT_PYTHON", "/root/.pyenv/versions/3.12.1/bin/python")
)
SPIRIT_REQUIREMENTS = ("django-spirit==0.14.*", "gunicorn", "psycopg[binary]")
#: What every measurement runs with, as the targets are stated: server workers, wrk
#: threads and connections.
WORKERS = 2
THREADS = 2
CONNECTIONS = 32
#: wrk gives up on a request after this long and counts it as a timeout error: long
#: enough that a slow server's latency is measured rather than cut off at wrk's 2 s.
WRK_TIMEOUT = "10s"
#: A 1-minute load average above this, before or after, marks the figures as taken on a
#: busy machine (2 cores: one fully busy process elsewhere shows as about 1).
BUSY_LOAD = 0.7
SECTION = "## Pages"
#: Of the 32 connections while posting: how many post (the rest read).
POSTERS = 16
#: The members the bench signs in as, on Sala and on Spirit alike: one per connection,
#: as 32 readers would be, rather than one member whose every view updates one row.
MEMBER_NAMES = [f"benchreader{n:02}" for n in range(1, CONNECTIONS + 1)]
MEMBER_PASSWORD = "a bench password nobody uses"  # noqa: S105  (throwaway members)
#: How many of the community's busiest topics the replies are spread over.
REPLY_TOPICS = 10


@dataclass(frozen=True)
class Plan:
    """How big the community is and how long each measurement runs."""

    name: str
    data: tuple[str, ...]  # options for `sala bench_data`
    seconds: int  # each wrk run
    warmup: int  # an unreported wrk run before the first page of each server
    post_rate: int  # replies offered per second
    soak_requests: int  # guest topic page requests for the memory figure (0: none)
    soak_budget: int  # the longest the memory soak may take, in seconds
    alarm: int  # the whole run ends by itself after this many seconds


QUICK = Plan(
    name="QUICK",
    data=(
        *("--members", "500", "--topics", "200", "--posts", "4000"),
        *("--big-topic-posts", "2000", "--seed", "1"),
    ),
    seconds=5,
    warmup=2,
    post_rate=250,
    soak_requests=0,
    soak_budget=0,
    alarm=300,
)
FULL = Plan(
    name="full",
    data=("--seed", "1"),  # the defaults: issue 6's community, a topic of 10,000 posts
    seconds=20,
    warmup=5,
    post_rate=250,
    soak_requests=100_000,
    soak_budget=600,
    alarm=3600,
)

STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:4.0f}s] {message}", flush=True)


class BenchError(Exception):
    """A step that failed; `next_step` tells the person running the bench what to do."""

    def __init__(self, what: str, next_step: str) -> None:
        super().__init__(what)
        self.next_step = next_step


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no output)"
    return "\n".join(f"    {line}" for line in text[-lines:]) or "    (no output)"


# --- Processes and folders ----------------------------------------------------------------


class Session:
    """Own every process and temporary folder the run starts; `close` ends them all.

    Each process gets a session (and so a process group) of its own: stopping it stops
    its workers too, and a Ctrl+C in the terminal reaches only this script, which then
    stops them in order.
    """

    def __init__(self, keep: bool) -> None:
        self.keep = keep
        self._folders: list[Path] = []
        self._processes: list[subprocess.Popen[bytes]] = []
        self._lock = threading.Lock()
        self.folder = self.make_folder("sala-pages-")

    def make_folder(self, prefix: str) -> Path:
        folder = Path(tempfile.mkdtemp(prefix=prefix))
        self._folders.append(folder)
        return folder

    def start(
        self,
        command: list[str],
        *,
        log: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        with log.open("ab") as output:
            process = subprocess.Popen(
                command,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        with self._lock:
            self._processes.append(process)
        return process

    def run(
        self,
        command: list[str],
        *,
        log: Path,
        what: str,
        next_step: str,
        timeout: float,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        show_progress: bool = False,
    ) -> str:
        """Run `command` to its end and return its output; raise BenchError if it fails.

        With `show_progress`, echo its latest output line every 15 seconds.
        """
        offset = log.stat().st_size if log.exists() else 0
        process = self.start(command, log=log, env=env, cwd=cwd)
        deadline = time.monotonic() + timeout
        while True:
            try:
                code = process.wait(timeout=min(15, max(0, deadline - time.monotonic())))
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() < deadline:
                    if show_progress:
                        print(f"        {tail(log, 1).strip()}", flush=True)
                    continue
                self.stop(process)
                raise BenchError(
                    f"{what} took longer than {timeout:.0f} s; its last output:\n{tail(log)}",
                    next_step,
                ) from None
        if code != 0:
            raise BenchError(f"{what} failed (exit code {code}):\n{tail(log)}", next_step)
        with log.open("rb") as output:
            output.seek(offset)
            return output.read().decode(errors="replace")

    def stop(self, process: subprocess.Popen[bytes], grace: float = 10) -> None:
        """Stop `process` and its process group: TERM, then KILL after `grace` seconds."""
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=grace)
        # A worker may outlive its leader. The group's id is the leader's pid, which is not
        # handed to another process while the group has members, so this hits only ours.
        if group_members(process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)

    def close(self) -> None:
        with self._lock:
            processes = list(reversed(self._processes))
        for process in processes:
            self.stop(process)
        for folder in self._folders:
            if self.keep:
                print(f"Kept {folder}")
            else:
                shutil.rmtree(folder, ignore_errors=True)


def group_members(group: int) -> list[int]:
    """Return the pids of the live processes in process group `group`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                # After the command name: state, ppid, pgrp; a zombie is already gone.
                if int(fields[2]) == group and fields[0] != "Z":
                    found.append(int(entry.name))
    return found


def free_port(pair: bool = False) -> int:
    """Return a free port of 127.0.0.1 (and, with `pair`, the next one free too)."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            port = int(probe.getsockname()[1])
        if not pair:
            return port
        with socket.socket() as probe, contextlib.suppress(OSError):
            probe.bind((HOST, port + 1))
            return port
    raise BenchError("No two free ports next to each other", "close some servers and retry")


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path, budget: float) -> None:
    """Wait until `url` answers at all (any HTTP status) or raise BenchError."""
    command = shlex.join(str(part) for part in process.args)  # type: ignore[union-attr]
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(
                f"The server exited with code {process.returncode}:\n{tail(log)}",
                f"run it by hand to see why it stops: {command}",
            )
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise BenchError(
        f"{url} did not answer within {budget:.0f} s:\n{tail(log)}",
        f"run the server by hand and open the address: {command}",
    )


# --- Process memory -------------------------------------------------------------------------


def command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def page_workers(serve_pid: int) -> list[int]:
    """Return the pids of the WSGI worker processes of a `sala serve`.

    `sala serve` with REDIS_URL runs two `sala serve` children: the pages (WSGI, started
    with `--live-port 0`) and the live server (`--interface asgi`). The pages' granian
    main process forks the workers; they are the processes under it.
    """
    for child in children(serve_pid):
        arguments = command_line(child)
        if "--live-port" in arguments and "asgi" not in arguments:
            return sorted(descendants(child))
    return []


def worker_rss(serve_pid: int) -> dict[int, int]:
    return {pid: rss_kib(pid) for pid in page_workers(serve_pid)}


# --- HTTP -----------------------------------------------------------------------------------


def get(url: str, cookie: str | None = None) -> tuple[int, bytes]:
    """GET `url` without following redirects; return the status and the body."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read()


def sign_in(login_url: str, fields: dict[str, str], what: str) -> dict[str, str]:
    """Sign in through the login form like a browser; return the cookies it got."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(login_url, timeout=30) as response:
        response.read()
    cookies = {cookie.name: cookie.value or "" for cookie in jar}
    token = cookies.get("csrftoken", "")
    body = urllib.parse.urlencode({"csrfmiddlewaretoken": token, **fields}).encode()
    request = urllib.request.Request(login_url, data=body, headers={"Referer": login_url})
    try:
        with opener.open(request, timeout=30) as response:
            response.read()
    except urllib.error.HTTPError as error:
        raise BenchError(
            f"Signing in to {what} at {login_url} answered {error.code}",
            "open the sign-in page by hand; the form's field names may have changed",
        ) from None
    cookies = {cookie.name: cookie.value or "" for cookie in jar}
    if "sessionid" not in cookies:
        raise BenchError(
            f"Signing in to {what} at {login_url} gave no session cookie",
            f"check that the bench member exists and that the form's fields are {sorted(fields)}",
        )
    return cookies


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in sorted(cookies.items()))


# --- wrk ------------------------------------------------------------------------------------


@dataclass
class Load:
    """One wrk run: its command as shown in RESULTS.md and what it printed."""

    command: str
    netloc: str = ""  # the server measured, host:port
    requests: int = 0
    seconds: float = 0.0
    rate: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    non_2xx: int = 0
    socket_errors: dict[str, int] = field(default_factory=dict)
    page_bytes: int | None = None

    @property
    def errors(self) -> int:
        return self.non_2xx + sum(self.socket_errors.values())

    def error_text(self) -> str:
        if not self.errors:
            return "0"
        parts = [f"{self.non_2xx} non-2xx/3xx"] if self.non_2xx else []
        parts += [f"{count} {kind}" for kind, count in self.socket_errors.items() if count]
        return f"{self.errors} ({', '.join(parts)})"


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def parse_wrk(output: str, load: Load) -> Load:
    """Fill `load` from wrk's report; raise BenchError if it is not there."""
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not total or not rate:
        raise BenchError(
            f"wrk printed no report:\n{output[-1500:]}",
            f"run it by hand (its files are kept with --keep-temp): {load.command}",
        )
    load.requests = int(total.group(1))
    load.seconds = float(total.group(2)) * UNITS_MS[total.group(3)] / 1000
    load.rate = float(rate.group(1))
    for share, name in (("50", "p50_ms"), ("99", "p99_ms")):
        match = re.search(rf"^\s+{share}%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.MULTILINE)
        if match and load.requests:
            setattr(load, name, float(match.group(1)) * UNITS_MS[match.group(2)])
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if errors:
        load.socket_errors = dict(
            zip(("connect", "read", "write", "timeout"), map(int, errors.groups()), strict=True)
        )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    load.non_2xx = int(non_2xx.group(1)) if non_2xx else 0
    return load


class Wrk:
    """Start wrk runs in the session and read their reports."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.runs = 0
        #: Requests answered by each server (host:port), warm-ups included.
        self.sent: dict[str, int] = {}

    def start(
        self,
        url: str,
        *,
        seconds: int,
        connections: int = CONNECTIONS,
        threads: int = THREADS,
        script: Path | None = None,
        script_args: tuple[str, ...] = (),
    ) -> tuple[subprocess.Popen[bytes], Path, Load]:
        command = [
            *("wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s"),
            *("--latency", "--timeout", WRK_TIMEOUT),
        ]
        shown = list(command)
        if script:
            relative = script.relative_to(ROOT) if script.is_relative_to(ROOT) else script
            command += ["-s", str(script)]
            shown += ["-s", str(relative)]
        command.append(url)
        shown.append(url)
        if script_args:
            command += ["--", *script_args]
            shown += ["--", *(Path(a).name if a.startswith("/") else a for a in script_args)]
        self.runs += 1
        log = self.session.folder / f"wrk-{self.runs}.log"
        process = self.session.start(command, log=log)
        netloc = urllib.parse.urlsplit(url).netloc
        return process, log, Load(command=shlex.join(shown), netloc=netloc)

    def finish(self, started: tuple[subprocess.Popen[bytes], Path, Load], seconds: int) -> Load:
        process, log, load = started
        try:
            process.wait(timeout=seconds + 60)
        except subprocess.TimeoutExpired:
            self.session.stop(process)
            raise BenchError(f"wrk did not stop: {load.command}", "run it by hand") from None
        parse_wrk(log.read_text(errors="replace"), load)
        self.sent[load.netloc] = self.sent.get(load.netloc, 0) + load.requests
        return load

    def measure(
        self,
        url: str,
        *,
        seconds: int,
        script: Path | None = None,
        script_args: tuple[str, ...] = (),
    ) -> Load:
        started = self.start(url, seconds=seconds, script=script, script_args=script_args)
        return self.finish(started, seconds)


# --- Tools, databases, Redis ----------------------------------------------------------------


def ensure_tools(session: Session) -> None:
    """Install wrk and nginx from Debian's packages if they are missing."""
    os.environ["PATH"] = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin"
    missing = [tool for tool in ("wrk", "nginx") if shutil.which(tool) is None]
    if not missing:
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise BenchError(
            f"{' and '.join(missing)} not found, and apt-get can't install it here",
            f"install them yourself (Debian: `sudo apt-get install {' '.join(missing)}`)",
        )
    say(f"Installing {', '.join(missing)} with apt-get (Debian packages) ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log = session.folder / "apt-get.log"
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
    try:
        session.run(install, log=log, what="apt-get install", next_step="", timeout=300, env=env)
    except BenchError:
        # A machine that never ran `apt-get update` knows no packages yet.
        session.run(
            ["apt-get", "update", "-q"],
            log=log,
            what="apt-get update",
            next_step="check the machine reaches Debian's package mirror",
            timeout=300,
            env=env,
        )
        session.run(
            install,
            log=log,
            what="apt-get install",
            next_step=f"install them by hand: `apt-get install {' '.join(missing)}`",
            timeout=300,
            env=env,
        )


def recreate_database(name: str) -> None:
    """Drop the database `name` (sessions on it are ended) and create it empty."""
    import psycopg
    from psycopg import sql

    try:
        drop_database(name)
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True, connect_timeout=5) as pg:
            pg.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as error:
        raise BenchError(
            f"PostgreSQL on 127.0.0.1:5432 refused to make the database {name}: {error}",
            "start PostgreSQL and let the user postgres connect from 127.0.0.1 without a "
            "password (trust), or run the bench where that is so",
        ) from None


def drop_database(name: str) -> None:
    """Drop the database `name` if it is there, ending the sessions on it."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True, connect_timeout=5) as pg:
        pg.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def flush_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        client.flushdb()
    except redis.RedisError as error:
        raise BenchError(
            f"Redis at {REDIS_URL} did not answer: {error}", "start Redis on 127.0.0.1:6379"
        ) from None
    finally:
        client.close()


# --- Sala -----------------------------------------------------------------------------------


def sala_environment(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sala.settings",
        "DATABASE_URL": f"{POSTGRES}/{SALA_DATABASE}",
        "REDIS_URL": REDIS_URL,
        "SALA_DATA_DIR": str(data_dir),
        "SALA_DEBUG": "0",
        "SALA_HTTPS": "0",
        "ALLOWED_HOSTS": HOST,
        "SECRET_KEY": SECRET_KEY,
        "SALA_LOG_LEVEL": "WARNING",
        "EMAIL_URL": "dummy:",
        # The members post replies in turn, the same text each time: limits high enough
        # to let them through, so posting still pays for counting them.
        "SALA_RATE_LIMITS": "reply=1000/1,reply_new=1000/1,same_text=1000/1,"
        "replies_day=off,replies_first_day=off",
    }


#: The environment `sala serve` gets, as RESULTS.md shows it.
SHOWN_ENVIRONMENT = (
    f"SALA_DEBUG=0 SALA_HTTPS=0 ALLOWED_HOSTS={HOST} SECRET_KEY=... "
    f"DATABASE_URL={POSTGRES}/{SALA_DATABASE} REDIS_URL={REDIS_URL}"
)


@dataclass
class Community:
    """What the bench data holds that the measurements need: paths, counts, texts."""

    data_commands: list[str]
    members: int
    topics: int
    posts: int
    topic_id: int
    topic_path: str
    topic_title: str
    topic_posts: int
    last_page: int
    first_page_texts: list[str]
    busy_forum_path: str
    busy_forum_topics: int
    quiet_forum_path: str
    quiet_forum_topics: int
    profile_path: str
    profile_posts: int
    reply_topics: list[str]  # where the members post their replies
    sessions: list[dict[str, str]]  # cookies of the members after the first


#: Two forums written beside the community, so the forum-page target compares a forum
#: of 2,000 topics with one of 20 whatever the community's own forums hold.
BUSY_FORUM = ("--topics", "2000", "--posts", "6000", "--big-topic-posts", "50")
QUIET_FORUM = ("--topics", "20", "--posts", "60", "--big-topic-posts", "5")


def data_command() -> str:
    """Return the name of Sala's bench data command; raise BenchError if there is none."""
    from django.core.management import get_commands

    for name in ("bench_data", "bench-data"):
        if name in get_commands():
            return name
    raise BenchError(
        "Sala has no `bench_data` command to fill the database with",
        "update the checkout: the command comes with issue 6 (sala/benchmark/)",
    )


def newest_forum_id() -> int:
    from django.db import connections
    from django.db.models import Max

    from sala.forums.models import Forum

    try:
        return int(Forum.objects.aggregate(top=Max("pk"))["top"] or 0)
    finally:
        connections.close_all()


def fill_sala(session: Session, env: dict[str, str], plan: Plan) -> tuple[list[str], int, int]:
    """Migrate the scratch database and fill it: the community, then a forum of 2,000
    topics and one of 20 beside it. Return the commands and the two forums' ids."""
    sala = [sys.executable, "-m", "sala"]
    log = session.folder / "sala-setup.log"
    session.run(
        [*sala, "migrate", "--noinput", "--verbosity", "0"],
        log=log,
        env=env,
        what="sala migrate",
        next_step="run `make test` to see whether the migrations work on PostgreSQL",
        timeout=300,
    )
    name = data_command()
    shown: list[str] = []
    forum_ids: list[int] = []
    for number, options in enumerate(
        (
            plan.data,
            ("--append", "--forums", "1", "--members", "20", *BUSY_FORUM, "--seed", "2"),
            ("--append", "--forums", "1", "--members", "5", *QUIET_FORUM, "--seed", "3"),
        )
    ):
        before = newest_forum_id()
        command = shlex.join(["sala", name, *options])
        session.run(
            [*sala, name, *options],
            log=log,
            env=env,
            what=command,
            next_step="run that command by hand (on an empty, migrated database for the "
            "first one) to see the error",
            timeout=3600,
            show_progress=True,
        )
        shown.append(command)
        if number:
            forum_ids.append(newest_forum_id())
            if forum_ids[-1] <= before:
                raise BenchError(
                    f"`{command}` made no forum", "run it by hand and look at what it wrote"
                )
    session.run(
        [*sala, "collectstatic", "--noinput", "--verbosity", "0"],
        log=log,
        env=env,
        what="sala collectstatic",
        next_step="run `sala collectstatic --noinput` by hand",
        timeout=300,
    )
    shown.append("sala collectstatic --noinput")
    return shown, forum_ids[0], forum_ids[1]


def survey(commands: list[str], busy_id: int, quiet_id: int) -> Community:
    """Find the big topic, the two forums and the busiest poster; add the bench member."""
    from django.db import connections

    from sala.accounts.models import User
    from sala.accounts.services import create_member
    from sala.forums.models import POSTS_PER_PAGE, Forum, Post, Topic

    topic = Topic.objects.order_by("-last_number", "pk").first()
    author = User.objects.order_by("-post_count", "pk").first()
    busy = Forum.objects.filter(pk=busy_id).first()
    quiet = Forum.objects.filter(pk=quiet_id).first()
    if topic is None or author is None or busy is None or quiet is None:
        raise BenchError(
            "The bench data has no topic, member or forum after:\n    " + "\n    ".join(commands),
            "run those commands by hand and look at what they wrote",
        )
    texts = list(
        Post.objects.filter(topic=topic, number__lte=POSTS_PER_PAGE)
        .order_by("number")
        .values_list("text", flat=True)
    )
    if User.objects.filter(username__in=MEMBER_NAMES).exists():
        raise BenchError(
            f"The bench data already has members named like {MEMBER_NAMES[0]}",
            "rename MEMBER_NAMES in bench/pages.py",
        )
    for name in MEMBER_NAMES:
        create_member(username=name, email=f"{name}@example.org", password=MEMBER_PASSWORD)
    reply_topics = Topic.objects.exclude(forum_id__in=(busy_id, quiet_id)).order_by(
        "-last_number", "pk"
    )[:REPLY_TOPICS]
    community = Community(
        data_commands=commands,
        members=User.objects.count(),
        topics=Topic.objects.count(),
        posts=Post.objects.count(),
        topic_id=topic.pk,
        topic_path=topic.get_absolute_url(),
        topic_title=topic.title,
        topic_posts=topic.last_number,
        last_page=topic.page_count,
        first_page_texts=texts,
        busy_forum_path=busy.get_absolute_url(),
        busy_forum_topics=busy.topic_count,
        quiet_forum_path=quiet.get_absolute_url(),
        quiet_forum_topics=quiet.topic_count,
        profile_path=author.get_absolute_url(),
        profile_posts=author.post_count,
        reply_topics=[topic.get_absolute_url() for topic in reply_topics],
        sessions=member_sessions(MEMBER_NAMES[1:]),
    )
    connections.close_all()
    return community


def member_sessions(names: list[str]) -> list[dict[str, str]]:
    """Return the cookies of sessions made directly for the members `names`, in order.

    Only the first bench member signs in through the form: it allows 30 sign-ins a
    minute from one address, and the page views measured are the same either way.
    """
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils.crypto import get_random_string

    from sala.accounts.models import User

    engine = import_module(settings.SESSION_ENGINE)
    members = {member.username: member for member in User.objects.filter(username__in=names)}
    cookies = []
    for name in names:
        member = members[name]
        session = engine.SessionStore()
        session[SESSION_KEY] = str(member.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = member.get_session_auth_hash()
        session.save()
        cookies.append(
            {
                settings.SESSION_COOKIE_NAME: str(session.session_key),
                settings.CSRF_COOKIE_NAME: get_random_string(32),
            }
        )
    return cookies


def count_posts() -> int:
    from django.db import connections

    from sala.forums.models import Post

    try:
        return Post.objects.count()
    finally:
        connections.close_all()


def start_sala(session: Session, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    log = session.folder / "sala-serve.log"
    command = [sys.executable, "-m", "sala", "serve", "--workers", str(WORKERS)]
    server = session.start([*command, "--port", str(port)], log=log, env=env)
    wait_for(f"http://{HOST}:{port}/", server, log, budget=60)
    deadline = time.monotonic() + 20
    while len(page_workers(server.pid)) < WORKERS and time.monotonic() < deadline:
        time.sleep(0.2)
    if len(page_workers(server.pid)) < WORKERS:
        say(f"WARNING: found {len(page_workers(server.pid))} WSGI workers, not {WORKERS}")
    return server


# --- Spirit ---------------------------------------------------------------------------------

SPIRIT_SETTINGS = '''\
"""Spirit's production settings from its project template, for the bench."""

from benchsite.settings.prod import *  # noqa: F403

DEBUG = False
SECRET_KEY = {secret!r}
ALLOWED_HOSTS = [{host!r}]
ST_SITE_URL = "http://{host}:{port}/"
DATABASES = {{
    "default": {{
        "ENGINE": "django.db.backends.postgresql",
        "NAME": {database!r},
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": "5432",
    }}
}}
'''


@dataclass
class Spirit:
    """Spirit, installed in its own venv and served by gunicorn; or why it could not be."""

    port: int = 0
    venv: Path | None = None
    site: Path | None = None
    version: str = ""
    django_version: str = ""
    python_version: str = ""
    error: str | None = None
    commands: list[str] = field(default_factory=list)
    topic_path: str = ""
    login_path: str = ""
    sessions: list[dict[str, str]] = field(default_factory=list)  # members after the first
    server: subprocess.Popen[bytes] | None = None

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench_settings",
            "PYTHONPATH": str(self.site),
            "SECRET_KEY": SECRET_KEY,
        }


def prepare_spirit(session: Session, spirit: Spirit) -> None:
    """Install Spirit into a venv of its own, make its site and database; note failures."""
    log = session.folder / "spirit-setup.log"
    step = "Spirit's set-up"
    try:
        if not SPIRIT_PYTHON.exists():
            raise BenchError(
                f"{SPIRIT_PYTHON} is missing: Spirit is run on Python 3.12",
                "install Python 3.12 (e.g. `pyenv install 3.12.1`) or point "
                "BENCH_SPIRIT_PYTHON at one",
            )
        venv = session.folder / "spirit-venv"
        python = str(venv / "bin" / "python")
        step = "creating Spirit's venv"
        session.run(
            [str(SPIRIT_PYTHON), "-m", "venv", str(venv)],
            log=log,
            what=step,
            next_step="check that the python above has its venv module",
            timeout=120,
        )
        step = "installing Spirit from PyPI"
        pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        session.run(
            [*pip, *SPIRIT_REQUIREMENTS],
            log=log,
            what=step,
            next_step="check that PyPI is reachable; try the pip command by hand",
            timeout=600,
        )
        spirit.commands.append(
            f"{SPIRIT_PYTHON} -m venv VENV && VENV/bin/pip install "
            + " ".join(shlex.quote(r) for r in SPIRIT_REQUIREMENTS)
        )
        found = session.run(
            [
                python,
                "-c",
                "import importlib.metadata as m, spirit, os, platform; "
                "print(m.version('django-spirit'), m.version('django'), "
                "platform.python_version(), os.path.dirname(spirit.__file__))",
            ],
            log=session.folder / "spirit-version.log",
            what="asking Spirit's version",
            next_step="look at Spirit's venv",
            timeout=60,
        ).split()
        spirit.version, spirit.django_version, spirit.python_version = found[-4:-1]
        package = Path(found[-1])
        site = session.folder / "spirit-site"
        site.mkdir()
        step = "making Spirit's site from its project template"
        session.run(
            [
                str(venv / "bin" / "django-admin"),
                "startproject",
                f"--template={package / 'extra' / 'project_template'}",
                "benchsite",
                str(site),
            ],
            log=log,
            what=step,
            next_step="look at spirit/extra/project_template in Spirit's package",
            timeout=120,
        )
        spirit.commands.append(
            "VENV/bin/django-admin startproject --template=<spirit>/extra/project_template "
            "benchsite SITE  # settings: benchsite.settings.prod, PostgreSQL spirit_bench"
        )
        (site / "bench_settings.py").write_text(
            SPIRIT_SETTINGS.format(
                secret=SECRET_KEY, host=HOST, port=spirit.port, database=SPIRIT_DATABASE
            )
        )
        spirit.venv, spirit.site = venv, site
        recreate_database(SPIRIT_DATABASE)
        manage = [python, str(site / "manage.py")]
        for arguments in (
            ["migrate", "--noinput", "--verbosity", "0"],
            ["createcachetable"],
            ["collectstatic", "--noinput", "--verbosity", "0"],
        ):
            step = f"Spirit's `manage.py {arguments[0]}`"
            session.run(
                [*manage, *arguments],
                log=log,
                env=spirit.environment(),
                cwd=site,
                what=step,
                next_step="run it by hand in Spirit's site with its venv",
                timeout=600,
            )
        spirit.commands.append(
            "VENV/bin/python manage.py migrate && ... createcachetable && ... collectstatic"
        )
    except BenchError as error:
        spirit.error = f"{step}: {error}\nNext: {error.next_step}"
    except Exception as error:  # any surprise is reported, not fatal
        spirit.error = f"{step}: {type(error).__name__}: {error}"


def start_spirit(session: Session, spirit: Spirit, community: Community) -> None:
    """Give Spirit the bench topic and serve it with gunicorn; note failures."""
    assert spirit.venv is not None and spirit.site is not None
    wanted = session.folder / "spirit-topic.json"
    wanted.write_text(
        json.dumps(
            {
                "title": community.topic_title,
                "texts": community.first_page_texts,
                "usernames": MEMBER_NAMES,
                "password": MEMBER_PASSWORD,
            }
        )
    )
    try:
        output = session.run(
            [str(spirit.venv / "bin" / "python"), str(BENCH / "spirit_topic.py"), str(wanted)],
            log=session.folder / "spirit-topic.log",
            env=spirit.environment(),
            cwd=spirit.site,
            what="writing the topic into Spirit",
            next_step="run bench/spirit_topic.py by hand with Spirit's venv",
            timeout=300,
        )
        made = json.loads(output.strip().splitlines()[-1])
        spirit.topic_path, spirit.login_path = made["topic_path"], made["login_path"]
        spirit.sessions = [
            {"sessionid": key, "csrftoken": secrets.token_hex(16)} for key in made["sessions"]
        ]
        log = session.folder / "spirit-serve.log"
        command = [
            str(spirit.venv / "bin" / "gunicorn"),
            *("--workers", str(WORKERS), "--bind", f"{HOST}:{spirit.port}"),
            "benchsite.wsgi",
        ]
        spirit.server = session.start(command, log=log, env=spirit.environment(), cwd=spirit.site)
        spirit.commands.append(
            f"DJANGO_SETTINGS_MODULE=bench_settings VENV/bin/gunicorn --workers {WORKERS} "
            f"--bind {HOST}:{spirit.port} benchsite.wsgi  # sync workers, the default"
        )
        wait_for(f"http://{HOST}:{spirit.port}{spirit.topic_path}", spirit.server, log, 60)
    except BenchError as error:
        spirit.error = f"serving Spirit: {error}\nNext: {error.next_step}"
    except (ValueError, KeyError, IndexError) as error:
        spirit.error = f"serving Spirit: bench/spirit_topic.py printed no paths ({error})"


# --- nginx ----------------------------------------------------------------------------------

NGINX_CONF = """\
worker_processes {workers};
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    default_type text/html;
    client_body_temp_path {folder}/tmp/body;
    proxy_temp_path {folder}/tmp/proxy;
    fastcgi_temp_path {folder}/tmp/fastcgi;
    uwsgi_temp_path {folder}/tmp/uwsgi;
    scgi_temp_path {folder}/tmp/scgi;
    server {{
        listen {host}:{port};
        root {folder}/html;
    }}
}}
"""


def start_nginx(session: Session, body: bytes, port: int) -> tuple[subprocess.Popen[bytes], str]:
    """Serve `body` as /topic.html from nginx; return the server and its command."""
    # A folder of its own, readable by nginx's workers (they run as `nobody`).
    folder = session.make_folder("sala-nginx-")
    folder.chmod(0o755)
    (folder / "html").mkdir(mode=0o755)
    (folder / "tmp").mkdir()
    page = folder / "html" / "topic.html"
    page.write_bytes(body)
    page.chmod(0o644)
    conf = folder / "nginx.conf"
    conf.write_text(NGINX_CONF.format(workers=WORKERS, folder=folder, host=HOST, port=port))
    nginx = shutil.which("nginx") or "nginx"
    command = [nginx, "-p", str(folder), "-c", str(conf), "-e", str(folder / "error.log")]
    log = session.folder / "nginx.log"
    server = session.start(command, log=log)
    wait_for(f"http://{HOST}:{port}/topic.html", server, log, 20)
    shown = (
        f"nginx -p DIR -c DIR/nginx.conf  # worker_processes {WORKERS}; daemon off; "
        "access_log off; sendfile on; the page as DIR/html/topic.html"
    )
    return server, shown


# --- Reporting ------------------------------------------------------------------------------


def versions(spirit: Spirit) -> str:
    import django
    import granian
    import psycopg
    import redis

    try:
        with psycopg.connect(f"{POSTGRES}/postgres", connect_timeout=5) as pg:
            row = pg.execute("SHOW server_version").fetchone()
            postgres = str(row[0]).split()[0] if row else "?"
    except psycopg.Error:
        postgres = "?"
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        redis_server = str(client.info("server").get("redis_version", "?"))
    except redis.RedisError:
        redis_server = "?"
    finally:
        client.close()
    wrk = re.search(r"wrk (\S+)", command_output("wrk", "-v"))
    nginx = re.search(r"nginx/(\S+)", command_output(shutil.which("nginx") or "nginx", "-v"))
    spirit_text = (
        f"Spirit {spirit.version} (Django {spirit.django_version}, Python "
        f"{spirit.python_version}, gunicorn)"
        if spirit.version
        else "Spirit: not installed"
    )
    return (
        f"Python {platform.python_version()}, Django {django.__version__}, "
        f"granian {granian.__version__}, PostgreSQL {postgres}, Redis {redis_server}, "
        f"wrk {wrk.group(1) if wrk else '?'}, nginx {nginx.group(1) if nginx else '?'}, "
        f"{spirit_text}"
    )


def code_version() -> str:
    """Return the commit measured, and whether the work tree differed from it."""
    commit = command_output("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD")
    changed = command_output("git", "-C", str(ROOT), "status", "--porcelain", "--", "sala")
    if not re.fullmatch(r"[0-9a-f]{4,40}", commit):
        return "not a git checkout"
    return f"commit {commit}" + (" with uncommitted changes in sala/" if changed else "")


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f} ms" if value < 100 else f"{value:,.0f} ms"


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


@dataclass
class Verdict:
    target: str
    figure: str
    met: bool | None  # None: not measured

    def row(self) -> str:
        mark = "not measured" if self.met is None else ("**met**" if self.met else "**missed**")
        return f"| {self.target} | {self.figure} | {mark} |"


@dataclass
class Outcome:
    """Everything measured, for the report."""

    plan: Plan
    command: str
    community: Community
    pages: list[tuple[str, str, Load]] = field(default_factory=list)  # name, path, load
    posting: Load | None = None
    readers: Load | None = None
    replies_created: int = 0
    spirit: Spirit = field(default_factory=Spirit)
    spirit_guest: Load | None = None
    spirit_member: Load | None = None
    nginx: Load | None = None
    nginx_command: str = ""
    serve_command: str = ""
    rss_start: dict[int, int] = field(default_factory=dict)
    rss_end: dict[int, int] = field(default_factory=dict)
    requests_served: int = 0
    soak: list[tuple[int, dict[int, int]]] = field(default_factory=list)  # requests, RSS
    soak_command: str = ""
    guest_body: bytes = b""  # Sala's guest topic page, for nginx
    load_before: float = 0.0
    load_after: float = 0.0

    def page(self, name: str) -> Load | None:
        return next((load for n, _, load in self.pages if n == name), None)


def summarise_only(outcome: Outcome, only: str) -> str:
    """Return the section of a `--only` run: its page's row and what it ran on."""
    community = outcome.community
    return "\n".join(
        [
            f"{SECTION}, {only} only",
            "",
            f"- Run: {outcome.plan.name} ({outcome.plan.seconds} s) — `{outcome.command}`",
            f"- Date: {time.strftime('%a %d %b %Y %H:%M:%S %Z')}; code: {code_version()}",
            f"- Load average (1 min) before and after: {outcome.load_before} and "
            f"{outcome.load_after}",
            f"- Data: {community.members:,} members, {community.topics:,} topics, "
            f"{community.posts:,} posts",
            "",
            "| page | path | req/s | p50 | p99 | errors | bytes/page |",
            "| --- | --- | ---: | ---: | ---: | --- | ---: |",
            *(load_row(name, path, load) for name, path, load in outcome.pages),
            "",
        ]
    )


def clean(load: Load | None) -> bool:
    return load is not None and load.errors == 0 and load.requests > 0


def verdicts(outcome: Outcome) -> list[Verdict]:
    found: list[Verdict] = []
    guest = outcome.page("guest topic page, first page")
    guest_last = outcome.page("guest topic page, last page")
    member = outcome.page("member topic page, first page")
    busy = outcome.page("forum page, busiest forum")
    quiet = outcome.page("forum page, quiet forum")
    spirit_guest, spirit_member, nginx = outcome.spirit_guest, outcome.spirit_member, outcome.nginx

    def compare(name: str, mine: Load | None, theirs: Load | None, least: float) -> None:
        if mine is None or theirs is None or not theirs.rate:
            found.append(Verdict(name, "no figure to compare with", None))
            return
        times = mine.rate / theirs.rate
        met = times >= least and clean(mine) and clean(theirs)
        shown = f"{times:.1%}" if least < 1 else f"{times:.2f}x"
        found.append(Verdict(name, f"{shown} ({mine.rate:,.0f} vs {theirs.rate:,.0f} req/s)", met))

    def latency(name: str, load: Load | None, most: float) -> None:
        if load is None or load.p99_ms is None:
            found.append(Verdict(name, "not measured", None))
            return
        met = load.p99_ms < most and clean(load)
        found.append(Verdict(name, f"p99 {ms(load.p99_ms)}", met))

    def within(name: str, measured: Load | None, reference: Load | None, what: str) -> None:
        """Check that `measured` serves at least 1/1.2 of `reference`'s requests/s."""
        if measured is None or reference is None or not measured.rate:
            found.append(Verdict(name, "not measured", None))
            return
        times = reference.rate / measured.rate
        met = times <= 1.2 and clean(measured) and clean(reference)
        found.append(
            Verdict(
                name,
                f"{what} = {times:.2f} ({reference.rate:,.0f} / {measured.rate:,.0f} req/s)",
                met,
            )
        )

    compare("guest topic page ≥ 50x Spirit's", guest, spirit_guest, 50)
    compare("guest topic page ≥ 40% of nginx serving its bytes", guest, nginx, 0.4)
    latency("guest topic page p99 < 50 ms", guest, 50)
    spirit_for_member = spirit_member or spirit_guest
    compare(
        "member topic page ≥ 10x Spirit's"
        + (
            " (Spirit's guest page: its member page was not measured)"
            if spirit_guest and not spirit_member
            else ""
        ),
        member,
        spirit_for_member,
        10,
    )
    latency("member topic page p99 < 100 ms", member, 100)
    community = outcome.community
    within(
        f"last page of the {community.topic_posts:,}-post topic within 1.2x of its first",
        guest_last,
        guest,
        "first ÷ last page, guests",
    )
    within(
        f"forum page with {community.busy_forum_topics:,} topics within 1.2x of one with "
        f"{community.quiet_forum_topics:,}",
        busy,
        quiet,
        f"{community.quiet_forum_topics:,}-topic ÷ {community.busy_forum_topics:,}-topic forum",
    )
    if outcome.posting is not None and outcome.posting.seconds:
        per_second = outcome.replies_created / outcome.posting.seconds
        found.append(
            Verdict(
                "posting ≥ 200 replies/s on PostgreSQL with readers loaded",
                f"{per_second:,.0f} replies/s ({outcome.replies_created:,} in "
                f"{outcome.posting.seconds:.1f} s, {outcome.plan.post_rate}/s offered)",
                per_second >= 200,
            )
        )
    else:
        found.append(Verdict("posting ≥ 200 replies/s", "not measured", None))
    if len(outcome.soak) >= 3 and outcome.soak[-1][0] >= 100_000:
        half, full = outcome.soak[-2][1], outcome.soak[-1][1]
        largest = max(full.values(), default=0)
        growing = any(full.get(pid, 0) > kib * 1.05 for pid, kib in half.items())
        found.append(
            Verdict(
                "worker RSS < 150 MB after 100,000 requests, not growing (≤ 5% from 50k)",
                f"after {outcome.soak[-2][0]:,} → {outcome.soak[-1][0]:,} soak requests: "
                + ", ".join(f"{mib(half.get(p, 0))} → {mib(k)}" for p, k in full.items()),
                largest < 150 * 1000 * 1000 / 1024 and not growing,
            )
        )
    else:
        largest = max(outcome.rss_end.values(), default=0)
        reached = outcome.soak[-1][0] if outcome.soak else 0
        found.append(
            Verdict(
                "worker RSS < 150 MB after 100,000 requests, not growing",
                f"largest {mib(largest)} after {outcome.requests_served:,} requests in all"
                + (
                    f"; the soak reached {reached:,}"
                    if outcome.soak
                    else f"; no soak in a {outcome.plan.name} run"
                ),
                None,
            )
        )
    return found


def load_row(name: str, path: str, load: Load | None) -> str:
    if load is None:
        return f"| {name} | `{path}` | - | - | - | - | - |"
    size = f"{load.page_bytes:,}" if load.page_bytes is not None else "-"
    return (
        f"| {name} | `{path}` | {load.rate:,.0f} | {ms(load.p50_ms)} | {ms(load.p99_ms)} | "
        f"{load.error_text()} | {size} |"
    )


def summarise(outcome: Outcome) -> str:
    community, plan, spirit = outcome.community, outcome.plan, outcome.spirit
    head = "| page | path | req/s | p50 | p99 | errors | bytes/page |"
    rule = "| --- | --- | ---: | ---: | ---: | --- | ---: |"
    lines = [
        SECTION,
        "",
        "Each page measured alone with `wrk -t2 -c32 --latency --timeout 10s` against "
        f"`sala serve --workers {WORKERS}` (granian WSGI, production settings) on PostgreSQL "
        "and Redis; wrk, the server, PostgreSQL and Redis share the machine. Member pages "
        f"are read by {len(MEMBER_NAMES)} signed-in members in turn (bench/members.lua), "
        "one per connection. Spirit serves the same topic (the same posts, same text) and "
        "nginx serves the bytes of Sala's guest topic page as a file, both measured with "
        "the same command.",
        "",
        f"- Run: {plan.name} ({plan.seconds} s per measurement) — `{outcome.command}`",
        f"- Date: {time.strftime('%a %d %b %Y %H:%M:%S %Z')}",
        f"- Machine: {machine()}",
        f"- Versions: {versions(spirit)}",
        f"- Code: {code_version()}",
        f"- Load average (1 min) before and after: {outcome.load_before} and "
        f"{outcome.load_after}"
        + (
            " — **the machine was busy with other work: figures are pessimistic**"
            if max(outcome.load_before, outcome.load_after) > BUSY_LOAD
            else ""
        ),
        f"- Data: {community.members:,} members, {community.topics:,} topics, "
        f"{community.posts:,} posts; the big topic has {community.topic_posts:,} posts "
        f"({community.last_page:,} pages); the forums compared hold "
        f"{community.busy_forum_topics:,} and {community.quiet_forum_topics:,} topics "
        "(written beside the community by the commands below)",
        f"- Sala: `{outcome.serve_command}` (WSGI workers for pages; a live server beside "
        "them on the next port)",
        "",
        "### Sala",
        "",
        head,
        rule,
        *(load_row(name, path, load) for name, path, load in outcome.pages),
    ]
    if outcome.posting is not None:
        post_path = f"{community.topic_path}reply/"
        lines += [
            load_row(
                f"posting replies, {plan.post_rate}/s offered (POST)", post_path, outcome.posting
            ),
            load_row(
                "... readers meanwhile (guest topic page)", community.topic_path, outcome.readers
            ),
            "",
            f"Replies created while posting: {outcome.replies_created:,} "
            f"({outcome.replies_created / max(outcome.posting.seconds, 0.001):,.0f}/s), "
            f"counted in the database. {POSTERS} members posted over {CONNECTIONS - POSTERS} "
            f"connections, in turn into the {len(community.reply_topics)} topics with the "
            f"most posts (the big topic first), at a steady offered rate "
            "(bench/post_replies.lua); guests read the big topic's first page over the "
            f"other {POSTERS} connections.",
        ]
    lines += ["", "### Spirit and nginx, same machine, same command", "", head, rule]
    if spirit.error:
        lines.append("| Spirit | - | - | - | - | did not run | - |")
    else:
        lines += [
            load_row(
                f"Spirit {spirit.version}, guest topic page",
                spirit.topic_path,
                outcome.spirit_guest,
            ),
            load_row(
                f"Spirit {spirit.version}, member topic page",
                spirit.topic_path,
                outcome.spirit_member,
            ),
        ]
    lines.append(load_row("nginx, Sala's guest topic page as a file", "/topic.html", outcome.nginx))
    if spirit.error:
        first, _, rest = spirit.error.partition("\n")
        lines += ["", f"Spirit did not run: {first}"]
        if rest:
            lines += ["", "```", rest, "```"]
    lines += ["", "### Targets", "", "| target | figure | result |", "| --- | --- | --- |"]
    lines += [verdict.row() for verdict in verdicts(outcome)]
    lines += ["", "### Worker memory (RSS of each WSGI worker)", ""]
    lines.append(
        "- At start: " + ", ".join(f"{pid}: {mib(k)}" for pid, k in outcome.rss_start.items())
    )
    lines.append(
        f"- After the run ({outcome.requests_served:,} requests in all): "
        + ", ".join(f"{pid}: {mib(k)}" for pid, k in outcome.rss_end.items())
    )
    for requests, rss in outcome.soak:
        lines.append(
            (
                f"- Soak, after {requests:,} guest topic page requests: "
                if requests
                else "- Soak start: "
            )
            + ", ".join(f"{pid}: {mib(k)}" for pid, k in rss.items())
        )
    lines += ["", "### Commands", "", "```"]
    lines.append(f"# into the empty, migrated database {SALA_DATABASE}:")
    lines += community.data_commands
    lines.append(f"{SHOWN_ENVIRONMENT} \\\n    {outcome.serve_command}")
    seen: set[str] = set()
    for _, _, page in outcome.pages:
        if page.command not in seen:
            seen.add(page.command)
            lines.append(page.command)
    for load in (outcome.readers, outcome.posting):
        if load is not None:
            lines.append(load.command + "   # at the same time")
    if outcome.soak_command:
        lines.append(outcome.soak_command + "   # repeated, for the soak")
    lines += spirit.commands
    for load in (outcome.spirit_guest, outcome.spirit_member):
        if load is not None:
            lines.append(load.command)
    if outcome.nginx_command:
        lines.append(outcome.nginx_command)
    if outcome.nginx is not None:
        lines.append(outcome.nginx.command)
    lines += ["```", ""]
    return "\n".join(lines)


# --- The run --------------------------------------------------------------------------------


@dataclass
class Members:
    """The bench members signed in to one site: their cookies, as wrk scripts take them."""

    cookies: list[dict[str, str]]
    folder: Path

    def requests_file(self, name: str, lines: list[tuple[str, str, int, str]]) -> Path:
        """Write `lines` of (method, path, member index, body) for bench/members.lua."""
        path = self.folder / name
        path.write_text(
            "".join(
                f"{method}\t{where}\t{cookie_header(self.cookies[member])}\t{body}\n"
                for method, where, member, body in lines
            )
        )
        return path

    def reading(self, path: str) -> Path:
        """Return a requests file in which every member reads `path` in turn."""
        name = "read" + re.sub(r"\W+", "-", path).rstrip("-") + ".txt"
        return self.requests_file(name, [("GET", path, n, "") for n in range(len(self.cookies))])


def check_signed_in(url: str, members: Members, what: str) -> None:
    """Raise BenchError unless the first and the last member see `url` signed in."""
    for index in (0, len(members.cookies) - 1):
        status, body = get(url, cookie_header(members.cookies[index]))
        if status != 200 or MEMBER_NAMES[index].encode() not in body:
            raise BenchError(
                f"{MEMBER_NAMES[index]} is not signed in to {what} at {url} (status {status})",
                "rerun with --keep-temp and read the server log in the folder it keeps",
            )


#: The pages measured, by the short name `--only` takes.
PAGE_NAMES = (
    "topic",
    "topic-last",
    "member-topic",
    "member-topic-last",
    "forum",
    "quiet-forum",
    "index",
    "profile",
)


def measure_pages(
    outcome: Outcome,
    wrk: Wrk,
    base: str,
    members: Members,
    total: int,
    plan: Plan,
    only: str | None = None,
) -> None:
    """Measure every page, or only the one named `only` (one of PAGE_NAMES)."""
    community = outcome.community
    last = f"{community.topic_path}?page={community.last_page}"
    pages = [
        ("guest topic page, first page", community.topic_path, False),
        ("guest topic page, last page", last, False),
        ("member topic page, first page", community.topic_path, True),
        ("member topic page, last page", last, True),
        ("forum page, busiest forum", community.busy_forum_path, False),
        ("forum page, quiet forum", community.quiet_forum_path, False),
        ("forum index", "/", False),
        ("profile", community.profile_path, False),
    ]
    if only is not None:
        pages = [page for short, page in zip(PAGE_NAMES, pages, strict=True) if short == only]
    for number, (name, path, signed_in) in enumerate(pages, start=1):
        status, body = get(base + path, cookie_header(members.cookies[0]) if signed_in else None)
        if status != 200:
            raise BenchError(
                f"{name} ({path}) answered {status} before measuring",
                "rerun with --keep-temp and read sala-serve.log in the folder it keeps",
            )
        if name == "guest topic page, first page":
            outcome.guest_body = body
        say(f"Measuring {name} ({number}/{total}) ...")
        if signed_in:
            load = wrk.measure(
                base + path,
                seconds=plan.seconds,
                script=BENCH / "members.lua",
                script_args=(str(members.reading(path)),),
            )
        else:
            load = wrk.measure(base + path, seconds=plan.seconds)
        load.page_bytes = len(body)
        outcome.pages.append((name, path, load))
        report(load)


def report(load: Load, what: str = "") -> None:
    print(
        f"        {what}{load.rate:,.0f} req/s, p50 {ms(load.p50_ms)}, p99 {ms(load.p99_ms)}, "
        f"errors {load.error_text()}",
        flush=True,
    )


def measure_posting(
    outcome: Outcome, wrk: Wrk, base: str, members: Members, plan: Plan, step: str
) -> None:
    """Post replies at `plan.post_rate` while guests read the big topic; count them."""
    community = outcome.community
    posters = min(POSTERS, len(members.cookies))
    say(
        f"Measuring {posters} members posting replies at {plan.post_rate}/s into "
        f"{len(community.reply_topics)} topics, with readers loaded ({step}) ..."
    )
    texts = community.first_page_texts
    text = (texts[1] if len(texts) > 1 else texts[0])[:2000] if texts else "A reply."
    lines = []
    for n in range(posters * len(community.reply_topics)):
        member = n % posters
        form = {"csrfmiddlewaretoken": members.cookies[member].get("csrftoken", ""), "text": text}
        topic_path = community.reply_topics[n % len(community.reply_topics)]
        lines.append(("POST", f"{topic_path}reply/", member, urllib.parse.urlencode(form)))
    replies = members.requests_file("replies.txt", lines)
    before = count_posts()
    readers = wrk.start(
        base + community.topic_path, seconds=plan.seconds, connections=POSTERS, threads=1
    )
    posting = wrk.start(
        base + community.topic_path + "reply/",
        seconds=plan.seconds,
        connections=CONNECTIONS - POSTERS,
        threads=1,
        script=BENCH / "post_replies.lua",
        script_args=(str(plan.post_rate), str(replies)),
    )
    outcome.posting = wrk.finish(posting, plan.seconds)
    outcome.readers = wrk.finish(readers, plan.seconds)
    outcome.replies_created = count_posts() - before
    report(outcome.posting, "posting: ")
    report(outcome.readers, "readers: ")
    print(f"        {outcome.replies_created:,} replies created", flush=True)


def soak(
    outcome: Outcome, wrk: Wrk, base: str, server: subprocess.Popen[bytes], plan: Plan
) -> None:
    """Send `plan.soak_requests` guest topic page requests; note RSS at half and at the end."""
    say(f"Soaking the guest topic page with {plan.soak_requests:,} requests for memory ...")
    url = base + outcome.community.topic_path
    sent, deadline = 0, time.monotonic() + plan.soak_budget
    outcome.soak.append((0, worker_rss(server.pid)))
    marks = [plan.soak_requests // 2, plan.soak_requests]
    while marks and time.monotonic() < deadline:
        # Short runs: at 25,000 pages a second a 5 s run went past both marks at once.
        load = wrk.measure(url, seconds=1)
        outcome.soak_command = load.command
        sent += load.requests
        outcome.requests_served = wrk.sent.get(load.netloc, 0)
        if sent >= marks[0]:
            outcome.soak.append((sent, worker_rss(server.pid)))
            print(
                f"        {sent:,} requests: "
                + ", ".join(mib(k) for k in outcome.soak[-1][1].values())
            )
            while marks and sent >= marks[0]:
                marks.pop(0)
    if marks:
        outcome.soak.append((sent, worker_rss(server.pid)))
        say(f"The soak stopped after {plan.soak_budget} s at {sent:,} requests")


def run(args: argparse.Namespace, session: Session) -> Outcome:
    plan = QUICK if args.quick else FULL
    if args.soak is not None:
        plan = dataclasses.replace(
            plan, soak_requests=args.soak, soak_budget=max(plan.soak_budget, 600)
        )
    say(f"Page benchmark, {plan.name} run; temporary files in {session.folder}")
    load_before = os.getloadavg()[0]
    if load_before > BUSY_LOAD:
        say(f"WARNING: the machine is busy (load average {load_before:.1f}); figures will suffer")
    ensure_tools(session)

    spirit = Spirit(port=free_port())
    spirit_thread = None
    if args.only:
        spirit.error = "skipped (--only)"
    elif args.spirit:
        say("Installing Spirit into its own venv, in the background ...")
        spirit_thread = threading.Thread(target=prepare_spirit, args=(session, spirit), daemon=True)
        spirit_thread.start()
    else:
        spirit.error = "skipped (--no-spirit)"

    say(f"Making the scratch database {SALA_DATABASE} and flushing Redis db 10 ...")
    recreate_database(SALA_DATABASE)
    flush_redis()
    data_dir = session.folder / "sala-data"
    data_dir.mkdir()
    env = sala_environment(data_dir)
    os.environ.update(env)  # for this process's own Django: the survey and the counts
    import django

    django.setup()
    say("Filling the database (migrate, bench data, collectstatic) ...")
    commands, busy_id, quiet_id = fill_sala(session, env, plan)
    community = survey(commands, busy_id, quiet_id)
    print(
        f"        {community.members:,} members, {community.topics:,} topics, "
        f"{community.posts:,} posts; big topic {community.topic_path} "
        f"({community.topic_posts:,} posts)",
        flush=True,
    )
    outcome = Outcome(plan=plan, command=args.command, community=community, spirit=spirit)
    outcome.load_before = round(load_before, 2)

    port = free_port(pair=True)
    outcome.serve_command = f"sala serve --workers {WORKERS} --port {port}"
    say(f"Starting `{outcome.serve_command}` ...")
    server = start_sala(session, env, port)
    base = f"http://{HOST}:{port}"

    if spirit_thread is not None:
        if spirit_thread.is_alive():
            say("Waiting for Spirit's set-up to finish (so it does not share the CPU) ...")
        spirit_thread.join()
        if spirit.error is None:
            say("Giving Spirit the same topic and starting it under gunicorn ...")
            start_spirit(session, spirit, community)
        if spirit.error:
            say(f"WARNING: Spirit will not be measured: {spirit.error.splitlines()[0]}")

    say(f"Signing in as {MEMBER_NAMES[0]} through the form ...")
    first = sign_in(
        f"{base}/accounts/login/", {"login": MEMBER_NAMES[0], "password": MEMBER_PASSWORD}, "Sala"
    )
    members = Members([first, *community.sessions], session.folder)

    wrk = Wrk(session)
    say(f"Warming up Sala's workers ({plan.warmup} s, not reported) ...")
    wrk.measure(base + community.topic_path, seconds=plan.warmup)
    wrk.measure(
        base + community.topic_path,
        seconds=plan.warmup,
        script=BENCH / "members.lua",
        script_args=(str(members.reading(community.topic_path)),),
    )
    outcome.rss_start = worker_rss(server.pid)
    check_signed_in(base + community.topic_path, members, "Sala")
    if args.only:
        measure_pages(outcome, wrk, base, members, 1, plan, only=args.only)
        outcome.load_after = round(os.getloadavg()[0], 2)
        return outcome
    total = 9 + (0 if spirit.error else 2) + 1
    measure_pages(outcome, wrk, base, members, total, plan)
    measure_posting(outcome, wrk, base, members, plan, f"9/{total}")
    step = 10
    if spirit.error is None:
        spirit_base = f"http://{HOST}:{spirit.port}"
        status, body = get(spirit_base + spirit.topic_path)
        if status != 200:
            spirit.error = f"its topic page answered {status}"
        else:
            wrk.measure(spirit_base + spirit.topic_path, seconds=plan.warmup)
            say(f"Measuring Spirit's guest topic page ({step}/{total}) ...")
            outcome.spirit_guest = wrk.measure(
                spirit_base + spirit.topic_path, seconds=plan.seconds
            )
            outcome.spirit_guest.page_bytes = len(body)
            report(outcome.spirit_guest)
            step += 1
            try:
                say(f"Signing in to Spirit as {MEMBER_NAMES[0]} through the form ...")
                first = sign_in(
                    spirit_base + spirit.login_path,
                    {"username": MEMBER_NAMES[0], "password": MEMBER_PASSWORD},
                    "Spirit",
                )
                spirit_members = Members(
                    [first, *spirit.sessions], session.make_folder("sala-spirit-members-")
                )
                check_signed_in(spirit_base + spirit.topic_path, spirit_members, "Spirit")
                status, body = get(
                    spirit_base + spirit.topic_path, cookie_header(spirit_members.cookies[0])
                )
                say(f"Measuring Spirit's member topic page ({step}/{total}) ...")
                outcome.spirit_member = wrk.measure(
                    spirit_base + spirit.topic_path,
                    seconds=plan.seconds,
                    script=BENCH / "members.lua",
                    script_args=(str(spirit_members.reading(spirit.topic_path)),),
                )
                outcome.spirit_member.page_bytes = len(body)
                report(outcome.spirit_member)
            except BenchError as error:
                say(f"WARNING: Spirit's member page not measured: {error}")
            step += 1

    say(f"Measuring nginx serving Sala's guest topic page as a file ({step}/{total}) ...")
    nginx_port = free_port()
    _, outcome.nginx_command = start_nginx(session, outcome.guest_body, nginx_port)
    outcome.nginx = wrk.measure(f"http://{HOST}:{nginx_port}/topic.html", seconds=plan.seconds)
    outcome.nginx.page_bytes = len(outcome.guest_body)
    report(outcome.nginx)

    outcome.requests_served = wrk.sent.get(f"{HOST}:{port}", 0)
    if plan.soak_requests:
        soak(outcome, wrk, base, server, plan)
    outcome.rss_end = worker_rss(server.pid)
    outcome.load_after = round(os.getloadavg()[0], 2)
    if server.poll() is not None:
        raise BenchError(
            f"Sala's server stopped during the run:\n{tail(session.folder / 'sala-serve.log')}",
            "look at the server log above",
        )
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="a small community and 5 s runs (about 2 minutes)"
    )
    parser.add_argument("--results", type=Path, help="write a section into this Markdown file")
    parser.add_argument(
        "--soak",
        type=int,
        metavar="N",
        help="send N guest topic page requests for the memory figure (default: 100,000 in "
        "the full run, none in the quick one)",
    )
    parser.add_argument(
        "--no-spirit", dest="spirit", action="store_false", help="skip installing Spirit"
    )
    parser.add_argument(
        "--only",
        choices=PAGE_NAMES,
        metavar="NAME",
        help="measure only this page, without Spirit, posting, nginx or the soak, and "
        f"write its own section: one of {', '.join(PAGE_NAMES)}",
    )
    parser.add_argument(
        "--keep-temp",
        action="store_true",
        help="keep the temporary folders (logs) and the scratch databases afterwards",
    )
    args = parser.parse_args()
    args.command = os.environ.get("BENCH_COMMAND") or shlex.join(
        ["python", "bench/pages.py", *sys.argv[1:]]
    )
    plan = QUICK if args.quick else FULL
    alarm = plan.alarm + (600 if args.soak else 0)

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    def out_of_time(signum: int, frame: object) -> None:
        raise TimeoutError(f"the run took longer than {alarm} s")

    # Also SIGINT: a shell that starts the bench in the background makes it ignore SIGINT.
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(alarm)
    session = Session(keep=args.keep_temp)
    try:
        outcome = run(args, session)
        signal.alarm(0)
        section = summarise_only(outcome, args.only) if args.only else summarise(outcome)
        print()
        print(section)
        if args.results:
            heading = f"{SECTION}, {args.only} only" if args.only else SECTION
            replace_section(args.results, heading, section, missing_goes_first=True)
            say(f"Written to {args.results}")
        return 0
    except BenchError as error:
        print(f"\nThe page benchmark failed: {error}\nNext: {error.next_step}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "\nInterrupted: stopping the servers and removing temporary files ...", file=sys.stderr
        )
        return 130
    except TimeoutError as error:
        print(f"\nThe page benchmark stopped: {error}.", file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
        session.close()
        with contextlib.suppress(Exception):
            flush_redis()
        if not args.keep_temp:
            for name in (SALA_DATABASE, SPIRIT_DATABASE):
                with contextlib.suppress(Exception):
                    drop_database(name)
        say(
            "Done: servers stopped"
            + ("." if args.keep_temp else ", temporary files and scratch databases removed.")
        )


if __name__ == "__main__":
    sys.exit(main())
