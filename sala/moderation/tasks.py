"""Moderation's work in the background: the queue's safety net for held posts."""

from sala.core.tasks import background_task
from sala.moderation import reports


@background_task(every=300, max_attempts=1)
def open_missing_review_items() -> int:
    """Put in the review queue any post awaiting approval that is not there yet: its
    listener runs right after the hold commits, so this finds only what a process that
    died in between left out. Return how many."""
    return reports.open_missing_items()
