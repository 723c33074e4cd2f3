"""Background tasks: how a feature declares one, with retries and an optional schedule.

A task is Django's (`django.tasks`), stored as a row by django_tasks_db's database
backend and run by `sala worker` or, in the embedded default, by a thread of the serving
process (`sala.core.tasks.runner`). docs/subsystems/tasks.md tells the whole story.

This module is imported while Django loads its apps (the tasks app's config lives
beside it), so it must not import models.
"""

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from inspect import Parameter, signature
from typing import Any

from django.db import transaction
from django.tasks import Task, task
from django.utils.module_loading import import_string
from django_tasks_db.backend import DatabaseBackend as _DatabaseBackend
from django_tasks_db.backend import TaskResult

#: Longest wait between two attempts of a task, however many it had, in seconds.
MAX_RETRY_DELAY = 3600.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often a task is tried, and how long it waits between tries."""

    #: Runs before the task is recorded failed; a run whose worker died counts as one.
    max_attempts: int = 3
    #: Seconds before the second attempt; each later one waits twice as long as the last.
    retry_delay: float = 10.0

    def delay_after(self, attempt: int) -> float:
        """Return the seconds to wait after attempt number `attempt` (1-based) failed."""
        return float(min(self.retry_delay * 2 ** (attempt - 1), MAX_RETRY_DELAY))


@dataclass(frozen=True)
class PeriodicTask:
    """A task the runners enqueue once every `every` seconds, whichever runs first."""

    task: Task[[], Any]
    every: int


#: Retry policies of declared tasks, by task path; undeclared tasks get the default.
_policies: dict[str, RetryPolicy] = {}
#: Tasks to enqueue on a schedule, by task path.
_periodic: dict[str, PeriodicTask] = {}


def background_task[**P, R](
    *,
    max_attempts: int = RetryPolicy.max_attempts,
    retry_delay: float = RetryPolicy.retry_delay,
    every: int | None = None,
    priority: int = 0,
) -> Callable[[Callable[P, R]], Task[P, R]]:
    """Declare a module-level function a task: Django's `@task` with a retry policy.

    A run that raises is tried again after `retry_delay` seconds, then twice as long each
    time (at most an hour), until `max_attempts` runs; then the task is recorded failed
    with its error, which the admin shows. With `every`, the task also runs every that
    many seconds, once across all workers; a scheduled task takes no arguments.
    Tasks may run more than once (a retry after a send that did happen, a worker lost
    mid-run), so they must be safe to repeat.
    """
    if max_attempts < 1:
        raise ValueError("A task needs at least one attempt.")
    if every is not None and every < 1:
        raise ValueError("A scheduled task runs at most once a second.")

    def declare(function: Callable[P, R]) -> Task[P, R]:
        declared = task(function, priority=priority)
        _policies[declared.module_path] = RetryPolicy(max_attempts, retry_delay)
        if every is not None:
            required = [
                p
                for p in signature(function).parameters.values()
                if p.default is Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            ]
            if required:
                raise TypeError(
                    f"{declared.module_path} runs on a schedule: it takes no arguments."
                )
            _periodic[declared.module_path] = PeriodicTask(declared, every)  # type: ignore[arg-type]
        return declared

    return declare


def retry_policy(task_path: str) -> RetryPolicy:
    """Return the retry policy of the task at `task_path`, importing it if need be.

    A task that cannot be imported (say, enqueued by a newer release than this worker's)
    gets the default policy, so it is retried rather than lost at once.
    """
    if task_path not in _policies:
        with suppress(ImportError):
            import_string(task_path)
    return _policies.get(task_path, RetryPolicy())


def periodic_tasks() -> list[PeriodicTask]:
    """Return the scheduled tasks of every module imported so far."""
    return list(_periodic.values())


class DatabaseBackend(_DatabaseBackend):
    """django_tasks_db's backend, waking this process's runner once the task is committed.

    The row is written in the caller's transaction, so a task exists if and only if the
    write that enqueued it committed; the runner is told after the commit, so it never
    looks for a row it cannot see yet.
    """

    def enqueue[**P, R](
        self,
        task: Task[P, R],
        args: P.args,  # type: ignore[valid-type]
        kwargs: P.kwargs,  # type: ignore[valid-type]
    ) -> TaskResult[P, R]:
        result = super().enqueue(task, args, kwargs)
        transaction.on_commit(_wake_runner)
        return result

    async def aenqueue[**P, R](
        self,
        task: Task[P, R],
        args: P.args,  # type: ignore[valid-type]
        kwargs: P.kwargs,  # type: ignore[valid-type]
    ) -> TaskResult[P, R]:
        # Async code holds no transaction across awaits: the row is committed already.
        result = await super().aenqueue(task, args, kwargs)
        _wake_runner()
        return result


def _wake_runner() -> None:
    # The runner imports models, which this module must not do at import time.
    from sala.core.tasks.runner import wake

    wake()
