"""Forums, topics and posts for tests, written through the same services members use."""

from itertools import count

from sala.accounts.models import User
from sala.accounts.tests.factories import make_member
from sala.forums import services
from sala.forums.models import Category, Forum, Post, Topic
from sala.staff.models import Role, StaffRole

_sequence = count(1)


def make_forum(*, name: str = "News", category: Category | None = None) -> Forum:
    """Return a new forum (in a new category unless one is given)."""
    if category is None:
        category = Category.objects.create(name=f"Category {next(_sequence)}")
    return Forum.objects.create(category=category, name=name)


def make_topic(
    *,
    forum: Forum | None = None,
    author: User | None = None,
    title: str = "Harbour town votes on its tram",
    text: str = "The first post of the topic.",
    source_url: str = "",
) -> Topic:
    """Return a new topic with its first post."""
    return services.create_topic(
        forum=forum or make_forum(),
        author=author or make_member(username=f"author{next(_sequence)}"),
        title=title,
        text=text,
        source_url=source_url,
    )


def make_replies(topic: Topic, how_many: int, *, author: User | None = None) -> list[Post]:
    """Add `how_many` replies to `topic` and return them."""
    author = author or make_member(username=f"replier{next(_sequence)}")
    return [
        services.reply(topic=topic, author=author, text=f"Reply number {n}.")
        for n in range(how_many)
    ]


def make_moderator(username: str = "moderator", *, forum: Forum | None = None) -> User:
    """Return a global moderator, or with `forum` a moderator of that forum only."""
    member = make_member(username=username)
    if forum is None:
        StaffRole.objects.create(role=Role.GLOBAL_MODERATOR, member=member)
    else:
        StaffRole.objects.create(role=Role.FORUM_MODERATOR, member=member, forum_id=forum.pk)
    return User.objects.get(pk=member.pk)  # fresh, so no roles are remembered on it
