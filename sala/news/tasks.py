"""News work done in the background: polling feeds and reading shared links.

Tasks call services and services never enqueue a task, so this module sits above
`services`; that is why sharing a link, the one write that starts a task, ends here.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sala.accounts.models import User
from sala.core.tasks import background_task
from sala.forums.models import Forum
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


def share_link(*, member: User, forum: Forum, url: str) -> LinkDraft:
    """Record a member's shared link and enqueue the task that reads it into a draft.

    Raise what `services.record_link_draft` raises, having recorded and enqueued nothing.
    """
    with transaction.atomic():
        draft = services.record_link_draft(member=member, forum=forum, url=url)
        # The task's row is written in the draft's transaction: both exist, or neither.
        fill_link_draft.enqueue(str(draft.pk))
    return draft


# Ahead of feed polls (a member is waiting), behind mail; not retried: the member would
# rather write the topic now than wait for a second try.
@background_task(max_attempts=1, priority=5)
def fill_link_draft(draft_id: str) -> str:
    """Read a member's shared link into its draft; return the draft's status."""
    draft = LinkDraft.objects.select_related("member").filter(pk=draft_id).first()
    if draft is None or draft.status != LinkDraft.Status.PENDING:
        return "gone"
    try:
        return str(services.fill_link_draft(draft).status)
    except Exception:
        # A bug of ours: the member gets the plain form at once; the task is recorded
        # failed, with its traceback, for the admins.
        LinkDraft.objects.filter(pk=draft.pk).update(
            status=LinkDraft.Status.FAILED,
            error=_("Sala could not read this page because of an error on our side."),
        )
        raise


#: How long a shared link's draft is kept after it was made, posted or not.
DRAFTS_KEPT = timedelta(days=2)


@background_task(every=6 * 3600, max_attempts=1)
def prune_link_drafts() -> int:
    """Delete shared-link drafts older than DRAFTS_KEPT; return how many."""
    deleted, _ = LinkDraft.objects.filter(created_at__lt=timezone.now() - DRAFTS_KEPT).delete()
    return deleted
