"""News coming in: feed sources polled into topics, and members' shared links.

Every outbound request goes through `sala.news.fetcher.fetch`; every text goes through
the forums' own `create_topic`, so an imported article is cooked, counted and announced
like any topic. An article is imported once: its canonical address and its feed GUID
are remembered (`ImportedItem`), and a topic a member started with the same source
counts as the article being here already.
"""

import dataclasses
import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from sala.accounts.models import User
from sala.core.images import ImageRejected
from sala.forums import services as forum_services
from sala.forums.models import Forum, Topic, validate_source_url
from sala.forums.uploads import store_post_image
from sala.news.addresses import canonical_web_url
from sala.news.articles import ExtractionFailed, extract_article
from sala.news.feeds import FeedError, FeedItem, parse_feed
from sala.news.fetcher import FetchRefused, fetch
from sala.news.markdown import LeadImage, draft_markdown
from sala.news.models import FeedSource, ImportedItem, LinkDraft
from sala.staff import permissions

logger = logging.getLogger(__name__)

#: The account feed topics are posted as unless a source names another member.
NEWS_USERNAME = "news"
#: Longest topic title; longer feed titles are cut at a word.
TITLE_MAX = 200
#: Longest article address kept (the columns' size); a longer one is refused.
URL_MAX = 2000
#: Longest feed GUID kept as it is; a longer one is kept as its hash.
GUID_MAX = 1000
#: A new feed's first poll imports only its newest items; older ones are noted as seen,
#: so adding a feed with a long backlog does not flood its forum.
FIRST_POLL_ITEMS = 10
#: Shared links one member may have waiting to be read at once, and in an hour.
PENDING_DRAFTS_MAX = 3
DRAFTS_PER_HOUR = 30


@dataclass(frozen=True)
class PollReport:
    """What one poll of a feed did: topics started, items skipped, problems met."""

    imported: int = 0
    already_here: int = 0
    not_modified: bool = False
    #: Why the whole feed failed (nothing imported), or "".
    error: str = ""
    #: One line per item that could not be imported; the others were.
    item_errors: tuple[str, ...] = ()


def get_news_account() -> User:
    """Return the "News" member that feeds post as, creating it the first time.

    It cannot sign in: it has no usable password and no email address.
    """
    member, created = User.objects.get_or_create(
        username=NEWS_USERNAME, defaults={"display_name": "News"}
    )
    if created:
        member.set_unusable_password()
        member.save(update_fields=["password"])
    return member


def add_feed_source(
    *,
    url: str,
    forum: Forum,
    poster: User | None = None,
    interval_minutes: int = 30,
    full_article: bool = False,
) -> FeedSource:
    """Add a feed for Sala to poll into `forum`, posting as `poster` (default: News).

    Raise ValidationError for an address that is not http(s) or a feed already added.
    """
    try:
        url = validate_source_url(url.strip())
    except ValidationError:
        raise ValidationError(
            _("Enter the feed's web address, starting with http:// or https://."), code="url"
        ) from None
    if interval_minutes < 5:
        raise ValidationError(_("Poll a feed at most every 5 minutes."), code="interval")
    existing = FeedSource.objects.filter(url=url).select_related("forum").first()
    if existing is not None:
        raise ValidationError(
            _("This feed is already a source, for %(forum)s.") % {"forum": existing.forum.name},
            code="duplicate",
        )
    return FeedSource.objects.create(
        url=url,
        forum=forum,
        poster=poster or get_news_account(),
        interval_minutes=interval_minutes,
        full_article=full_article,
    )


def claim_due_sources() -> list[int]:
    """Return the ids of the active sources due a poll, moving each one's next poll on.

    Each due source is claimed by a conditional update, so two workers running this at
    once never both poll the same source.
    """
    moment = timezone.now()
    claimed = []
    due = FeedSource.objects.filter(is_active=True, next_poll_at__lte=moment)
    for source_id, interval, next_poll_at in due.values_list(
        "pk", "interval_minutes", "next_poll_at"
    ):
        won = FeedSource.objects.filter(pk=source_id, next_poll_at=next_poll_at).update(
            next_poll_at=moment + timedelta(minutes=interval)
        )
        if won:
            claimed.append(source_id)
    return claimed


def poll_feed(source: FeedSource) -> PollReport:
    """Fetch `source` (asking only for a change) and import its new items as topics.

    Problems are recorded on the source for its admin: a feed that cannot be fetched or
    read imports nothing; an item that cannot be imported is skipped, the others are.
    """
    now = timezone.now()
    try:
        fetched = fetch(
            source.url,
            kind="feed",
            etag=source.etag or None,
            last_modified=source.last_modified or None,
        )
        if fetched.not_modified:
            FeedSource.objects.filter(pk=source.pk).update(
                last_polled_at=now, last_error="", last_error_at=None
            )
            return PollReport(not_modified=True)
        feed = parse_feed(fetched.body, url=fetched.url)
    except (FetchRefused, FeedError) as problem:
        message = _reason(problem)
        FeedSource.objects.filter(pk=source.pk).update(
            last_polled_at=now, last_error=message, last_error_at=now
        )
        logger.warning("Feed %s (%s) not polled: %s", source.pk, source.url, message)
        return PollReport(error=message)

    imported = already_here = 0
    problems = [f"{skipped}" for skipped in feed.errors]
    items = list(feed.items)
    if source.last_polled_at is None and len(items) > FIRST_POLL_ITEMS:
        # Feeds list their newest items first.
        _note_seen(source, items[FIRST_POLL_ITEMS:])
        items = items[:FIRST_POLL_ITEMS]
    # Oldest first, so the forum lists them in the order the publisher did.
    for item in reversed(items):
        try:
            topic = import_feed_item(source, item)
        except (FetchRefused, ExtractionFailed, ValidationError) as problem:
            message = _reason(problem)
            problems.append(f"{item.link}: {message}")
            logger.warning("Feed %s item %s not imported: %s", source.pk, item.link, message)
            continue
        if topic is None:
            already_here += 1
        else:
            imported += 1
    error = "\n".join(problems)
    FeedSource.objects.filter(pk=source.pk).update(
        title=source.title or feed.title[:200],
        # Validators the server made up past the columns' size are not worth keeping.
        etag=_fitting(fetched.etag, 500),
        last_modified=_fitting(fetched.last_modified, 100),
        last_polled_at=now,
        last_error=error,
        last_error_at=now if error else None,
        imported_count=F("imported_count") + imported,
    )
    return PollReport(imported=imported, already_here=already_here, item_errors=tuple(problems))


def import_feed_item(source: FeedSource, item: FeedItem) -> Topic | None:
    """Start a topic for `item` in the source's forum; return None if it is here already.

    With `source.full_article`, the item's page is fetched and its article imported in
    place of the feed's summary.
    """
    key = _item_key(item)
    if _seen(source=source, guid=key, canonical_url=item.link):
        return None
    title, body, image, canonical = item.title, item.body, item.image, item.link
    if source.full_article:
        page = fetch(item.link, kind="page")
        article = extract_article(page.body, url=page.url)
        canonical = article.url or canonical
        if canonical != item.link and _seen(source=None, guid="", canonical_url=canonical):
            return None
        title = title or article.title
        body = article.body
        image = article.image or image
    if len(canonical) > URL_MAX:
        raise ValidationError(
            _("Its address is too long to keep (over %(max)d characters).") % {"max": URL_MAX}
        )
    text = draft_markdown(body, image=_local_copy(image, owner=source.poster))
    try:
        with transaction.atomic():
            topic = forum_services.create_topic(
                forum=source.forum,
                author=source.poster,
                title=_fit_title(title),
                text=text or _("(The article is at its source.)"),
                source_url=canonical,
            )
            # Keyed by the item's GUID (or feed link), so a full-article item whose page
            # names another canonical address is not fetched again on the next poll.
            ImportedItem.objects.create(
                source=source, guid=key, canonical_url=canonical, topic=topic
            )
    except IntegrityError:
        return None  # another poll imported it a moment ago; that one stands
    return topic


def record_link_draft(*, member: User, forum: Forum, url: str) -> LinkDraft:
    """Record a member's shared link as a draft waiting to be read.

    Raise PermissionDenied if the member may not start topics in `forum`, and
    ValidationError for an address that is not http(s), an article already here, or a
    member over the limits of links being read. Views call `tasks.share_link`, which
    also enqueues the reading: a draft recorded alone waits until it is given up.
    """
    permissions.check_start_topic(member, forum.pk)
    canonical = canonical_web_url(url.strip())
    if canonical is None:
        raise ValidationError(
            _("Enter the article's web address, starting with http:// or https://."),
            code="url",
        )
    if len(canonical) > URL_MAX:
        raise ValidationError(
            _("This address is too long to keep (at most %(max)d characters once encoded).")
            % {"max": URL_MAX},
            code="too_long",
        )
    here = _topic_for(canonical)
    if here is not None:
        # The title is a parameter, not formatted in: a "%" in it must stay a "%".
        raise ValidationError(
            _("This article is already being discussed: “%(title)s”."),
            code="duplicate",
            params={"title": here.title, "topic": here},
        )
    drafts = LinkDraft.objects.filter(member=member)
    if drafts.filter(status=LinkDraft.Status.PENDING).count() >= PENDING_DRAFTS_MAX:
        raise ValidationError(
            _("You have %(count)d links being read already; wait until they are ready.")
            % {"count": PENDING_DRAFTS_MAX},
            code="busy",
        )
    if (
        drafts.filter(created_at__gte=timezone.now() - timedelta(hours=1)).count()
        >= DRAFTS_PER_HOUR
    ):
        raise ValidationError(
            _("You have shared %(count)d links in the last hour; try again later.")
            % {"count": DRAFTS_PER_HOUR},
            code="rate",
        )
    return LinkDraft.objects.create(member=member, forum=forum, url=canonical)


def fill_link_draft(draft: LinkDraft) -> LinkDraft:
    """Fetch the draft's page and extract its article into the draft (or the reason not).

    The lead image is copied into the member's uploads; the member edits the draft
    before anything is posted.
    """
    try:
        page = fetch(draft.url, kind="page")
        article = extract_article(page.body, url=page.url)
    except (FetchRefused, ExtractionFailed) as problem:
        draft.status = LinkDraft.Status.FAILED
        draft.error = _reason(problem)
        draft.save(update_fields=["status", "error"])
        return draft
    canonical = article.url or draft.url
    image = _local_copy(article.image, owner=draft.member)
    draft.title = _fit_title(article.title)
    draft.text = draft_markdown(article.body, image=image)
    draft.source_url = canonical
    draft.status = LinkDraft.Status.READY
    draft.save(update_fields=["title", "text", "source_url", "status"])
    return draft


# --- Helpers ------------------------------------------------------------------------------


def _item_key(item: FeedItem) -> str:
    """Return what identifies `item` within its feed: its GUID, else its link, or a hash."""
    key = item.guid or item.link
    if len(key) > GUID_MAX:
        return "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def _note_seen(source: FeedSource, items: list[FeedItem]) -> None:
    """Remember `items` as seen without importing them (a new feed's backlog)."""
    ImportedItem.objects.bulk_create(
        [
            ImportedItem(source=source, guid=_item_key(item), canonical_url=item.link)
            for item in items
            if len(item.link) <= URL_MAX
        ],
        ignore_conflicts=True,
    )


def _fitting(value: str | None, size: int) -> str:
    return value if value and len(value) <= size else ""


def _reason(problem: Exception) -> str:
    """Return what went wrong, in the words meant for the admin or member."""
    if isinstance(problem, FetchRefused):
        return problem.message
    if isinstance(problem, ValidationError):
        return " ".join(problem.messages)
    return str(problem)


def _seen(*, source: FeedSource | None, guid: str, canonical_url: str) -> bool:
    known = Q(canonical_url=canonical_url)
    if guid and source is not None:
        known |= Q(source=source, guid=guid)
    return ImportedItem.objects.filter(known).exists() or _topic_for(canonical_url) is not None


def _topic_for(canonical_url: str) -> Topic | None:
    """Return a readable topic whose source is `canonical_url`, if there is one."""
    return Topic.objects.visible().filter(source_url=canonical_url).order_by("pk").first()


def _fit_title(title: str) -> str:
    title = " ".join(title.split()) or _("Untitled article")
    if len(title) <= TITLE_MAX:
        return title
    return title[: TITLE_MAX - 1].rsplit(" ", 1)[0] + "…"


def _local_copy(image: LeadImage | None, *, owner: User) -> LeadImage | None:
    """Return `image` served from Sala's own storage, or None if it cannot be copied.

    Readers' browsers never ask the publisher for it: no hotlinking, no tracking.
    """
    if image is None:
        return None
    try:
        fetched = fetch(image.url, kind="image")
        upload = store_post_image(
            owner=owner,
            upload=SimpleUploadedFile("lead-image", fetched.body, fetched.content_type),
        )
    except (FetchRefused, ImageRejected) as problem:
        logger.info("Lead image %s left out: %s", image.url, problem)
        return None
    return dataclasses.replace(image, url=upload.file.url)
