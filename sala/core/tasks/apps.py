"""The tasks app: django_tasks_db's models and admin, started the way Sala runs tasks."""

from django.core.signals import request_started
from django_tasks_db.apps import TasksAppConfig


class TaskResultsConfig(TasksAppConfig):
    """django_tasks_db (task rows, migrations, admin) with Sala's in-process runner.

    Listed in INSTALLED_APPS in place of django_tasks_db. Its label stays
    django_tasks_database, so migrations and admin URLs are the library's.
    """

    def ready(self) -> None:
        super().ready()
        # Imported here: the runner uses models, which are ready only now.
        from sala.core.tasks.runner import start_with_first_request

        request_started.connect(
            start_with_first_request, dispatch_uid="sala.core.tasks.start_with_first_request"
        )
