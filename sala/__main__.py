"""The `sala` command: Django's management commands with Sala's settings."""

import os
import sys


def main() -> None:
    """Run a management command, e.g. `sala migrate`, `sala serve`, `sala check --deploy`."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sala.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["sala", *sys.argv[1:]])


if __name__ == "__main__":
    main()
