"""What the forums' writes announce after they commit (sala.core.events).

Each event carries the ids and facts its listeners need, taken by the service from what
it wrote, so a listener never reads the rows again to learn which pages, channels or
members a write touched: the cached pages a write changed (sala.forums.cached_pages),
the open pages to tell (sala.forums.listeners), and, as they land, the search index and
notifications.
"""

from dataclasses import dataclass

from sala.core.events import DomainEvent
from sala.forums.models import POSTS_PER_PAGE, page_of


@dataclass(frozen=True, slots=True)
class TopicEvent(DomainEvent):
    """Something happened in topic `topic_id` of forum `forum_id`."""

    topic_id: int
    forum_id: int


@dataclass(frozen=True, slots=True)
class PostEvent(TopicEvent):
    """Something happened to post `number` of a topic, written by `author_id`."""

    number: int
    author_id: int

    @property
    def page(self) -> int:
        """Return the topic page that shows the post."""
        return page_of(self.number)


@dataclass(frozen=True, slots=True)
class TopicStarted(PostEvent):
    """A topic was started; `number` is its first post's, 1."""


@dataclass(frozen=True, slots=True)
class ReplyPosted(PostEvent):
    """A reply was added at the end of a topic."""

    @property
    def starts_page(self) -> bool:
        """Return whether the reply is the first post of a new page (every page's
        pagination grows by one)."""
        return self.number % POSTS_PER_PAGE == 1


@dataclass(frozen=True, slots=True)
class PostEdited(PostEvent):
    """A post's text was replaced; for a first post, maybe the topic's title too."""

    #: Whether the post is shown under "Recommended Posts" (on page 1, whole).
    recommended: bool
    title_changed: bool


@dataclass(frozen=True, slots=True)
class PostDeleted(PostEvent):
    """A post was deleted softly; deleting a first post deletes its topic."""

    #: Whether it was shown under "Recommended Posts" until now.
    was_recommended: bool

    @property
    def deletes_topic(self) -> bool:
        return self.number == 1


@dataclass(frozen=True, slots=True)
class PostHidden(PostEvent):
    """Moderators hid a post (`hidden`) or showed it again; hiding takes it out of the
    counts and out of "Recommended Posts"."""

    hidden: bool
    #: Whether it was shown under "Recommended Posts" until now.
    was_recommended: bool


@dataclass(frozen=True, slots=True)
class PostRestored(PostEvent):
    """Moderators brought back a deleted post; a first post brings back its topic."""

    @property
    def restores_topic(self) -> bool:
        return self.number == 1


@dataclass(frozen=True, slots=True)
class RecommendationChanged(PostEvent):
    """A moderator recommended a reply (`recommended`) or stopped recommending it."""

    recommended: bool
    moderator_id: int


@dataclass(frozen=True, slots=True)
class TopicChanged(TopicEvent):
    """A topic's own fields changed outside a post: its title, source, pinned or locked
    state (from the admin, and moderators' lock, pin and timed close)."""


@dataclass(frozen=True, slots=True)
class TopicMoved(TopicChanged):
    """Moderators moved a topic to forum `forum_id` from forum `from_forum_id`."""

    from_forum_id: int


@dataclass(frozen=True, slots=True)
class PostHeld(DomainEvent):
    """A member's new topic or reply (`topic_id` None: a topic) waits for approval:
    nobody else sees it, and it waits in the review queue (sala.moderation)."""

    held_id: int
    forum_id: int
    topic_id: int | None
    author_id: int


@dataclass(frozen=True, slots=True)
class HeldWithdrawn(DomainEvent):
    """The author of a post awaiting approval took it back."""

    held_id: int


@dataclass(frozen=True, slots=True)
class ForumsChanged(DomainEvent):
    """Categories or forums were added, renamed, reordered or removed: their names are
    on every page (lists, headings, breadcrumbs, the "Create New..." forms)."""
