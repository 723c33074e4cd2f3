"""The forums' pages in the guest page cache: the generations they depend on, and which
of them each write changes (sala.core.page_cache holds the mechanism).

A generation is a counter named after something pages show. A page names the ones it
shows (`depend_on` in the views); a write's event bumps the ones it changed, after it
commits (sala.forums.listeners). The names are the forums' own: core only knows
EVERY_PAGE.

| generation | shown on |
| --- | --- |
| INDEX | the index: each forum's counts and latest post |
| forum_generation(id) | a forum's pages: its list of topics and their counts |
| topic_generation(id) | every page of a topic: title, state, page count, recommended posts |
| topic_page_generation(id, n) | page n of a topic: its posts |
| accounts' profile_generation(id) | a member's profile: its post count |
"""

from functools import singledispatch

from sala.accounts.cached_pages import profile_generation
from sala.core.events import DomainEvent
from sala.core.page_cache import EVERY_PAGE
from sala.forums.events import (
    ForumsChanged,
    PostDeleted,
    PostEdited,
    PostHidden,
    PostRestored,
    RecommendationChanged,
    ReplyPosted,
    TopicChanged,
    TopicMoved,
    TopicStarted,
)

#: The forum index: each forum's counts and latest post.
INDEX = "index"


def forum_generation(forum_id: int) -> str:
    """Return the generation of a forum's pages: its list of topics, their counts."""
    return f"forum:{forum_id}"


def topic_generation(topic_id: int) -> str:
    """Return the generation of all of a topic's pages: what each shows of the topic (its
    title, state, page count, recommended posts)."""
    return f"topic:{topic_id}"


def topic_page_generation(topic_id: int, page: int) -> str:
    """Return the generation of one page of a topic: its posts. A reply that lands on
    the last page bumps only that page's, so readers of the first page keep their copy."""
    return f"topic:{topic_id}:page:{page}"


def topic_page_generations(topic_id: int, page: int) -> tuple[str, str]:
    """Return the generations page `page` of a topic depends on."""
    return topic_generation(topic_id), topic_page_generation(topic_id, page)


@singledispatch
def changed_by(event: DomainEvent) -> list[str]:
    """Return the generations of the pages `event`'s write changed; none for an event
    no forum page shows."""
    return []


@changed_by.register
def _(event: TopicStarted) -> list[str]:
    # The new topic's own pages were never cached; its forum's list and the index were,
    # and its author's profile, which counts their posts.
    return [forum_generation(event.forum_id), INDEX, profile_generation(event.author_id)]


@changed_by.register
def _(event: ReplyPosted) -> list[str]:
    names = [
        topic_page_generation(event.topic_id, event.page),
        forum_generation(event.forum_id),
        INDEX,
        profile_generation(event.author_id),  # their post count
    ]
    if event.starts_page:
        names.append(topic_generation(event.topic_id))
    return names


@changed_by.register
def _(event: PostEdited) -> list[str]:
    names = _pages_showing(event.topic_id, event.page, recommended=event.recommended)
    if event.title_changed:
        # The title is on every page of the topic, in the forum's list, and on the index
        # beside the latest post.
        names += [topic_generation(event.topic_id), forum_generation(event.forum_id), INDEX]
    return names


@changed_by.register
def _(event: PostDeleted) -> list[str]:
    names = _pages_showing(event.topic_id, event.page, recommended=event.was_recommended)
    if event.deletes_topic:
        names.append(topic_generation(event.topic_id))  # the topic is gone, every page with it
    # The author's profile counts one post fewer.
    return [*names, forum_generation(event.forum_id), INDEX, profile_generation(event.author_id)]


@changed_by.register
def _(event: PostHidden) -> list[str]:
    # Like a deletion: the post's page and maybe "Recommended Posts" show it otherwise,
    # and it leaves (or comes back to) the counts of its topic, forum and author.
    names = _pages_showing(event.topic_id, event.page, recommended=event.was_recommended)
    return [
        *names,
        forum_generation(event.forum_id),
        INDEX,
        profile_generation(event.author_id),
    ]


@changed_by.register
def _(event: PostRestored) -> list[str]:
    names = _pages_showing(event.topic_id, event.page, recommended=False)
    if event.restores_topic:
        names.append(topic_generation(event.topic_id))
    return [*names, forum_generation(event.forum_id), INDEX, profile_generation(event.author_id)]


@changed_by.register
def _(event: RecommendationChanged) -> list[str]:
    # The first page lists the recommended posts; the post's own page shows moderators
    # the button to stop recommending it.
    return [topic_generation(event.topic_id), topic_page_generation(event.topic_id, event.page)]


@changed_by.register
def _(event: TopicChanged) -> list[str]:
    # Its title and state are on all its pages, in its forum's list, maybe on the index.
    return [topic_generation(event.topic_id), forum_generation(event.forum_id), INDEX]


@changed_by.register
def _(event: TopicMoved) -> list[str]:
    # Its pages name the forum (breadcrumbs); both forums' lists and counts change.
    return [
        topic_generation(event.topic_id),
        forum_generation(event.forum_id),
        forum_generation(event.from_forum_id),
        INDEX,
    ]


@changed_by.register
def _(event: ForumsChanged) -> list[str]:
    return [EVERY_PAGE]


def _pages_showing(topic_id: int, page: int, *, recommended: bool) -> list[str]:
    """Return the generations of the topic pages that show a post: its own page, and the
    first page while it is recommended (quoted there, whole, under "Recommended Posts")."""
    names = [topic_page_generation(topic_id, page)]
    if recommended and page != 1:
        names.append(topic_page_generation(topic_id, 1))
    return names
