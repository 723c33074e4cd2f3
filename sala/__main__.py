"""The `sala` command: Django's management commands with Sala's settings."""

import os
import sys

_HYPHENATED = {"bench-data": "bench_data"}


def main() -> None:
    """Run a management command, e.g. `sala migrate`, `sala serve`, `sala check --deploy`."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sala.settings")
    from django.core.management import execute_from_command_line

    arguments = sys.argv[1:]
    # Commands are spelled with hyphens on the command line (`sala bench-data`); Django
    # names them after their modules, which use underscores.
    if arguments and arguments[0] in _HYPHENATED:
        arguments[0] = _HYPHENATED[arguments[0]]
    execute_from_command_line(["sala", *arguments])


if __name__ == "__main__":
    main()
