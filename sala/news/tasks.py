"""News work done in the background: polling feeds and reading shared links."""

from sala.core.tasks import background_task
from sala.news import services
from sala.news.models import FeedSource, LinkDraft

#: How often due feeds are looked for, in seconds; each feed has its own interval.
POLL_CHECK_EVERY = 60


@background_task(every=POLL_CHECK_EVERY, max_attempts=1)
def poll_due_feeds() -> int:
    """Enqueue a poll of every feed that is due one; return how many."""
    due = services.claim_due_sources()
    for source_id in due:
        poll_feed.enqueue(source_id)
    return len(due)


@background_task(max_attempts=3, retry_delay=60)
def poll_feed(source_id: int) -> dict[str, int | str]:
    """Poll one feed. A feed that cannot be fetched or read is recorded on the source
    (the next poll tries again); only an unexpected failure raises and is retried."""
    source = FeedSource.objects.select_related("forum", "poster").filter(pk=source_id).first()
    if source is None or not source.is_active:
        return {"imported": 0, "error": "the source was removed or paused"}
    report = services.poll_feed(source)
    return {"imported": report.imported, "already_here": report.already_here, "error": report.error}


@background_task(max_attempts=2, retry_delay=5)
def fill_link_draft(draft_id: str) -> str:
    """Read a member's shared link into its draft; return the draft's status."""
    draft = LinkDraft.objects.select_related("member").filter(pk=draft_id).first()
    if draft is None or draft.status != LinkDraft.Status.PENDING:
        return "gone"
    return str(services.fill_link_draft(draft).status)
