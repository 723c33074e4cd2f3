"""`sala worker`: run background tasks beside `sala serve` (production's way).

Any number of workers, on any number of hosts, share the database's queue: each claims
one task at a time, holds a lease on it while it runs, retries what fails with backoff,
takes over tasks whose worker died, and enqueues scheduled tasks once across all of them
(docs/subsystems/tasks.md).
"""

import logging
import signal
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import autodiscover_modules

from sala.core.tasks import periodic_tasks
from sala.core.tasks.runner import Runner, adopt, worker_id


class Command(BaseCommand):
    help = (
        "Run background tasks (mail, feed polling, link extraction) from the database, one "
        "line per task started, finished or failed. SIGTERM or Ctrl+C stops the worker once "
        "its task in hand is finished; a second one stops it at once, and the task goes "
        "back to the queue."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self._show_task_lines(options["verbosity"])
        runner = Runner(worker_id=worker_id())
        adopt(runner)  # tasks enqueued by tasks wake this runner, not a second one
        stops = 0

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stops
            stops += 1
            if stops > 1:
                raise KeyboardInterrupt
            self.stdout.write("Stopping once the task in hand is finished (again: at once).")
            runner.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        autodiscover_modules("tasks")  # so the schedule below is complete
        schedule = ", ".join(f"{p.task.name} every {p.every} s" for p in periodic_tasks())
        self.stdout.write(
            f"Worker {runner.worker_id} running tasks from the "
            f"{settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]} database "
            f"(lease {settings.SALA_TASKS_LEASE_SECONDS} s; scheduled: {schedule or 'none'})"
        )
        try:
            runner.run()
        except KeyboardInterrupt:
            raise CommandError("Stopped at once.") from None
        self.stdout.write("Stopped.")

    def _show_task_lines(self, verbosity: int) -> None:
        """Print the runner's log to stdout: a line per task, and skipped schedules at -v 2."""
        handler = logging.StreamHandler(self.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        tasks_logger = logging.getLogger("sala.tasks")
        tasks_logger.addHandler(handler)
        tasks_logger.propagate = False
        levels = {0: logging.ERROR, 1: logging.INFO}
        tasks_logger.setLevel(levels.get(verbosity, logging.DEBUG))
        # Django's own line per task would repeat ours.
        logging.getLogger("django.tasks").setLevel(logging.WARNING)
