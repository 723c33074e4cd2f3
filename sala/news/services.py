"""News coming in: feed sources polled into topics, and members' shared links.

Every outbound request goes through `sala.news.fetcher.fetch`; every text goes through
the forums' own `create_topic`, so an imported article is cooked, counted and announced
like any topic. An article is imported once: its canonical address and its feed GUID
are remembered (`ImportedItem`), and a topic a member started with the same source
counts as the article being here already.
"""

import dataclasses
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
from sala.forums import permissions as forum_permissions
from sala.forums import services as forum_services
from sala.forums.models import Forum, Topic, validate_source_url
from sala.forums.uploads import store_post_image
from sala.news.articles import ExtractionFailed, extract_article
from sala.news.feeds import FeedError, FeedItem, parse_feed
from sala.news.fetcher import FetchRefused, fetch
from sala.news.markdown import LeadImage, canonical_web_url, draft_markdown
from sala.news.models import FeedSource, ImportedItem, LinkDraft

logger = logging.getLogger(__name__)

#: The account feed topics are posted as unless a source names another member.
NEWS_USERNAME = "news"
#: Longest topic title; longer feed titles are cut at a word.
TITLE_MAX = 200


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
    # Oldest first, so the forum lists them in the order the publisher did.
    for item in reversed(feed.items):
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
        etag=fetched.etag or "",
        last_modified=fetched.last_modified or "",
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
    if _seen(source=source, guid=item.guid or "", canonical_url=item.link):
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
            ImportedItem.objects.create(
                source=source, guid=item.guid or "", canonical_url=canonical, topic=topic
            )
    except IntegrityError:
        return None  # another poll imported it a moment ago; that one stands
    return topic


def start_link_draft(*, member: User, forum: Forum, url: str) -> LinkDraft:
    """Record a member's shared link, for a task to fetch into a draft topic.

    Raise PermissionDenied if the member may not start topics in `forum`, and
    ValidationError for an address that is not http(s) or an article already here.
    """
    forum_permissions.check_start_topic(member, forum)
    canonical = canonical_web_url(url.strip())
    if canonical is None:
        raise ValidationError(
            _("Enter the article's web address, starting with http:// or https://."),
            code="url",
        )
    here = _topic_for(canonical)
    if here is not None:
        raise ValidationError(
            _("This article is already being discussed: “%(title)s”.") % {"title": here.title},
            code="duplicate",
            params={"topic": here},
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
