"""The administration's view of background tasks: what failed, why, after how many tries."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

# Importing the library's admin registers it, even though core's admin loads first.
from django_tasks_db.admin import DBTaskResultAdmin
from django_tasks_db.models import DBTaskResult

from sala.core.tasks import retry_policy

admin.site.unregister(DBTaskResult)


@admin.register(DBTaskResult)
class TaskResultAdmin(DBTaskResultAdmin):
    """django_tasks_db's read-only task list, with each task's attempts and last error."""

    # The library's tuples are typed by their length; these differ in length only.
    list_display = (  # type: ignore[assignment]
        "task_path",
        "status",
        "attempts",
        "last_error",
        "enqueued_at",
        "finished_at",
    )
    list_filter = ("status", "queue_name")  # type: ignore[assignment]
    search_fields = ("task_path", "exception_class_path")

    def get_readonly_fields(
        self, request: HttpRequest, obj: DBTaskResult[Any, Any] | None = None
    ) -> list[str]:
        fields = super().get_readonly_fields(request, obj)
        return [*fields[:2], "attempts", *fields[2:]]

    @admin.display(description=_("attempts"))
    def attempts(self, obj: DBTaskResult[Any, Any]) -> str:
        return f"{len(obj.worker_ids)} of {retry_policy(obj.task_path).max_attempts}"

    @admin.display(description=_("last error"))
    def last_error(self, obj: DBTaskResult[Any, Any]) -> str:
        """Return the last line of the traceback: the exception and its message.

        A task waiting for its next attempt keeps the error of the one before.
        """
        lines = obj.traceback.strip().splitlines()
        return lines[-1] if lines else ""
