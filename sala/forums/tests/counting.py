"""Every counter the forums keep, read at once, and a recount of them all from the rows:
for tests that check the services (and the bench builder) keep what a recount gives."""

from sala.accounts.models import User
from sala.forums import counters
from sala.forums.models import Forum, Topic

Snapshot = dict[str, list[tuple[object, ...]]]


def snapshot() -> Snapshot:
    """Return every counter of every topic, forum and member, by id."""
    return {
        "topics": list(
            Topic.objects.order_by("pk").values_list(
                "pk", "last_number", "reply_count", "last_post_at", "last_poster_id"
            )
        ),
        "forums": list(
            Forum.objects.order_by("pk").values_list(
                "pk", "topic_count", "post_count", "last_post_id"
            )
        ),
        "members": list(User.objects.order_by("pk").values_list("pk", "post_count")),
    }


def recount_everything() -> None:
    counters.recount_topics(Topic.objects.values_list("pk", flat=True))
    counters.recount_members(User.objects.values_list("pk", flat=True))
    counters.recount_forums(Forum.objects.values_list("pk", flat=True))
