"""The plan of a benchmark community, made in memory before anything is written: who
joins when, which topic gets how many replies, from whom and when."""

import unicodedata
from array import array
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from random import Random
from typing import Protocol

from sala.benchmark.vocabulary import (
    FIRST_NAMES,
    FORUMS,
    LAST_NAMES,
    OTHER_SCRIPT_NAMES,
    make_title,
)
from sala.forums.models import make_slug

#: How far back the generated community goes: members join and topics start over this span.
COMMUNITY_AGE = timedelta(days=6 * 365)


@dataclass(frozen=True)
class CommunitySize:
    """How much to generate. The defaults are issue 6's benchmark community."""

    members: int = 50_000
    topics: int = 2_000
    #: All posts, first posts included.
    posts: int = 1_000_000
    #: Posts of the one long topic (a live thread of the kind every forum has).
    big_topic_posts: int = 10_000
    forums: int = 6

    def problems(self) -> list[str]:
        """Return what makes this size impossible, as sentences; empty if it is fine."""
        problems = []
        for name in ("members", "topics", "forums", "big_topic_posts"):
            if getattr(self, name) < 1:
                problems.append(f"--{name.replace('_', '-')} must be at least 1.")
        if not problems and self.posts < self.big_topic_posts + self.topics - 1:
            problems.append(
                f"--posts must be at least --big-topic-posts + --topics - 1 "
                f"({self.big_topic_posts + self.topics - 1:,}): every topic has a first post."
            )
        if not problems and self.topics == 1 and self.posts != self.big_topic_posts:
            problems.append("With one topic, --posts and --big-topic-posts must be equal.")
        return problems


class Progress(Protocol):
    """Where the generator reports how far it is; the command draws it as a bar."""

    def start(self, phase: str, total: int) -> None: ...

    def advance(self, count: int) -> None: ...

    def finish(self) -> None: ...


class Silent:
    """Progress reported nowhere."""

    def start(self, phase: str, total: int) -> None:
        pass

    def advance(self, count: int) -> None:
        pass

    def finish(self) -> None:
        pass


@dataclass
class PlannedMember:
    username: str
    display_name: str
    email: str
    joined: float  # seconds since 1970, UTC


@dataclass
class PlannedTopic:
    forum: int
    title: str
    start: float
    author: int
    posts: int
    source_url: str = ""
    is_pinned: bool = False
    views: int = 0


@dataclass
class Plan:
    members: list[PlannedMember]
    topics: list[PlannedTopic]
    # One entry per post, in the order planned (topic by topic): when, where, by whom.
    post_time: array[float]
    post_topic: array[int]
    post_author: array[int]


def _ascii_fold(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if c.isascii() and (c.isalnum() or c in "._-"))


def _plan_members(
    rng: Random, count: int, start: float, end: float, taken: set[str], emails: set[str]
) -> list[PlannedMember]:
    """Return `count` members with unique names (whatever their case), oldest first."""
    joined = sorted(start + (end - start) * rng.random() ** 0.75 for _ in range(count))
    joined[0] = start  # somebody is there to start the first topic
    members = []
    serial = 0
    for moment in joined:
        if rng.random() < 0.04:
            display_name, base = rng.choice(OTHER_SCRIPT_NAMES)
        else:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            display_name = f"{first} {last}"
            folded_first, folded_last = _ascii_fold(first), _ascii_fold(last.replace(" ", ""))
            base = rng.choice(
                (
                    f"{folded_first}.{folded_last}".lower(),
                    f"{folded_first}_{folded_last[0]}".lower(),
                    f"{folded_first}{folded_last}",
                    f"{folded_first.lower()}{rng.randint(1, 99)}",
                    f"{folded_last.lower()}{rng.randint(1960, 2005)}",
                    folded_first.lower(),
                )
            )
        if rng.random() < 0.2:
            display_name = ""  # shown by username
        username = base[:24]
        while len(username) < 3 or username.lower() in taken:
            username = f"{base[:24]}{rng.randint(1, 9999)}"
        taken.add(username.lower())
        serial += 1
        while f"member{serial}@members.example.net" in emails:
            serial += 1
        email = f"member{serial}@members.example.net"
        emails.add(email)
        members.append(PlannedMember(username, display_name, email, moment))
    return members


def _spread(total: int, weights: Sequence[float], cap: int) -> list[int]:
    """Split `total` into len(weights) counts in proportion to `weights`, none above `cap`."""
    counts = [0] * len(weights)
    open_ = list(range(len(weights)))
    left = total
    while left > 0:
        weight_sum = sum(weights[i] for i in open_)
        given = 0
        for i in open_:
            share = min(cap - counts[i], int(left * weights[i] / weight_sum))
            counts[i] += share
            given += share
        left -= given
        open_ = [i for i in open_ if counts[i] < cap]
        if given == 0:
            # What is left is less than one each: one more to the heaviest topics.
            for i in sorted(open_, key=weights.__getitem__, reverse=True)[:left]:
                counts[i] += 1
            left = 0
    return counts


def make_plan(
    rng: Random, size: CommunitySize, now: float, taken: set[str], emails: set[str],
    progress: Progress,
) -> Plan:  # fmt: skip
    """Return the plan of a community of `size` whose last post is just before `now`
    (seconds since 1970), its usernames and emails other than `taken` and `emails`."""
    start = now - COMMUNITY_AGE.total_seconds()
    day = 86_400.0
    members = _plan_members(rng, size.members, start, now - day, taken, emails)
    joined = [member.joined for member in members]
    # Most members only read; of those who post, a few post most (a Pareto tail, capped so
    # that nobody writes a tenth of everything).
    activity = [0.0 if rng.random() < 0.55 else min(rng.paretovariate(1.2), 400.0) for _ in joined]
    activity[0] = max(activity[0], 1.0)
    cumulative = list(accumulate(activity))

    def pick_author(moment: float) -> int:
        eligible = max(1, bisect_right(joined, moment))
        return bisect_right(cumulative, rng.random() * cumulative[eligible - 1], 0, eligible)

    # Topic sizes: the big one, and a long tail for the rest (most topics get a handful of
    # replies, a few get thousands), each staying below the big one where the sizes allow.
    others = size.topics - 1
    replies = size.posts - size.big_topic_posts - others
    cap = max(size.big_topic_posts - 2, -(-replies // others) if others else 0)
    weights = [rng.lognormvariate(0, 1.3) for _ in range(others)]
    sizes = [size.big_topic_posts] + [1 + n for n in _spread(replies, weights, cap)]

    forum_weights = list(accumulate(1 / (n + 1) ** 0.6 for n in range(size.forums)))
    first_topic = start + 7 * day
    topics = []
    for index, posts in enumerate(sizes):
        if index == 0:  # the long thread runs most of the community's life
            topic_start = start + (now - start) * 0.2
            forum = 0
        else:
            topic_start = first_topic + (now - 3600 - first_topic) * rng.random() ** 0.6
            forum = bisect_right(forum_weights, rng.random() * forum_weights[-1])
        topics.append(
            PlannedTopic(
                forum=forum,
                title=make_title(rng),
                start=topic_start,
                author=pick_author(topic_start),
                posts=posts,
            )
        )
    big_topic = topics[0]
    topics.sort(key=lambda topic: topic.start)  # ids follow creation, as if one by one
    big = next(n for n, topic in enumerate(topics) if topic is big_topic)

    post_time: array[float] = array("d")
    post_topic: array[int] = array("q")
    post_author: array[int] = array("q")
    lognormvariate = rng.lognormvariate
    for index, topic in enumerate(topics):
        # Replies come quickly at first and slow down as the topic ages. A topic that would
        # outlive today is squeezed into part of the time it has had, so that not every
        # squeezed topic ends a minute ago; the long thread alone is still going.
        gaps = [
            max(20.0, min(180.0 * (1 + n / 5), 21_600.0) * lognormvariate(0, 1.3))
            for n in range(1, topic.posts)
        ]
        window = (now - 60) - topic.start
        if index != big:
            window *= 1 - 0.5 * rng.random()
        natural = sum(gaps)
        scale = min(1.0, window / natural) if natural else 1.0
        moment = topic.start
        author = topic.author
        for n in range(topic.posts):
            if n:
                moment += gaps[n - 1] * scale
                previous = author
                author = pick_author(moment)
                if author == previous:  # people rarely reply to themselves
                    author = pick_author(moment)
            post_time.append(moment)
            post_topic.append(index)
            post_author.append(author)
        topic.views = topic.posts * rng.randint(3, 40) + rng.randint(10, 400)
        progress.advance(topic.posts)
    pinned_forums: set[int] = set()
    for topic in topics:  # each forum's oldest topic is pinned: its rules or FAQ
        if topic.forum not in pinned_forums:
            pinned_forums.add(topic.forum)
            topic.is_pinned = True
        if FORUMS[topic.forum % len(FORUMS)][2] and rng.random() < 0.7:
            moment_ = datetime.fromtimestamp(topic.start, UTC)
            topic.source_url = (
                f"https://news.example.org/{moment_:%Y/%m}/{make_slug(topic.title)[:60]}"
            )
    return Plan(members, topics, post_time, post_topic, post_author)
