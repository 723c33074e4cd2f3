"""Chainable visibility: what each reader may see of topics and posts."""

from typing import TYPE_CHECKING

from django.db import models

if TYPE_CHECKING:
    from sala.forums.models import Post, Topic  # noqa: F401  (named in the base classes below)


class TopicQuerySet(models.QuerySet["Topic"]):
    def visible(self) -> "TopicQuerySet":
        """Return topics anyone may read: not deleted."""
        return self.filter(is_deleted=False)


class PostQuerySet(models.QuerySet["Post"]):
    def in_topic_page(self, topic_id: int, page: int, per_page: int) -> "PostQuerySet":
        """Return the posts numbered on `page` of a topic, by number.

        Numbers are dense per topic, so a page is a range scan on (topic_id, number)
        and page 500 costs what page 1 does.
        """
        first = (page - 1) * per_page + 1
        return self.filter(
            topic_id=topic_id, number__gte=first, number__lt=first + per_page
        ).order_by("number")
