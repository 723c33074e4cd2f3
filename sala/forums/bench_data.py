"""Generate a large community for benchmarks: members, forums, topics and posts, in bulk.

`sala bench_data` calls `generate_community`. Everything is planned in memory first
(who joins when, which topic gets how many replies from whom and when), then written
with bulk inserts: `bulk_create`, and on PostgreSQL `COPY` for the posts, which are most
of the bytes. Every counter the pages show comes out as the services would have left it
had each post been written one by one, so the pages can be benchmarked as they are:

- ids follow time: members by join date, topics by start, posts by when they were
  written across the whole community, so a forum's last post is also its highest id;
- post numbers are dense from 1 in each topic, in time order;
- topics carry last_number, reply_count, last_post_at and last_poster; forums their
  topic_count, post_count and last_post; members their post_count.

Post bodies are Markdown stored with the HTML `sala.text.cooking` makes of them. Cooking
costs about a quarter of a millisecond, so a pool of paragraphs is cooked once and posts
are put together from it: paragraphs separated by a blank line are separate blocks, and
the HTML of the whole is the HTML of the paragraphs one after another (checked on a
sample before anything is written). No paragraph contains "@", so there are no mentions
to link.

Sala has no search index yet; when it has one, this is where its rows are to be written.
"""

import time
import unicodedata
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from random import Random
from typing import Protocol

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.db import connection, reset_queries, transaction
from django.utils import timezone

from sala.accounts.models import User
from sala.forums.models import Category, Forum, Post, Topic, make_slug
from sala.forums.services import cook_post

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


class _Silent:
    def start(self, phase: str, total: int) -> None:
        pass

    def advance(self, count: int) -> None:
        pass

    def finish(self) -> None:
        pass


class DatabaseNotEmpty(Exception):
    """The database already holds posts, and appending was not asked for."""

    def __init__(self, posts: int) -> None:
        super().__init__(f"The database already has {posts:,} posts.")
        self.posts = posts


@dataclass
class GeneratedCommunity:
    """What was written, and how long each phase took (seconds, in order)."""

    members: int
    forums: int
    topics: int
    posts: int
    seconds: dict[str, float] = field(default_factory=dict)


# -- Words ----------------------------------------------------------------------------
# A small vocabulary written for Sala: a regional news forum's talk, enough to make
# sentences of realistic length and rhythm. Nothing here contains "@" (mentions).

_PLACES = (
    "Porto Lume", "Harbour Town", "Eastfield", "Marrow Bay", "Northgate", "Little Ashby",
    "Kessel", "Varnley", "Orrin Falls", "the old quarter", "Brightwater", "Sundale",
    "Halden", "Millbrook", "Caraway", "Fenwick", "Lowmoor", "Saint Aubin", "the hill villages",
    "the river district",
)  # fmt: skip
_ACTORS = (
    "the council", "the mayor", "the regional government", "the transport authority",
    "the residents' association", "the school board", "local shop owners", "the water company",
    "the hospital trust", "farmers in the valley", "the opposition", "a group of volunteers",
    "the planning committee", "the university", "the fire service", "the port authority",
    "the commuters' group", "the library staff", "the football club", "the weather service",
)  # fmt: skip
_THINGS = (
    "the tram line", "the new bridge", "the budget", "the bus timetable", "the river clean-up",
    "the housing plan", "the night market", "the bike lane plan", "the wind farm",
    "the library closure", "the parking charge", "the school merger", "the flood barrier",
    "the summer festival", "the broadband rollout", "the recycling scheme", "the ferry service",
    "the heat pump grant", "the old cinema", "the water bill", "the speed limit",
    "the harbour wall", "the rail strike", "the tourist tax", "the allotment scheme",
    "the hospital car park", "the street lighting", "the ring road", "the fishing quota",
    "the youth centre",
)  # fmt: skip
_VERBS = (
    "approved", "delayed", "rejected", "announced", "paid for", "scrapped", "reviewed",
    "promised", "questioned", "postponed", "expanded", "cut back", "defended", "redesigned",
)  # fmt: skip
_JUDGEMENTS = (
    "a good idea", "overdue", "too expensive", "a step in the right direction", "badly planned",
    "reasonable", "a bit optimistic", "long overdue", "cheap for what it is", "hard to justify",
    "the right call", "a distraction", "better than nothing", "a gamble",
)  # fmt: skip
_TIMES = ("week", "month", "spring", "year", "Tuesday", "autumn", "summer", "winter")
_PERIODS = ("year", "election", "winter", "budget season", "summer")
_DURATIONS = (
    "two years", "eighteen months", "a decade", "six weeks", "three council terms", "a winter",
)  # fmt: skip
_RELATIVES = ("sister", "neighbour", "cousin", "father", "colleague", "flatmate", "aunt")
_FILES = ("budget_2025.csv", "timetable-v2.pdf", "route_map.geojson", "survey-results.xlsx")
_HOSTS = (
    "news.example.org", "www.example.com", "council.example.net", "data.example.org",
    "blog.example.com", "radio.example.net",
)  # fmt: skip

_SENTENCES = (
    "I think {thing} is {judgement}, but {actor} should have asked people first.",
    "{Actor} {verb} {thing} last {time}, and nobody seems to know what happens next.",
    "Has anyone actually read the report on {thing}?",
    "We had the same argument in {place} about {thing} a few years ago.",
    "The numbers in the article don't add up: {amount} for {thing} sounds {judgement}.",
    "My {relative} works near {place} and says {thing} has made a real difference.",
    "Honestly, {thing} is the least of our problems right now.",
    "If {actor} can't explain the cost of {thing}, the vote should wait.",
    "Good point about {thing}, I hadn't thought of it that way.",
    "It took {duration} to get {thing} through the last time.",
    "That's not what the article says about {thing}, though.",
    "I'd like to see {actor} publish the full figures for {thing}.",
    "Can someone explain why {thing} costs {amount}?",
    "Every {period} we hear the same promise about {thing}.",
    "Compared to {place}, we're doing fine with {thing}.",
    "I went to the public meeting on {thing} and the hall was packed.",
    "{Actor} should talk to {actor2} before deciding anything about {thing}.",
    "For what it's worth, {thing} worked well in {place}.",
    "I'm not convinced, but I'm willing to be proved wrong about {thing}.",
    "Thanks for posting this, {thing} gets far too little coverage.",
    "Nobody in {place} asked for {thing}, as far as I can tell.",
    "Let's wait for the final decision on {thing} before we get angry.",
    "Apparently {actor} will vote on {thing} again next {time}.",
    "The last time {actor} {verb} something like this, prices went up.",
    "Same here: {thing} is all anyone talks about at work.",
    "I remember when {thing} was first proposed, back in {year}.",
    "What worries me is who pays for {thing} once the grant runs out.",
    "To be fair, {actor} did warn us about {thing} in {year}.",
    "A friend in {place} says the mood there is very different.",
    "The photo in the article is of {place}, not {place2}, by the way.",
    "People forget that {thing} was {judgement} when it was first built.",
    "I'd happily pay a bit more if it meant {thing} actually worked.",
    "{Actor} {verb} {thing} without a single public hearing.",
    "Has {actor} said anything about {thing2} yet?",
    "There's a petition going round about {thing}, if anyone is interested.",
    "The real question is whether {thing} survives the next {period}.",
    "I used to live in {place}, and {thing} was a problem even then.",
    "It's {judgement}, and I say that as someone who drives every day.",
    "My guess is that {thing} ends up costing twice as much.",
    "Either way, {thing} and {thing2} should be decided together.",
)
_LINK_SENTENCES = (
    "The full report is here: {url}",
    "There's a longer piece on this at {url} if you have the time.",
    "Source: [{host}]({url})",
    "{Actor} has the details on [its own page]({url}).",
    "More background in [this article from {year}]({url}).",
    "The figures are in `{file}` on the open data site.",
)
_QUOTE_OPENERS = ("", "", "", "From the article: ", "Quoting the council: ")
_LIST_INTROS = (
    "A few things I'd want to know first:",
    "What we know so far:",
    "My list, for what it's worth:",
    "Options on the table:",
)
_LIST_ITEMS = (
    "who pays for {thing}",
    "how long {thing} takes",
    "what happens to {thing2} in the meantime",
    "whether {actor} consulted anyone",
    "the cost per household",
    "{Thing}, which is {judgement}",
    "a vote in {place} first",
    "the timetable for {thing}",
)
_ONE_LINERS = (
    "Agreed.", "Thanks for sharing this.", "Good point.", "Same here.", "Interesting, thanks!",
    "Not sure about that, to be honest.", "Well said.", "Any update on this?", "Following.",
    "Ha, fair enough.", "Exactly what I was going to say.", "Source?", "Makes sense.",
    "I'll believe it when I see it.", "Can confirm, I was there.",
    "Great write-up, thank you.", "That's a relief.", "Bookmarked.", "What a week.",
    "This is the best summary I've read so far.",
)  # fmt: skip
_TITLES = (
    "{Place} votes on {thing}",
    "What the decision on {thing} means for {place}",
    "{Actor} {verb} {thing}: what now?",
    "Is {thing} worth {amount}?",
    "{Thing} in {place}: updates and discussion",
    "Question about {thing}",
    "{Amount} for {thing}? Here's the breakdown",
    "Why {place} keeps arguing about {thing}",
    "{Place} residents react as {actor} {verb} {thing}",
    "After {duration}, {actor} {verb} {thing}",
    "Anyone else following {thing}?",
    "{Thing} and {thing2}: one plan or two?",
    "Opinion: {thing} is {judgement}",
    "Live thread: {thing} in {place}",
)

_FIRST_NAMES = (
    "Marta", "Oskar", "Priya", "Tomasz", "Elena", "Rui", "Amara", "Jonas", "Sofia", "Mateo",
    "Hana", "Kwame", "Ingrid", "Luca", "Aisha", "Pavel", "Chloé", "Diego", "Yuki", "Femi",
    "Nora", "Arjun", "Leila", "Sven", "Camille", "Tariq", "Zofia", "Emeka", "Inês", "Bruno",
    "Mei", "Kofi", "Freya", "Omar", "Lucía", "Anders", "Nadia", "Thiago", "Sanne", "Giorgos",
    "Ayesha", "Mikael", "Rosa", "Hamid", "Elif", "Tobias", "Ana", "Jakub", "Mariam", "Finn",
)  # fmt: skip
_LAST_NAMES = (
    "Quintero", "Lind", "Natarajan", "Nowak", "Duarte", "Calado", "Okafor", "Berg", "Rossi",
    "García", "Sato", "Mensah", "Halvorsen", "Bianchi", "Rahman", "Dvořák", "Lefèvre",
    "Morales", "Tanaka", "Adeyemi", "Keller", "Sharma", "Haddad", "Johansson", "Moreau",
    "Aziz", "Kowalska", "Eze", "Ferreira", "Costa", "Chen", "Owusu", "Larsen", "Farouk",
    "Romero", "Nilsson", "Petrenko", "Almeida", "de Vries", "Papadopoulos", "Khan",
    "Virtanen", "Silva", "Karimi", "Öztürk", "Weber", "Santos", "Novák", "Ali", "Murphy",
)  # fmt: skip
# Names in other scripts: (display name, username in the same script).
_OTHER_SCRIPT_NAMES = (
    ("Ольга Петрова", "ольга"), ("Дмитрий Соколов", "дмитрий"), ("Νίκος Παππάς", "νίκος"),
    ("Ελένη Γεωργίου", "ελένη"), ("佐藤 花子", "花子"), ("田中 健", "田中"), ("김민지", "민지"),
    ("이준호", "준호"), ("أحمد منصور", "أحمد"), ("Nguyễn Thị Lan", "lan.nguyen"),
)  # fmt: skip

_CATEGORIES = ("News and politics", "Community", "Life in the region", "Interests")
#: (name, description, whether its topics usually share an article)
_FORUMS = (
    ("News", "Articles from around the region, shared by members and talked over.", True),
    ("Politics", "Councils, elections and the decisions that follow them.", True),
    ("Transport", "Trams, trains, buses, bikes and the roads between them.", True),
    ("General discussion", "Introductions, questions, and this community itself.", False),
    ("Local events", "Markets, festivals, meetings and what's on this weekend.", False),
    ("Help and feedback", "Questions about this forum and how it works.", False),
    ("Science and environment", "Weather, rivers, energy and research nearby.", True),
    ("Sport", "Clubs, results and the arguments after the match.", True),
    ("Housing", "Rents, building plans and neighbourhoods.", True),
    ("Food and drink", "Markets, recipes and where to eat.", False),
    ("Books and film", "What we're reading and watching.", False),
    ("Work and money", "Jobs, prices and the local economy.", True),
)


def _random(seed: int, purpose: str) -> Random:
    """Return the generator for one purpose: changing how posts are written leaves the
    members and topics of a seed as they were."""
    return Random(f"{seed}:{purpose}")  # noqa: S311  (benchmark data, not secrets)


def _amount(rng: Random) -> str:
    if rng.random() < 0.5:
        return f"{rng.randint(2, 95)} million euros"
    return f"€{rng.randint(12, 990)},000"


def _fill(template: str, rng: Random, *, emphasis: bool = False) -> str:
    """Return `template` with its blanks filled from the vocabulary."""
    thing = rng.choice(_THINGS)
    if emphasis:
        mark = "**" if rng.random() < 0.5 else "*"
        thing = f"{mark}{thing}{mark}"
    actor = rng.choice(_ACTORS)
    place = rng.choice(_PLACES)
    amount = _amount(rng)
    words = {
        "thing": thing,
        "thing2": rng.choice(_THINGS),
        "actor": actor,
        "actor2": rng.choice(_ACTORS),
        "place": place,
        "place2": rng.choice(_PLACES),
        "verb": rng.choice(_VERBS),
        "judgement": rng.choice(_JUDGEMENTS),
        "amount": amount,
        "time": rng.choice(_TIMES),
        "period": rng.choice(_PERIODS),
        "duration": rng.choice(_DURATIONS),
        "relative": rng.choice(_RELATIVES),
        "year": str(rng.randint(1998, 2024)),
        "file": rng.choice(_FILES),
        "host": rng.choice(_HOSTS),
        "url": _url(rng),
        "Thing": _capitalise(thing),
        "Actor": _capitalise(actor),
        "Place": _capitalise(place),
        "Amount": _capitalise(amount),
    }
    return template.format_map(words)


def _capitalise(text: str) -> str:
    start = len(text) - len(text.lstrip("*"))
    return text[:start] + text[start : start + 1].upper() + text[start + 1 :]


def _url(rng: Random) -> str:
    words = "-".join(rng.choice(_THINGS).split()[1:] + rng.choice(_PLACES).lower().split())
    return (
        f"https://{rng.choice(_HOSTS)}/{rng.randint(2019, 2025)}/{rng.randint(1, 12):02d}/{words}"
    )


def _sentence(rng: Random) -> str:
    if rng.random() < 0.06:
        return _fill(rng.choice(_LINK_SENTENCES), rng)
    return _fill(rng.choice(_SENTENCES), rng, emphasis=rng.random() < 0.05)


def _plain_paragraph(rng: Random) -> str:
    sentences = [_sentence(rng) for _ in range(rng.choice((1, 1, 2, 2, 2, 3, 3, 4, 5)))]
    if len(sentences) > 1 and rng.random() < 0.06:  # a line break the member typed
        return " ".join(sentences[:-1]) + "\n" + sentences[-1]
    return " ".join(sentences)


def _quote_paragraph(rng: Random) -> str:
    lines = [_sentence(rng) for _ in range(rng.choice((1, 1, 2)))]
    return "> " + rng.choice(_QUOTE_OPENERS) + "\n> ".join(lines)


def _list_paragraph(rng: Random) -> str:
    marker = "-" if rng.random() < 0.7 else "1."
    items = rng.sample(_LIST_ITEMS, rng.randint(2, 5))
    lines = [
        f"{marker if marker == '-' else f'{n}.'} {_fill(item, rng)}"
        for n, item in enumerate(items, 1)
    ]
    return rng.choice(_LIST_INTROS) + "\n" + "\n".join(lines)


def make_title(rng: Random) -> str:
    """Return a topic title of realistic length, from the vocabulary."""
    return _capitalise(_fill(rng.choice(_TITLES), rng))


# -- Post bodies --------------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    text: str
    html: str


class ParagraphPool:
    """Paragraphs cooked once; posts are put together from them without cooking again.

    Blocks separated by a blank line cook independently, so the HTML of paragraphs
    joined with "\\n\\n" is their HTML joined. Two lists in a row would merge into one,
    so a list is never followed by another.
    """

    def __init__(
        self, rng: Random, size: int, on_cooked: Callable[[int], None] = lambda n: None
    ) -> None:
        def cooked(texts: Iterable[str]) -> list[Piece]:
            pieces = []
            for text in texts:
                pieces.append(Piece(text, cook_post(text).html))
                on_cooked(1)
            return pieces

        self.plain = cooked(_plain_paragraph(rng) for _ in range(size))
        self.quotes = cooked(_quote_paragraph(rng) for _ in range(max(1, size // 8)))
        self.lists = cooked(_list_paragraph(rng) for _ in range(max(1, size // 20)))
        self.one_liners = cooked(_ONE_LINERS)

    @staticmethod
    def cooking_count(size: int) -> int:
        """Return how many texts a pool of `size` cooks."""
        return size + max(1, size // 8) + max(1, size // 20) + len(_ONE_LINERS)

    def compose(self, rng: Random, *, first: bool) -> tuple[str, str]:
        """Return (Markdown, HTML) of one post: a first post runs longer than a reply."""
        random = rng.random
        if not first and random() < 0.1:
            piece = self.one_liners[int(random() * len(self.one_liners))]
            return piece.text, piece.html
        # Paragraphs: a reply usually has one to three, a first post two to seven.
        count = _FIRST_POST_PARAGRAPHS if first else _REPLY_PARAGRAPHS
        paragraphs = count[int(random() * len(count))]
        pieces: list[Piece] = []
        if random() < (0.25 if first else 0.12):
            pieces.append(self.quotes[int(random() * len(self.quotes))])
        after_list = False
        plain = self.plain
        for _ in range(paragraphs):
            if not after_list and random() < 0.04:
                pieces.append(self.lists[int(random() * len(self.lists))])
                after_list = True
            else:
                pieces.append(plain[int(random() * len(plain))])
                after_list = False
        return "\n\n".join(p.text for p in pieces), "".join(p.html for p in pieces)


_REPLY_PARAGRAPHS = (1,) * 36 + (2,) * 28 + (3,) * 17 + (4,) * 10 + (5,) * 5 + (6,) * 3 + (8,)
_FIRST_POST_PARAGRAPHS = (2,) * 20 + (3,) * 25 + (4,) * 25 + (5,) * 15 + (6,) * 10 + (7,) * 5


# -- The plan -----------------------------------------------------------------------------


@dataclass
class _Member:
    username: str
    display_name: str
    email: str
    joined: float  # seconds since 1970, UTC
    posts: int = 0


@dataclass
class _Topic:
    forum: int
    title: str
    start: float
    author: int
    posts: int
    source_url: str = ""
    is_pinned: bool = False
    views: int = 0
    last_at: float = 0.0
    last_poster: int = 0


@dataclass
class _Plan:
    members: list[_Member]
    topics: list[_Topic]
    # One entry per post, in the order planned (topic by topic): when, where, by whom.
    post_time: array[float]
    post_topic: array[int]
    post_author: array[int]


def _ascii_fold(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if c.isascii() and (c.isalnum() or c in "._-"))


def _plan_members(
    rng: Random, count: int, start: float, end: float, taken: set[str], emails: set[str]
) -> list[_Member]:
    """Return `count` members with unique names (whatever their case), oldest first."""
    joined = sorted(start + (end - start) * rng.random() ** 0.75 for _ in range(count))
    joined[0] = start  # somebody is there to start the first topic
    members = []
    serial = 0
    for moment in joined:
        if rng.random() < 0.04:
            display_name, base = rng.choice(_OTHER_SCRIPT_NAMES)
        else:
            first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
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
        members.append(_Member(username, display_name, email, moment))
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


def _plan(
    rng: Random, size: CommunitySize, now: float, taken: set[str], emails: set[str],
    progress: Progress,
) -> _Plan:  # fmt: skip
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
            _Topic(
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
            members[author].posts += 1
        topic.last_at = moment
        topic.last_poster = author
        topic.views = topic.posts * rng.randint(3, 40) + rng.randint(10, 400)
        progress.advance(topic.posts)
    pinned_forums: set[int] = set()
    for topic in topics:  # each forum's oldest topic is pinned: its rules or FAQ
        if topic.forum not in pinned_forums:
            pinned_forums.add(topic.forum)
            topic.is_pinned = True
        if _FORUMS[topic.forum % len(_FORUMS)][2] and rng.random() < 0.7:
            moment_ = datetime.fromtimestamp(topic.start, UTC)
            topic.source_url = (
                f"https://news.example.org/{moment_:%Y/%m}/{make_slug(topic.title)[:60]}"
            )
    return _Plan(members, topics, post_time, post_topic, post_author)


# -- Writing ---------------------------------------------------------------------------------


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _batches[T](items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_PostRow = tuple[int, int, int, str, str, datetime]  # topic, number, author, text, html, at


def _insert_posts_orm(rows: list[_PostRow]) -> list[int]:
    posts = Post.objects.bulk_create(
        [
            Post(
                topic_id=topic, number=number, author_id=author, text=text, html=html, created_at=at
            )
            for topic, number, author, text, html, at in rows
        ],
        batch_size=len(rows),
    )
    return [post.pk for post in posts]


def _insert_posts_copy(rows: list[_PostRow]) -> list[int]:
    """Write `rows` with PostgreSQL's COPY; return their ids, in order.

    The ids are taken from the table's sequence first, in one query, so they follow the
    order of `rows` and no concurrent writer can be handed one of them.
    """
    table = Post._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, len(rows)],
        )
        ids = sorted(row[0] for row in cursor.fetchall())
        columns = "id, topic_id, number, author_id, text, html, created_at, edit_count, is_deleted"
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            write_row = copy.write_row
            for post_id, (topic, number, author, text, html, at) in zip(ids, rows, strict=True):
                write_row((post_id, topic, number, author, text, html, at, 0, False))
    return ids


def refuse_unless_empty() -> None:
    """Raise DatabaseNotEmpty if the database has posts: benchmark data goes into an empty one."""
    if Post.objects.exists():
        raise DatabaseNotEmpty(Post.objects.count())


def generate_community(
    *,
    size: CommunitySize,
    seed: int = 1,
    batch: int = 5_000,
    append: bool = False,
    password: str | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> GeneratedCommunity:
    """Write a community of `size` into the database, in one transaction; return its counts.

    The same `seed` and `now` give the same community. Members get `password`, hashed
    once for all of them (default: unusable). Raise DatabaseNotEmpty if the database
    already has posts, unless `append`: then the community is written beside them, with
    its own categories, forums and members, and nothing that was there is changed.
    """
    progress = progress or _Silent()
    if not append:
        refuse_unless_empty()
    if problems := size.problems():
        raise ValueError(" ".join(problems))
    now_seconds = (now or timezone.now()).timestamp()
    seconds: dict[str, float] = {}

    def phase(name: str, total: int) -> float:
        progress.start(name, total)
        return time.perf_counter()

    def done(name: str, started: float) -> None:
        progress.finish()
        seconds[name] = time.perf_counter() - started
        reset_queries()  # with DEBUG on, Django would otherwise keep every batch's SQL

    pool_size = max(200, min(4_000, size.posts // 4))
    started = phase("text", ParagraphPool.cooking_count(pool_size))
    pool = ParagraphPool(_random(seed, "text"), pool_size, progress.advance)
    _check_composition(pool, _random(seed, "check"))
    done("text", started)

    started = phase("plan", size.posts)
    taken = {name.lower() for name in User.objects.values_list("username", flat=True)}
    emails = {email.lower() for email in User.objects.values_list("email", flat=True)}
    emails |= {e.lower() for e in EmailAddress.objects.values_list("email", flat=True)}
    plan = _plan(_random(seed, "plan"), size, now_seconds, taken, emails, progress)
    done("plan", started)

    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Check each post's keys as it is written rather than all at commit: the same
            # work, shown in the posts' progress instead of a long silent commit.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        started = phase("members", size.members)
        member_ids = _write_members(plan.members, batch, password, progress)
        done("members", started)

        started = phase("topics", size.topics)
        forum_ids = _write_forums(size.forums)
        topic_ids = _write_topics(plan.topics, forum_ids, member_ids, batch, progress)
        done("topics", started)

        started = phase("posts", size.posts)
        forum_last = _write_posts(plan, pool, topic_ids, member_ids, seed, batch, progress)
        done("posts", started)

        started = phase("counters", size.forums)
        for forum_index, forum_id in enumerate(forum_ids):
            topics = [topic for topic in plan.topics if topic.forum == forum_index]
            Forum.objects.filter(pk=forum_id).update(
                topic_count=len(topics),
                post_count=sum(topic.posts for topic in topics),
                last_post_id=forum_last.get(forum_index),
            )
            progress.advance(1)
        done("counters", started)

    if connection.vendor == "postgresql":
        # Fresh planner statistics, as autovacuum would gather them some minutes later, so
        # a benchmark run straight after sees the plans production would.
        started = phase("analyze", 1)
        with connection.cursor() as cursor:
            for model in (User, EmailAddress, Forum, Topic, Post):
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
        progress.advance(1)
        done("analyze", started)

    return GeneratedCommunity(
        members=size.members,
        forums=size.forums,
        topics=size.topics,
        posts=size.posts,
        seconds=seconds,
    )


def _check_composition(pool: ParagraphPool, rng: Random, samples: int = 30) -> None:
    """Cook a sample of composed posts whole; refuse to go on if any HTML differs."""
    for n in range(samples):
        text, html = pool.compose(rng, first=n % 3 == 0)
        if cook_post(text).html != html:
            raise RuntimeError(f"A composed post cooks differently from its pieces:\n{text}")


def _write_members(
    members: list[_Member], batch: int, password: str | None, progress: Progress
) -> list[int]:
    # One hash for everybody: hashing 50,000 times with argon2 would take minutes.
    hashed = make_password(password)
    ids: list[int] = []
    for chunk in _batches(members, batch):
        users = User.objects.bulk_create(
            [
                User(
                    username=member.username,
                    display_name=member.display_name,
                    email=member.email,
                    password=hashed,
                    date_joined=_moment(member.joined),
                    post_count=member.posts,
                )
                for member in chunk
            ],
            batch_size=batch,
        )
        EmailAddress.objects.bulk_create(
            [
                EmailAddress(user=user, email=user.email, verified=True, primary=True)
                for user in users
            ],
            batch_size=batch,
        )
        ids.extend(user.pk for user in users)
        progress.advance(len(chunk))
        reset_queries()
    return ids


def _write_forums(count: int) -> list[int]:
    categories = Category.objects.bulk_create(
        [
            Category(
                name=_numbered(_CATEGORIES, n),
                description="Generated by sala bench_data.",
                position=100 + n,
            )
            for n in range(-(-count // 3))
        ]
    )
    forums = []
    for n in range(count):
        name = _numbered([forum[0] for forum in _FORUMS], n)
        forums.append(
            Forum(
                category=categories[n // 3],
                name=name,
                slug=make_slug(name),
                description=_FORUMS[n % len(_FORUMS)][1],
                position=n % 3 + 1,
            )
        )
    return [forum.pk for forum in Forum.objects.bulk_create(forums)]


def _numbered(names: Sequence[str], n: int) -> str:
    """Return the n-th name, numbered once the names have all been used."""
    name = names[n % len(names)]
    return name if n < len(names) else f"{name} {n // len(names) + 1}"


def _write_topics(
    topics: list[_Topic],
    forum_ids: list[int],
    member_ids: list[int],
    batch: int,
    progress: Progress,
) -> list[int]:
    ids: list[int] = []
    for chunk in _batches(topics, batch):
        created = Topic.objects.bulk_create(
            [
                Topic(
                    forum_id=forum_ids[topic.forum],
                    title=topic.title,
                    slug=make_slug(topic.title),
                    author_id=member_ids[topic.author],
                    source_url=topic.source_url,
                    created_at=_moment(topic.start),
                    is_pinned=topic.is_pinned,
                    last_post_at=_moment(topic.last_at),
                    last_poster_id=member_ids[topic.last_poster],
                    last_number=topic.posts,
                    reply_count=topic.posts - 1,
                    view_count=topic.views,
                )
                for topic in chunk
            ],
            batch_size=batch,
        )
        ids.extend(topic.pk for topic in created)
        progress.advance(len(chunk))
    return ids


def _write_posts(
    plan: _Plan,
    pool: ParagraphPool,
    topic_ids: list[int],
    member_ids: list[int],
    seed: int,
    batch: int,
    progress: Progress,
) -> dict[int, int]:
    """Write every post, in the order they were written; return each forum's last post id."""
    insert = _insert_posts_copy if connection.vendor == "postgresql" else _insert_posts_orm
    rng = _random(seed, "posts")
    post_time, post_topic, post_author = plan.post_time, plan.post_topic, plan.post_author
    order = sorted(range(len(post_time)), key=post_time.__getitem__)
    numbers = [0] * len(plan.topics)
    topic_forum = [topic.forum for topic in plan.topics]
    compose = pool.compose
    forum_last: dict[int, int] = {}
    for chunk in _batches(order, batch):
        rows: list[_PostRow] = []
        forums: list[int] = []
        for planned in chunk:
            topic = post_topic[planned]
            number = numbers[topic] + 1
            numbers[topic] = number
            text, html = compose(rng, first=number == 1)
            rows.append(
                (
                    topic_ids[topic],
                    number,
                    member_ids[post_author[planned]],
                    text,
                    html,
                    _moment(post_time[planned]),
                )
            )
            forums.append(topic_forum[topic])
        ids = insert(rows)
        forum_last.update(zip(forums, ids, strict=True))  # later posts overwrite earlier
        progress.advance(len(chunk))
        reset_queries()
    return forum_last
