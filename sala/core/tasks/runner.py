"""Run background tasks: claim one, hold its lease, retry or record its end; enqueue the
scheduled ones; and the in-process runner of the embedded default.

Every change to a task row is one conditional UPDATE on (id, status, started_at). A claim
sets started_at, so started_at names the claim: a runner that lost its claim (its lease
expired and another runner took the task over) changes nothing when it finishes. No row
locks and no long transactions, so the same code is right on SQLite and PostgreSQL.

While a task runs, `run_after` holds its lease: the time after which another runner may
take it over. READY rows keep django_tasks_db's meaning (not before), so one column
says, for every row a runner may pick up, from when it may.
"""

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from traceback import format_exception
from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.db import DatabaseError, IntegrityError, close_old_connections, connections, transaction
from django.db.models import Q, QuerySet
from django.tasks import DEFAULT_TASK_BACKEND_ALIAS, TaskContext, TaskResultStatus, task_backends
from django.tasks.signals import task_finished, task_started
from django.utils import timezone
from django.utils.json import normalize_json
from django.utils.module_loading import autodiscover_modules
from django_tasks_db.models import DBTaskResult, get_date_max

from sala.core.tasks import DatabaseBackend, PeriodicTask, background_task, periodic_tasks
from sala.core.tasks import retry_policy as policy_of

logger = logging.getLogger("sala.tasks")

TaskRow = DBTaskResult[Any, Any]

READY, RUNNING = TaskResultStatus.READY, TaskResultStatus.RUNNING
SUCCESSFUL, FAILED = TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED

#: Names the row of each scheduled run, so two runners enqueueing the same one collide.
SCHEDULE_NAMESPACE = uuid.UUID("5a1a7a5c-0000-4000-8000-7461736b7321")


class WorkerLost(Exception):
    """The runner of a task stopped renewing its lease: killed, crashed or cut off."""


class Runner:
    """Run due tasks one at a time until stopped; enqueue scheduled tasks when due."""

    def __init__(self, *, worker_id: str, backend: str = DEFAULT_TASK_BACKEND_ALIAS) -> None:
        self.worker_id = worker_id
        self.backend = backend
        self.lease = timedelta(seconds=settings.SALA_TASKS_LEASE_SECONDS)
        self.poll_seconds = float(settings.SALA_TASKS_POLL_SECONDS)
        self.pid = os.getpid()
        self._stopping = threading.Event()
        self._woken = threading.Event()
        self._ticks: dict[str, int] = {}
        self._next_reclaim = 0.0
        self.thread: threading.Thread | None = None

    def wake(self) -> None:
        """Look for due tasks now instead of at the next poll."""
        self._woken.set()

    def stop(self) -> None:
        """Stop once the task in hand (if any) is finished."""
        self._stopping.set()
        self._woken.set()

    def run(self) -> None:
        """Run tasks until `stop()`; survive database outages, logging them."""
        # Scheduled tasks are declared in each app's tasks module: import them all.
        autodiscover_modules("tasks")
        try:
            while not self._stopping.is_set():
                self._woken.clear()
                try:
                    close_old_connections()
                    self.enqueue_scheduled()
                    self.reclaim_lost()
                    busy = self.run_next()
                except Exception:
                    logger.exception("The task runner failed; it tries again in a moment.")
                    busy = False
                    self._stopping.wait(5 * self.poll_seconds)
                if not busy:
                    self._woken.wait(self.poll_seconds)
        finally:
            connections.close_all()

    # --- Claiming and running -------------------------------------------------------------

    def run_next(self) -> bool:
        """Claim the most urgent due task and run it; return whether there was one."""
        row = self._claim()
        if row is None:
            return False
        self._run(row)
        return True

    def _claim(self) -> TaskRow | None:
        due = DBTaskResult.objects.ready().filter(backend_name=self.backend)
        # A few candidates, in the backend's order (priority, then age): when another
        # runner wins the first, this one takes the next instead of polling again.
        for candidate in due.only("id", "started_at", "worker_ids")[:5]:
            now = timezone.now()
            claimed = _this_claim(candidate.pk, candidate.started_at, READY).update(
                status=RUNNING,
                started_at=now,
                worker_ids=[*candidate.worker_ids, self.worker_id],
                run_after=now + self.lease,
            )
            if claimed:
                return DBTaskResult.objects.get(pk=candidate.pk)
        return None

    def _run(self, row: TaskRow) -> None:
        attempt = len(row.worker_ids)
        policy = policy_of(row.task_path)
        name = _describe(row)
        started = time.monotonic()
        logger.info("started  %s, attempt %d of %d", name, attempt, policy.max_attempts)
        with self._lease_held(row):
            try:
                task = row.task
                result = row.task_result
                task_started.send(type(task.get_backend()), task_result=result)
                if task.takes_context:
                    value = task.call(
                        TaskContext(task_result=result), *result.args, **result.kwargs
                    )
                else:
                    value = task.call(*result.args, **result.kwargs)
                value = normalize_json(value)  # refuse what the result column cannot hold
            except Exception as error:
                self._record_failure(row, error)
                return
            except BaseException:
                # Stopped at once (a second Ctrl+C): give the task back for another run.
                _this_claim(row.pk, row.started_at, RUNNING).update(
                    status=READY, run_after=timezone.now()
                )
                logger.warning("released %s: the worker was stopped mid-run", name)
                raise
        finished = _this_claim(row.pk, row.started_at, RUNNING).update(
            status=SUCCESSFUL,
            finished_at=timezone.now(),
            return_value=value,
            exception_class_path="",
            traceback="",
        )
        if finished:
            logger.info("finished %s in %.2f s", name, time.monotonic() - started)
            _announce_end(row.pk)
        else:
            logger.warning("finished %s, but another worker had taken it over", name)

    def _record_failure(self, row: TaskRow, error: BaseException) -> None:
        """Schedule the next attempt of `row`'s claim, or record the task failed."""
        attempt = len(row.worker_ids)
        policy = policy_of(row.task_path)
        name = _describe(row)
        now = timezone.now()
        reason = "".join(format_exception(error)).strip().splitlines()[-1]
        error_fields: dict[str, Any] = {
            "exception_class_path": f"{type(error).__module__}.{type(error).__qualname__}",
            "traceback": "".join(format_exception(error)),
        }
        claim = _this_claim(row.pk, row.started_at, RUNNING)
        if attempt < policy.max_attempts:
            delay = policy.delay_after(attempt)
            if claim.update(status=READY, run_after=now + timedelta(seconds=delay), **error_fields):
                logger.warning(
                    "failed   %s, attempt %d of %d: %s; retrying in %g s",
                    name,
                    attempt,
                    policy.max_attempts,
                    reason,
                    delay,
                )
        elif claim.update(status=FAILED, finished_at=now, return_value=None, **error_fields):
            logger.error("FAILED   %s after %d attempts: %s", name, attempt, reason)
            _announce_end(row.pk)

    @contextmanager
    def _lease_held(self, row: TaskRow) -> Iterator[None]:
        """Renew `row`'s lease from a thread of its own while the body runs."""
        done = threading.Event()
        every = self.lease.total_seconds() / 3

        def renew() -> None:
            try:
                while not done.wait(every):
                    try:
                        now = timezone.now()
                        # Only a lease still held is renewed: once it lapsed, another
                        # runner may be taking the task over, and this run has lost it.
                        _this_claim(row.pk, row.started_at, RUNNING).filter(
                            run_after__gt=now
                        ).update(run_after=now + self.lease)
                    except DatabaseError:
                        logger.warning("could not renew the lease of %s", _describe(row))
            finally:
                connections.close_all()  # this thread's connections only

        keeper = threading.Thread(target=renew, name=f"lease {row.pk}", daemon=True)
        keeper.start()
        try:
            yield
        finally:
            done.set()
            keeper.join()

    # --- Recovery -------------------------------------------------------------------------

    def reclaim_lost(self) -> None:
        """Treat tasks whose lease expired as failed attempts: retry them or record them failed.

        Checked every half lease, not every poll: expired leases are rare, and RUNNING rows
        are not in the backend's index of due work.
        """
        if time.monotonic() < self._next_reclaim:
            return
        self._next_reclaim = time.monotonic() + self.lease.total_seconds() / 2
        lost = DBTaskResult.objects.filter(
            backend_name=self.backend, status=RUNNING, run_after__lte=timezone.now()
        ).only("id", "started_at", "worker_ids", "task_path")
        for row in lost:
            owner = row.worker_ids[-1] if row.worker_ids else "?"
            logger.warning("reclaimed %s from worker %s: its lease expired", _describe(row), owner)
            self._record_failure(
                row, WorkerLost(f"Worker {owner} stopped renewing its lease on this task.")
            )

    # --- The schedule ---------------------------------------------------------------------

    def enqueue_scheduled(self) -> None:
        """Enqueue each scheduled task whose next run is due; once per run across runners."""
        for periodic in periodic_tasks():
            path = periodic.task.module_path
            tick = int(time.time() // periodic.every)
            if self._ticks.get(path) != tick:
                if enqueue_tick(periodic, tick):
                    logger.info("enqueued %s (every %d s)", path, periodic.every)
                else:
                    logger.debug("skipped %s: this run is enqueued or one is pending", path)
                self._ticks[path] = tick


def enqueue_tick(periodic: PeriodicTask, tick: int) -> bool:
    """Enqueue run number `tick` of `periodic`; return False if it already was, or if an
    earlier run has not finished (a slow task does not pile up runs).

    The row's id is derived from the task and the tick, so when two runners on two hosts
    enqueue the same run, the database's primary key lets only one of them succeed.
    Hosts must keep their clocks in sync (NTP): the tick is read from the local clock.
    """
    task = periodic.task
    pending = DBTaskResult.objects.filter(task_path=task.module_path, status__in=[READY, RUNNING])
    if pending.exists():
        return False
    try:
        with transaction.atomic():
            DBTaskResult.objects.create(
                id=uuid.uuid5(SCHEDULE_NAMESPACE, f"{task.module_path}@{tick}"),
                args_kwargs={"args": [], "kwargs": {}},
                priority=task.priority,
                task_path=task.module_path,
                queue_name=task.queue_name,
                backend_name=task.backend,
                run_after=get_date_max(),
            )
    except IntegrityError:
        return False
    return True


@background_task(every=3600, max_attempts=1)
def prune_task_results() -> int:
    """Delete tasks that finished more than SALA_TASKS_KEEP_DAYS ago; return how many."""
    cutoff = timezone.now() - timedelta(days=settings.SALA_TASKS_KEEP_DAYS)
    deleted, _ = DBTaskResult.objects.filter(
        status__in=[SUCCESSFUL, FAILED], finished_at__lt=cutoff
    ).delete()
    return deleted


def _this_claim(row_id: Any, started_at: datetime | None, status: str) -> QuerySet[TaskRow]:
    claim = Q(started_at=started_at) if started_at else Q(started_at__isnull=True)
    return DBTaskResult.objects.filter(claim, pk=row_id, status=status)


def _describe(row: TaskRow) -> str:
    return f"{row.task_path} [{str(row.pk)[:8]}]"


def _announce_end(row_id: Any) -> None:
    """Send Django's task_finished signal for a task that ended, if its code still imports."""
    try:
        result = DBTaskResult.objects.get(pk=row_id).task_result
        task_finished.send(type(result.task.get_backend()), task_result=result)
    except (ImportError, SuspiciousOperation):
        pass


# --- This process's runner ----------------------------------------------------------------

_runner: Runner | None = None
_runner_lock = threading.Lock()


def worker_id(role: str = "") -> str:
    """Return an id naming this process in the admin's list of workers that ran a task."""
    return f"{socket.gethostname()}:{os.getpid()}{role}"


def process_runner() -> Runner | None:
    """Return the runner of this process, if it has one (forked children do not)."""
    runner = _runner
    return runner if runner is not None and runner.pid == os.getpid() else None


def adopt(runner: Runner) -> None:
    """Make `runner` this process's runner, so tasks enqueued here wake it."""
    global _runner
    with _runner_lock:
        _runner = runner


def wake() -> None:
    """Tell this process's runner a task was enqueued; in-process, start the runner first."""
    runner = process_runner()
    if runner is None and settings.SALA_TASKS_IN_PROCESS:
        runner = start_in_process_runner()
    if runner is not None:
        runner.wake()


def start_in_process_runner() -> Runner:
    """Start this process's runner in a daemon thread, once per process."""
    global _runner
    with _runner_lock:
        if _runner is None or _runner.pid != os.getpid():
            runner = Runner(worker_id=worker_id(":in-process"))
            runner.thread = threading.Thread(target=runner.run, name="sala tasks", daemon=True)
            runner.thread.start()
            _runner = runner
        return _runner


def stop_in_process_runner(timeout: float = 30) -> None:
    """Stop this process's in-process runner after the task in hand; wait for it."""
    global _runner
    with _runner_lock:
        runner, _runner = _runner, None
    if runner is not None and runner.thread is not None:
        runner.stop()
        runner.thread.join(timeout)


def start_with_first_request(sender: Any, **kwargs: Any) -> None:
    """Start the in-process runner when a serving process answers its first request.

    So the schedule runs, and tasks left by a stopped process are taken over, even when
    nothing is enqueued. Connected to `request_started` by the tasks app.
    """
    if process_runner() is not None or not settings.SALA_TASKS_IN_PROCESS:
        return
    if isinstance(task_backends[DEFAULT_TASK_BACKEND_ALIAS], DatabaseBackend):
        start_in_process_runner()
