"""The administration's view of background tasks: what failed, why, after how many tries."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

# Importing the library's admin registers it, even though core's admin loads first.
from django_tasks_db.admin import DBTaskResultAdmin
from django_tasks_db.models import DBTaskResult

from sala.core.tasks import retry_policy
from sala.core.tasks.mail import send_email

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
        fields = [*fields[:2], "attempts", *fields[2:]]
        if obj is not None and obj.task_path == send_email.module_path:
            # A mail's arguments are the mail: sign-in and password reset links that
            # nobody but its recipient may read.
            fields = ["mail_arguments" if name == "args_kwargs" else name for name in fields]
        return fields

    @admin.display(description=_("arguments"))
    def mail_arguments(self, obj: DBTaskResult[Any, Any]) -> str:
        return str(_("A mail message, not shown: it may hold links meant for its recipient."))

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
