"""`sala serve`: run Sala with a production-grade server (granian)."""

import os
from typing import Any

from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.management.base import BaseCommand, CommandError, CommandParser
from granian.constants import Interfaces
from granian.server import Server


class Command(BaseCommand):
    help = (
        "Serve Sala: pages and forms through granian's WSGI workers. A stopped server "
        "lets in-flight requests finish (up to --grace seconds) before it exits."
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
                "wsgi (default): pages through WSGI workers, the fastest; the live stream "
                "needs an ASGI server beside them. asgi: everything, live stream included, "
                "from one ASGI server: simplest, right for the embedded default."
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
        self.stdout.write(
            f"Serving {settings.SALA_SITE_NAME} on http://{options['host']}:{options['port']} "
            f"({options['interface'].upper()}, {options['workers']} workers"
            + ("" if options["interface"] == "asgi" else f", {options['threads']} threads each")
            + "; Ctrl+C stops)"
        )
        asgi = options["interface"] == "asgi"
        Server(
            "sala.asgi:application" if asgi else "sala.wsgi:application",
            address=options["host"],
            port=options["port"],
            # Django has no ASGI lifespan events: ASGINL is ASGI without them.
            interface=Interfaces.ASGINL if asgi else Interfaces.WSGI,
            workers=options["workers"],
            blocking_threads=None if asgi else options["threads"],
            workers_kill_timeout=options["grace"],
            respawn_failed_workers=True,
            log_access=settings.DEBUG,
        ).serve()
