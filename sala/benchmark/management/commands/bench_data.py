"""`sala bench_data`: fill the configured database with a large community for benchmarks."""

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from sala.benchmark.community import DatabaseNotEmpty, generate_community, refuse_unless_empty
from sala.benchmark.plan import CommunitySize

_DEFAULTS = CommunitySize()


class Command(BaseCommand):
    help = (
        "Generate a community for benchmarks into the configured database (DATABASE_URL): "
        "members, forums, topics (one of them long) and posts with realistic text and reply "
        "timing, written with bulk inserts (COPY on PostgreSQL) in one transaction, then "
        "counted by the forums' own counter rules, as if every post had been written one by "
        "one. Sala has no search index "
        "yet, so there is no search data to fill. Refuses a database that has posts unless "
        "--append is given. The same --seed gives the same community."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--members", type=int, default=_DEFAULTS.members, help="Members (default %(default)s)."
        )
        parser.add_argument(
            "--topics", type=int, default=_DEFAULTS.topics, help="Topics (default %(default)s)."
        )
        parser.add_argument(
            "--posts",
            type=int,
            default=_DEFAULTS.posts,
            help="Posts in all, first posts included (default %(default)s).",
        )
        parser.add_argument(
            "--big-topic-posts",
            type=int,
            default=_DEFAULTS.big_topic_posts,
            help="Posts of the one long topic (default %(default)s); the rest of the posts "
            "spread over the other topics with a long tail.",
        )
        parser.add_argument(
            "--forums",
            type=int,
            default=_DEFAULTS.forums,
            help="Forums, three to a category (default %(default)s).",
        )
        parser.add_argument(
            "--seed", type=int, default=1, help="Seed of the generator (default %(default)s)."
        )
        parser.add_argument(
            "--batch",
            type=int,
            default=5_000,
            help="Rows per bulk insert (default %(default)s).",
        )
        parser.add_argument(
            "--append",
            action="store_true",
            help="Write beside existing posts: new categories, forums and members; nothing "
            "that is there is changed.",
        )
        parser.add_argument(
            "--password",
            help="Give every generated member this password, hashed once (default: none, "
            "they cannot sign in).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        size = CommunitySize(
            members=options["members"],
            topics=options["topics"],
            posts=options["posts"],
            big_topic_posts=options["big_topic_posts"],
            forums=options["forums"],
        )
        if problems := size.problems():
            raise CommandError(" ".join(problems))
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1.")
        if not options["append"]:
            try:
                refuse_unless_empty()
            except DatabaseNotEmpty as error:
                raise CommandError(
                    f"{error} bench_data fills an empty database: create one and migrate it "
                    "(createdb sala_bench; DATABASE_URL=postgres://.../sala_bench sala migrate), "
                    "or pass --append to write a separate community beside these posts."
                ) from None
        database = settings.DATABASES["default"]
        self.stdout.write(
            f"Generating {size.members:,} members, {size.topics:,} topics and {size.posts:,} "
            f"posts (one topic of {size.big_topic_posts:,}) in {size.forums} forums into "
            f"{database['ENGINE'].rsplit('.', 1)[-1]} database {database['NAME']} "
            f"(seed {options['seed']})."
        )
        started = time.perf_counter()
        community = generate_community(
            size=size,
            seed=options["seed"],
            batch=options["batch"],
            append=options["append"],
            password=options["password"],
            progress=ProgressBar(self.stdout),
        )
        phases = ", ".join(f"{name} {_duration(s)}" for name, s in community.seconds.items())
        self.stdout.write(
            self.style.SUCCESS(
                f"Done in {_duration(time.perf_counter() - started)} ({phases}). "
                "No search data: Sala has no search index yet."
            )
        )


class ProgressBar:
    """Draw one line per phase: a bar, counts, rate and time left, redrawn in place.

    Into a file or pipe, where redrawing would pile up, a phase prints its line when it
    ends and every ten seconds in between.
    """

    width = 30

    def __init__(self, out: OutputWrapper) -> None:
        self.out = out
        self.live = out.isatty()
        self.phase = ""
        self.total = self.done = 0
        self.started = self.drawn = 0.0

    def start(self, phase: str, total: int) -> None:
        self.phase, self.total, self.done = phase, total, 0
        self.started = self.drawn = time.perf_counter()
        if self.live:
            self._draw(self.started)

    def advance(self, count: int) -> None:
        self.done += count
        now = time.perf_counter()
        if now - self.drawn >= (0.2 if self.live else 10.0):
            self._draw(now)

    def finish(self) -> None:
        self.done = self.total
        self._draw(time.perf_counter(), final=True)

    def _draw(self, now: float, *, final: bool = False) -> None:
        self.drawn = now
        elapsed = now - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        filled = self.width * self.done // self.total if self.total else self.width
        bar = "#" * filled + "." * (self.width - filled)
        if final:
            tail = f"in {_duration(elapsed)}"
        else:
            left = (self.total - self.done) / rate if rate else 0.0
            tail = f"ETA {_duration(left)}" if rate else ""
        line = f"{self.phase:<9}[{bar}] {self.done:>11,}/{self.total:,}  {rate:>9,.0f}/s  {tail}"
        if self.live:
            self.out.write(f"\r{line:<100}", ending="\n" if final else "")
            self.out.flush()
        else:
            self.out.write(line)


def _duration(seconds: float) -> str:
    """Return `seconds` as "4.2 s" or "3:05"."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, whole = divmod(round(seconds), 60)
    return f"{minutes}:{whole:02d}"
