"""Background tasks on the real database, run by real `sala worker` processes: retries
with growing delays, failures shown to admins, a killed worker's task finished by the
next worker, a graceful stop, one scheduled run however many workers, and the
in-process runner of the embedded default.
"""

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.mail import EmailMessage
from django.db import transaction
from django.tasks import TaskResultStatus
from django.test import Client
from django_tasks_db.models import DBTaskResult

from conftest import child_environment, database_url
from sala.accounts.tests.factories import make_member
from sala.core.tasks import background_task
from sala.core.tasks.mail import enqueue_email
from sala.core.tasks.runner import stop_in_process_runner

pytestmark = pytest.mark.django_db(transaction=True)

ADMIN_TASKS = "/admin/django_tasks_database/dbtaskresult/"


# --- Tasks the workers run: module level, so a worker process imports them by path ----------


@background_task(max_attempts=3, retry_delay=1)
def fails_twice(log: str) -> str:
    """Note the time of each run in `log`; fail on the first two runs."""
    path = Path(log)
    with path.open("a") as runs:
        runs.write(f"{time.time()}\n")
    run = len(path.read_text().split())
    if run < 3:
        raise ConnectionError(f"the feed is down (run {run})")
    return "fetched"


@background_task(max_attempts=2, retry_delay=0.5)
def always_fails() -> None:
    raise RuntimeError("the extractor choked on this page")


@background_task(max_attempts=3, retry_delay=0.5)
def waits_for(started: str, release: str) -> str:
    """Create the file `started`, then return once the file `release` exists."""
    Path(started).touch()
    while not Path(release).exists():
        time.sleep(0.05)
    return "released"


# --- Workers ---------------------------------------------------------------------------------


class Worker:
    """A `sala worker` process on the test database, its output collected line by line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, *, timeout: float = 20) -> None:
        """Return once the worker printed a line containing `text`."""
        wait_until(lambda: text in self.output, timeout=timeout, failing=lambda: self.output)


@pytest.fixture(autouse=True)
def _tasks_in_the_database(settings: Any) -> None:
    """Undo conftest's tasks-at-once: these tests are about the database backend.

    No runner starts in the test process unless a test asks for the in-process mode.
    """
    settings.TASKS = {"default": {"BACKEND": "sala.core.tasks.DatabaseBackend"}}
    settings.SALA_TASKS_IN_PROCESS = False
    # A runner some earlier test started in this process would take these tests' tasks.
    stop_in_process_runner()


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[[], Worker]]:
    """Start `sala worker` processes with a 2-second lease; kill those left at the end."""
    workers: list[Worker] = []
    env = child_environment(
        DATABASE_URL=database_url(),
        SALA_DATA_DIR=str(tmp_path),
        SALA_TASKS_LEASE_SECONDS="2",
        SALA_TASKS_POLL_SECONDS="1",
        SALA_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )

    def start() -> Worker:
        process = subprocess.Popen(
            [sys.executable, "-m", "sala", "worker", "--verbosity", "2"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        workers.append(Worker(process))
        return workers[-1]

    yield start
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.kill()
        worker.process.wait(timeout=10)


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float = 20,
    failing: Callable[[], str] = str,
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"Still waiting after {timeout} s. {failing()}")
        time.sleep(0.05)


def ended(result_id: str, *workers: Worker) -> DBTaskResult[Any, Any]:
    """Return the task's row once it succeeded or failed for good."""
    finished = {TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED}
    wait_until(
        lambda: DBTaskResult.objects.get(pk=result_id).status in finished,
        failing=lambda: "\n".join(w.output for w in workers),
    )
    return DBTaskResult.objects.get(pk=result_id)


# --- Retries and failures ------------------------------------------------------------------


def test_a_task_that_fails_twice_is_retried_with_growing_delays_and_then_succeeds(
    start_worker: Callable[[], Worker], tmp_path: Path
) -> None:
    log = tmp_path / "runs"
    result = fails_twice.enqueue(str(log))

    worker = start_worker()
    row = ended(result.id, worker)

    assert row.status == TaskResultStatus.SUCCESSFUL
    assert row.return_value == "fetched"
    assert len(row.worker_ids) == 3
    assert row.traceback == ""  # the earlier errors are gone with the success
    first, second, third = (float(t) for t in log.read_text().split())
    assert second - first >= 1
    assert third - second >= 2
    worker.wait_for("finished")
    assert "attempt 1 of 3: ConnectionError: the feed is down (run 1); retrying in 1 s" in (
        worker.output
    )
    assert "attempt 2 of 3: ConnectionError: the feed is down (run 2); retrying in 2 s" in (
        worker.output
    )


def test_a_task_that_keeps_failing_is_recorded_failed_with_its_error_shown_to_admins(
    start_worker: Callable[[], Worker], client: Client
) -> None:
    result = always_fails.enqueue()

    worker = start_worker()
    row = ended(result.id, worker)

    assert row.status == TaskResultStatus.FAILED
    assert len(row.worker_ids) == 2
    assert row.exception_class_path == "builtins.RuntimeError"
    worker.wait_for("FAILED")
    admin = make_member(username="admin")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    failures = client.get(ADMIN_TASKS, {"status__exact": "FAILED"})
    assert failures.status_code == 200
    listed = failures.content.decode()
    assert "sala.core.tests.test_tasks.always_fails" in listed
    assert "RuntimeError: the extractor choked on this page" in listed
    assert "2 of 2" in listed
    detail = client.get(f"{ADMIN_TASKS}{row.pk}/change/").content.decode()
    assert "Traceback (most recent call last)" in detail
    assert "raise RuntimeError(&quot;the extractor choked on this page&quot;)" in detail


# --- Crashes and stops ----------------------------------------------------------------------


def test_a_task_whose_worker_is_killed_mid_run_is_finished_by_the_next_worker(
    start_worker: Callable[[], Worker], tmp_path: Path
) -> None:
    started, release = tmp_path / "started", tmp_path / "release"
    result = waits_for.enqueue(str(started), str(release))
    first = start_worker()
    wait_until(started.exists, failing=lambda: first.output)

    first.process.send_signal(signal.SIGKILL)
    first.process.wait(timeout=10)
    assert DBTaskResult.objects.get(pk=result.id).status == TaskResultStatus.RUNNING
    release.touch()
    second = start_worker()
    row = ended(result.id, second)

    assert row.status == TaskResultStatus.SUCCESSFUL
    assert row.return_value == "released"
    assert len(row.worker_ids) == 2
    assert row.worker_ids[0] != row.worker_ids[1]
    assert f"from worker {row.worker_ids[0]}: its lease expired" in second.output


def test_a_stopped_worker_finishes_the_task_in_hand_before_it_exits(
    start_worker: Callable[[], Worker], tmp_path: Path
) -> None:
    started, release = tmp_path / "started", tmp_path / "release"
    result = waits_for.enqueue(str(started), str(release))
    worker = start_worker()
    wait_until(started.exists, failing=lambda: worker.output)

    worker.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert worker.process.poll() is None
    release.touch()

    assert worker.process.wait(timeout=10) == 0
    assert DBTaskResult.objects.get(pk=result.id).status == TaskResultStatus.SUCCESSFUL


# --- The schedule ---------------------------------------------------------------------------


def test_a_scheduled_task_is_enqueued_once_per_run_however_many_workers_start(
    start_worker: Callable[[], Worker],
) -> None:
    prune = "sala.core.tasks.runner.prune_task_results"
    workers = [start_worker(), start_worker()]

    # Each worker either enqueues this hour's run or finds it enqueued (logged at -v 2).
    for worker in workers:
        worker.wait_for(prune)

    assert DBTaskResult.objects.filter(task_path=prune).count() == 1
    assert sum(f"enqueued {prune}" in worker.output for worker in workers) == 1
    assert sum(f"skipped {prune}" in worker.output for worker in workers) == 1


# --- In-process ---------------------------------------------------------------------------------


def test_in_process_a_task_runs_once_its_transaction_commits_without_holding_up_the_caller(
    settings: Any, tmp_path: Path
) -> None:
    settings.SALA_TASKS_IN_PROCESS = True
    started, release = tmp_path / "started", tmp_path / "release"
    try:
        with transaction.atomic():
            result = waits_for.enqueue(str(started), str(release))
            time.sleep(0.5)
            assert not started.exists()  # nothing runs before the commit
        # The caller is back here while the task runs and waits to be released.
        wait_until(started.exists, timeout=10)
        release.touch()
        row = ended(result.id)
    finally:
        stop_in_process_runner()

    assert row.status == TaskResultStatus.SUCCESSFUL
    assert row.worker_ids[0].endswith(":in-process")


def test_the_admin_does_not_show_what_a_queued_mail_says(admin_client: Client) -> None:
    with transaction.atomic():
        enqueue_email(
            EmailMessage(
                "Reset your password", "https://forum.example/reset/SECRET-KEY/", to=["a@b"]
            )
        )
    row = DBTaskResult.objects.get(task_path="sala.core.tasks.mail.send_email")

    detail = admin_client.get(f"{ADMIN_TASKS}{row.pk}/change/").content.decode()

    assert "A mail message, not shown" in detail
    assert "SECRET-KEY" not in detail
