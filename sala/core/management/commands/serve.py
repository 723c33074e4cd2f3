"""`sala serve`: run Sala with a production-grade server (granian).

Pages and forms go through WSGI workers, the fastest path for Django. The live stream
(`/live/`) holds a connection open for as long as a page is open, so it has its own ASGI
server on the next port, started beside the workers by the same command; a proxy sends
`/live/` there (docs/subsystems/live.md). `--interface asgi` serves everything from one
ASGI server instead: simplest, right for the embedded default.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.management.base import BaseCommand, CommandError, CommandParser
from granian.constants import Interfaces
from granian.server import Server

#: How many connections an ASGI worker serves at once, by default. granian's own default
#: (its listen backlog ÷ workers: 512 each for 2 workers) suits requests that end; a
#: live stream holds its connection while its page is open, so a stream beyond a
#: worker's 512 waited, connected but unanswered, until another closed. A stream costs
#: a coroutine and about 65 KiB; the caps (sala/live/slots.py) bound them per client.
MAX_CONNECTIONS = 10_000


class Command(BaseCommand):
    help = (
        "Serve Sala: pages and forms through granian's WSGI workers and, with REDIS_URL, "
        "the live stream from an ASGI server on the next port. A stopped server lets "
        "in-flight requests finish (up to --grace seconds) before it exits."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("SALA_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("SALA_PORT", "8000")))
        parser.add_argument(
            "--workers",
            type=int,
            default=int(os.environ.get("SALA_WORKERS", "0")) or os.cpu_count() or 1,
            help="Worker processes (SALA_WORKERS; default: one per CPU core).",
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=int(os.environ.get("SALA_THREADS", "4")),
            help="Threads per worker for requests that wait on the database (SALA_THREADS).",
        )
        parser.add_argument(
            "--interface",
            choices=["wsgi", "asgi"],
            default=os.environ.get("SALA_INTERFACE", "wsgi"),
            help=(
                "wsgi (default): pages through WSGI workers, the fastest, with the live "
                "server beside them. asgi: everything, live stream included, from one ASGI "
                "server: simplest, right for the embedded default."
            ),
        )
        parser.add_argument(
            "--live-port",
            type=int,
            default=None,
            help=(
                "Port of the live server started beside the WSGI workers (SALA_LIVE_PORT; "
                "default: --port + 1 when REDIS_URL is set; 0: none). Pages and streams "
                "then run in separate processes, which share events only through Redis."
            ),
        )
        parser.add_argument(
            "--live-workers",
            type=int,
            default=int(os.environ.get("SALA_LIVE_WORKERS", "1")),
            help="Live server processes (SALA_LIVE_WORKERS); one holds thousands of streams.",
        )
        parser.add_argument(
            "--max-connections",
            type=int,
            default=int(os.environ.get("SALA_MAX_CONNECTIONS", str(MAX_CONNECTIONS))),
            help=(
                "Connections each ASGI worker serves at once (SALA_MAX_CONNECTIONS; "
                f"default {MAX_CONNECTIONS:,}): an open live page holds one for as long "
                "as it is open. The open-files limit (ulimit -n) must allow as many."
            ),
        )
        parser.add_argument(
            "--grace",
            type=int,
            default=30,
            help="Seconds a stopping worker may take to finish its requests.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            try:
                staticfiles_storage.url("sala/sala.css")
            except ValueError:
                raise CommandError(
                    "Static files are not collected: run `sala collectstatic --noinput` first."
                ) from None
        live_port = self._live_port(options)
        for port in (options["port"], live_port):
            _refuse_a_port_already_served(options["host"], port)
        if live_port:
            self._serve_side_by_side(options, live_port)
        else:
            self._serve(options, options["interface"], options["port"], options["workers"])

    def _live_port(self, options: dict[str, Any]) -> int:
        if options["interface"] == "asgi":
            return 0  # one server answers /live/ itself
        port = options["live_port"]
        if port is None:
            port = int(os.environ.get("SALA_LIVE_PORT", "-1"))
        if port < 0:
            return options["port"] + 1 if settings.REDIS_URL else 0
        if port and not settings.REDIS_URL:
            raise CommandError(
                "A live server beside the WSGI workers needs REDIS_URL: without Redis the "
                "two processes cannot share readers and replies. Set REDIS_URL, or serve "
                "everything from one process with `sala serve --interface asgi`."
            )
        return int(port)

    def _serve(self, options: dict[str, Any], interface: str, port: int, workers: int) -> None:
        asgi = interface == "asgi"
        self.stdout.write(
            f"Serving {settings.SALA_SITE_NAME} on http://{options['host']}:{port} "
            f"({interface.upper()}, {workers} workers"
            + ("" if asgi else f", {options['threads']} threads each")
            + "; Ctrl+C stops)"
        )
        Server(
            "sala.asgi:application" if asgi else "sala.wsgi:application",
            address=options["host"],
            port=port,
            # Django has no ASGI lifespan events: ASGINL is ASGI without them.
            interface=Interfaces.ASGINL if asgi else Interfaces.WSGI,
            workers=workers,
            blocking_threads=None if asgi else options["threads"],
            # WSGI workers keep granian's default: requests beyond their threads wait.
            backpressure=options["max_connections"] if asgi else None,
            workers_kill_timeout=options["grace"],
            respawn_failed_workers=True,
            log_access=settings.DEBUG,
        ).serve()

    def _serve_side_by_side(self, options: dict[str, Any], live_port: int) -> None:
        """Run the WSGI workers and the live server as two child processes, stopped together.

        Each is a `sala serve` of its own, so each loads its settings from the
        environment in a fresh process.
        """
        common = ["--host", options["host"], "--grace", str(options["grace"])]
        command = [sys.executable, "-m", "sala", "serve", *common]
        children = [
            subprocess.Popen(  # noqa: S603  (our own command, no shell)
                [
                    *command,
                    *("--port", str(options["port"]), "--workers", str(options["workers"])),
                    *("--threads", str(options["threads"]), "--live-port", "0"),
                ]
            ),
            subprocess.Popen(  # noqa: S603
                [
                    *command,
                    *("--port", str(live_port), "--workers", str(options["live_workers"])),
                    *("--interface", "asgi"),
                    *("--max-connections", str(options["max_connections"])),
                ]
            ),
        ]

        signalled: set[int] = set()

        def stop(signum: int, frame: FrameType | None) -> None:
            # Each child is told once: a second signal would cut its graceful stop short.
            for child in children:
                if child.pid not in signalled and child.poll() is None:
                    signalled.add(child.pid)
                    child.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while all(child.poll() is None for child in children):
            time.sleep(0.2)
        stop(signal.SIGTERM, None)  # one ended: the pair goes down together
        codes = [child.wait() for child in children]
        if any(codes):
            raise CommandError(f"The server stopped with exit codes {codes}; see the log above.")


def _refuse_a_port_already_served(host: str, port: int) -> None:
    """Raise CommandError if something already answers on `port`.

    granian binds with SO_REUSEPORT, so a second server on a port in use (a `make run`
    left running) would start without complaint and take half of the connections.
    """
    if not port:
        return
    # A server on every address answers on the loopback one.
    address = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host  # noqa: S104
    try:
        with socket.create_connection((address, port), timeout=0.5):
            pass
    except OSError:
        return  # nothing listens there: the port is ours
    raise CommandError(
        f"Port {port} on {host} is already being served, perhaps by another `sala serve` "
        "or `make run` still running: stop that one, or choose another port with --port "
        "(SALA_PORT)."
    )
