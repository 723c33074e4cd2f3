"""`sala feeds`: add, list and poll the feeds that bring news in."""

import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from sala.accounts.models import User
from sala.forums.models import Forum
from sala.news import services
from sala.news.models import FeedSource


class Command(BaseCommand):
    help = "Manage news feeds: `sala feeds add URL --forum news`, `sala feeds list`, `poll`."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        add = actions.add_parser("add", help="Add a feed for Sala to poll into a forum.")
        add.add_argument("url", help="The feed's address (RSS, Atom or JSON Feed).")
        add.add_argument("--forum", required=True, help="The forum's slug, name or id.")
        add.add_argument("--poster", help="Username to post as (default: the News account).")
        add.add_argument(
            "--every", type=int, default=30, metavar="MINUTES", help="Poll interval (>= 5)."
        )
        add.add_argument(
            "--full",
            action="store_true",
            help="Import each item's full article from its page, not the feed's summary.",
        )
        actions.add_parser("list", help="List the feeds with their last poll and error.")
        poll = actions.add_parser("poll", help="Poll the feeds now, one pass, in this process.")
        poll.add_argument(
            "--due", action="store_true", help="Only the feeds due a poll (default: all active)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _add(self, options: dict[str, Any]) -> None:
        forum = _find_forum(options["forum"])
        poster = None
        if options["poster"]:
            poster = User.objects.filter(username__iexact=options["poster"]).first()
            if poster is None:
                raise CommandError(f"No member is called {options['poster']!r}.")
        try:
            source = services.add_feed_source(
                url=options["url"],
                forum=forum,
                poster=poster,
                interval_minutes=options["every"],
                full_article=options["full"],
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(
            f"Added feed {source.pk}: {source.url} → {forum.name}, every "
            f"{source.interval_minutes} min, as {source.poster.username}. "
            "`sala feeds poll` fetches it now."
        )

    def _list(self, options: dict[str, Any]) -> None:
        sources = FeedSource.objects.select_related("forum").order_by("pk")
        if not sources:
            self.stdout.write("No feeds yet: `sala feeds add URL --forum SLUG` adds one.")
        for source in sources:
            state = "" if source.is_active else " (paused)"
            polled = f"{source.last_polled_at:%Y-%m-%d %H:%M}" if source.last_polled_at else "never"
            self.stdout.write(
                f"{source.pk:>4}  {source}{state} → {source.forum.name}; polled {polled}; "
                f"{source.imported_count} imported"
            )
            if source.last_error:
                for line in source.last_error.splitlines():
                    self.stdout.write(self.style.WARNING(f"      ! {line}"))

    def _poll(self, options: dict[str, Any]) -> None:
        if options["due"]:
            ids = services.claim_due_sources()
        else:
            ids = list(FeedSource.objects.filter(is_active=True).values_list("pk", flat=True))
        if not ids:
            self.stdout.write("No feeds to poll.")
            return
        total = imported = failed = 0
        for done, source in enumerate(FeedSource.objects.filter(pk__in=ids).order_by("pk"), 1):
            self._progress(done - 1, len(ids), str(source))
            report = services.poll_feed(source)
            imported += report.imported
            failed += bool(report.error)
            total += 1
            self._progress(done, len(ids), str(source))
            self.stdout.write("")
            if report.error:
                self.stdout.write(self.style.ERROR(f"  {source}: {report.error}"))
            elif report.not_modified:
                self.stdout.write(f"  {source}: not changed since the last poll")
            else:
                self.stdout.write(
                    f"  {source}: {report.imported} new, {report.already_here} already here"
                )
            for problem in report.item_errors:
                self.stdout.write(self.style.WARNING(f"    ! {problem}"))
        self.stdout.write(f"Polled {total} feeds: {imported} new topics, {failed} failed.")
        if failed:
            sys.exit(1)

    def _progress(self, done: int, total: int, label: str) -> None:
        width = 24
        filled = width * done // total
        bar = "#" * filled + "." * (width - filled)
        self.stdout.write(f"\r[{bar}] {done}/{total} {label[:50]}", ending="")
        self.stdout.flush()


def _find_forum(name: str) -> Forum:
    """Return the forum called `name` (slug, name or id), or stop with the choices."""
    query = Q(slug__iexact=name) | Q(name__iexact=name)
    if name.isdigit():
        query |= Q(pk=int(name))
    forum = Forum.objects.filter(query).first()
    if forum is None:
        choices = ", ".join(Forum.objects.values_list("slug", flat=True)) or "none yet"
        raise CommandError(f"No forum {name!r}; forums: {choices}.")
    return forum
