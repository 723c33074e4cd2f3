"""Forum pages: the index, a forum, a topic, and the forms that write to them."""

import re
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from sala.accounts.models import User
from sala.core import local_memo, page_cache, rate_limits, shared_pages
from sala.core.images import ImageRejected
from sala.core.rate_limits import RateLimited
from sala.forums import cached_pages, reading, selectors, services
from sala.forums.forms import (
    ACTION_ATTACH,
    ACTION_PREVIEW,
    DeletePostForm,
    EditPostForm,
    PostingForm,
    ReplyForm,
    TopicForm,
)
from sala.forums.models import Forum, HeldPost, Post, Topic
from sala.forums.uploads import figure_markdown, store_post_image
from sala.live.online import get_online
from sala.staff import permissions
from sala.staff.audit import Acting
from sala.staff.permissions import Powers


def _member(request: HttpRequest) -> User:
    """Return the signed-in member (views behind login_required only)."""
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user


def index(request: HttpRequest) -> HttpResponse:
    """Show every category with its forums, counts and latest posts."""
    page_cache.depend_on(request, cached_pages.INDEX, on_hit=reading.record_cached_read)
    return render(
        request,
        "forums/index.html",
        {"categories": selectors.list_categories(), "online": get_online()},
    )


def forum(request: HttpRequest, forum_id: int, slug: str) -> HttpResponse:
    """Show a forum's topics, pinned first, then by last activity, 25 at a time.

    The first page says, while open, when its topics have new activity (a live stream
    from `since`, this render's moment); `forum_topics` then refreshes its list.
    """
    # A cached copy keeps its `since`: any activity after it would have dropped the copy.
    page_cache.depend_on(
        request, cached_pages.forum_generation(forum_id), on_hit=reading.record_cached_read
    )
    forum = selectors.get_forum(forum_id)
    if slug != forum.slug:
        return redirect(forum, permanent=True)
    # Taken before the topics are read: activity after it may be news to this page.
    since = timezone.now()
    context = _forum_listing(request, forum)
    context["since"] = selectors.micros(since)
    return render(request, "forums/forum.html", context)


def forum_topics(request: HttpRequest, forum_id: int, slug: str) -> HttpResponse:
    """Return a forum page's list of topics as HTML, for the live "new activity" button.

    With `?since=` (the page's moment, in µs), topics active since are marked: the
    replies as new, the topics started as new. Same checks and queries as the page.
    """
    forum = selectors.get_forum(forum_id)
    since = selectors.parse_micros(request.GET.get("since"))
    return render(request, "forums/_topic_list.html", _forum_listing(request, forum, since))


def _forum_listing(
    request: HttpRequest, forum: Forum, since: datetime | None = None
) -> dict[str, Any]:
    """Return what a forum's list of topics shows: the page `?after=` asks for, and marks."""
    listing = selectors.list_forum_topics(forum, after=request.GET.get("after"), since=since)
    unread: dict[int, tuple[int, int]] = {}
    if isinstance(request.user, User):
        unread = selectors.count_new_replies(request.user, listing.pinned + listing.topics)
    started: set[int] = set()
    if since is not None:
        activity = selectors.find_activity_since(listing, since)
        # Where the member has read a topic, their own reading point says more.
        unread = {**activity.replies, **unread}
        started = activity.started
    held: list[HeldPost] = []
    if isinstance(request.user, User):
        held = selectors.list_held_topics(request.user, forum.pk)
    return {
        "forum": forum,
        "listing": listing,
        "held_topics": held,
        "unread": unread,
        "started": started,
        # Its moderators tick topics to act on several at once (sala.moderation).
        "can_moderate": permissions.moderates(request.user, forum.pk),
    }


def _page_number(request: HttpRequest) -> int:
    raw = request.GET.get("page", "1")
    if not selectors.is_number(raw):
        raise Http404("No such page.")
    return int(raw)


def _attach_image(request: HttpRequest, form: PostingForm) -> bool:
    """Store the image the member attached and put its line into the text.

    Return False (with the reason at the image field) when the image is refused.
    """
    upload = form.cleaned_data.get("image")
    if not upload:
        form.add_error("image", _("Choose an image to add."))
        return False
    try:
        stored = store_post_image(owner=_member(request), upload=upload)
    except ImageRejected as refusal:
        form.add_error("image", str(refusal))
        return False
    line = figure_markdown(stored, form.cleaned_data.get("caption", ""))
    text = request.POST.get("text", "").rstrip()
    data = request.POST.copy()
    data["text"] = f"{text}\n\n{line}\n" if text else f"{line}\n"
    data["caption"] = ""
    form.data = data
    return True


def _preview_or_attach(request: HttpRequest, form: PostingForm) -> str | None:
    """Handle the Preview and Add image buttons; return the preview HTML, if any.

    Return None when the form should be posted instead.
    """
    if form.action == ACTION_ATTACH:
        _attach_image(request, form)
        return ""
    if form.action == ACTION_PREVIEW:
        return services.cook_post(form.cleaned_data["text"]).html
    return None


def topic(request: HttpRequest, topic_id: int, slug: str) -> HttpResponse:
    """Show a page of a topic: posts by number, the reply box or the guest panel,
    and who is browsing."""
    page = _page_number(request)
    try:
        return _topic(request, topic_id, slug, page)
    except Http404:
        merged_into = selectors.find_merged_into(topic_id)
        if merged_into is None:
            raise
        return HttpResponseRedirect(merged_into.get_absolute_url(), status=301)


def _topic(request: HttpRequest, topic_id: int, slug: str, page: int) -> HttpResponse:
    generations = cached_pages.topic_page_generations(topic_id, page)
    page_cache.depend_on(
        request, *generations, on_hit=partial(reading.record_cached_read, topic_id=topic_id)
    )
    member = request.user if isinstance(request.user, User) else None
    if member is not None and _SHARED_QUERY.fullmatch(request.META.get("QUERY_STRING", "")):
        return _member_topic(request, member, topic_id, slug, page, generations)
    powers = _shown_powers(member) if member is not None else permissions.NO_POWERS
    topic_page = _read_topic_page(topic_id, page, powers)
    if slug != topic_page.topic.slug:
        return _topic_moved(topic_page.topic, page)
    browsing = reading.record_browsing(request, topic_id, member)
    if member is not None:  # the member's own part, as _member_topic fills it in
        browsing = {**browsing, "held_replies": selectors.list_held_replies(member, topic_id)}
    can_moderate = powers.moderates(topic_page.topic.forum_id)
    html = _render_topic(request, topic_page, member, can_moderate=can_moderate, browsing=browsing)
    if member is not None:
        reading.mark_read(member, topic_id, topic_page.last_number)
    return HttpResponse(html)


#: The query strings of topic pages members share one render of (a quote asked for is
#: the member's own).
_SHARED_QUERY = re.compile(r"(page=[0-9]{1,9})?")


def _member_topic(
    request: HttpRequest,
    member: User,
    topic_id: int,
    slug: str,
    page: int,
    generations: tuple[str, ...],
) -> HttpResponse:
    """Show a topic page to a member from the render members share (sala.core.shared_pages),
    rendering it first if this process has none under the page's current generations."""
    powers = _shown_powers(member)
    # Members who hold the same roles see a page alike: whether they moderate its forum
    # follows from the roles and the topic's forum, and moving the topic renders anew.
    key = (
        request.path,
        request.META.get("QUERY_STRING", ""),
        translation.get_language(),
        timezone.get_current_timezone_name(),
        powers.key,
        # A suspended or silenced member's page has no reply box (their notice is their
        # own part).
        "suspended" if member.suspended_now_until else "",
        "silenced" if member.silenced_now_until else "",
    )
    values = page_cache.get_generations().read((page_cache.EVERY_PAGE, *generations))
    shared = shared_pages.get(key, values)
    answered = "hit"
    if shared is None:
        answered = "miss"
        topic_page = _read_topic_page(topic_id, page, powers)
        if slug != topic_page.topic.slug:
            return _topic_moved(topic_page.topic, page)
        moderates = powers.moderates(topic_page.topic.forum_id)
        html = _render_topic(request, topic_page, member, can_moderate=moderates, shared=True)
        shared = shared_pages.keep(
            key, html, values, last_read=topic_page.last_number, moderates=moderates
        )
    parts = reading.render_browsing(request, topic_id, member)
    if not messages.get_messages(request):
        parts[MESSAGES_TEMPLATE] = ""  # most reads: nothing to say, nothing to render
    if member.suspended_now_until is None and member.silenced_now_until is None:
        parts[SUSPENDED_TEMPLATE] = ""
    parts[HELD_TEMPLATE] = _held_replies(request, member, topic_id)
    reading.mark_read(member, topic_id, shared.facts["last_read"])
    return HttpResponse(
        shared_pages.fill(shared, request, rendered=parts, is_moderator=shared.facts["moderates"]),
        headers={shared_pages.HEADER: answered},
    )


MESSAGES_TEMPLATE = "_messages.html"
#: The member's own replies to the topic awaiting approval, below its posts.
HELD_TEMPLATE = "forums/_held_replies.html"


def _held_replies(request: HttpRequest, member: User, topic_id: int) -> str:
    """Render `member`'s replies to the topic awaiting approval ("" without a query,
    when they have none waiting anywhere)."""
    held = selectors.list_held_replies(member, topic_id)
    if not held:
        return ""
    return render_to_string(HELD_TEMPLATE, {"held_replies": held}, request)


#: The notice a suspended or silenced member gets where the reply box would be.
SUSPENDED_TEMPLATE = "forums/_suspended.html"


def _render_topic(
    request: HttpRequest,
    topic_page: selectors.TopicPage,
    member: User | None,
    *,
    can_moderate: bool,
    shared: bool = False,
    browsing: dict[str, Any] | None = None,
) -> str:
    """Render a topic page: the one template and context for guests, members and the
    render members share (`shared`: member-specific parts left as placeholders that
    sala.core.shared_pages fills per request, Recently Browsing among them; `browsing`:
    who is, for the other renders)."""
    topic = topic_page.topic
    context: dict[str, Any] = {
        "topic": topic,
        "topic_page": topic_page,
        "can_moderate": can_moderate,
        **(browsing or {}),
    }
    if member is not None:
        context["reply_form"] = _reply_form_for(request, topic, member, shared=shared)
    if shared:
        context[shared_pages.SHARED] = True
        context["csrf_token"] = shared_pages.CSRF_TOKEN
        context["user"] = shared_pages.SHARED_MEMBER
    return render_to_string("forums/topic.html", context, request)


#: Members' roles, for which page to show them (their links and buttons, deleted topics):
#: a change shows within seconds; what the buttons do is checked again when used.
_powers = local_memo.memo(seconds=10)


def _shown_powers(member: User) -> Powers:
    """Return the roles `member`'s pages are shown with (remembered for a few seconds)."""
    known = _powers.get(member.pk)
    if isinstance(known, Powers):
        return known
    powers = permissions.powers_of(member)
    _powers.put(member.pk, powers)
    return powers


def _read_topic_page(topic_id: int, page: int, powers: Powers) -> selectors.TopicPage:
    """Return the topic page as a reader with `powers` may see it: a deleted topic only
    for its forum's moderators (to restore it), Http404 for everyone else."""
    topic_page = selectors.read_topic_page(topic_id, page, with_deleted=powers.is_staff)
    if topic_page.topic.is_deleted and not powers.moderates(topic_page.topic.forum_id):
        raise Http404("No such topic.")
    return topic_page


def _topic_moved(topic: Topic, page: int) -> HttpResponse:
    """Send a link with an old slug to the topic's address now."""
    suffix = f"?page={page}" if page > 1 else ""
    return HttpResponseRedirect(topic.get_absolute_url() + suffix, status=301)


def _reply_form_for(
    request: HttpRequest, topic: Topic, member: User, *, shared: bool = False
) -> ReplyForm | None:
    """Return a fresh reply form, with a quoted post if asked; None if replying is closed.

    `shared`: for a render members share, whose submission key is filled in per request.
    """
    try:
        permissions.check_reply(member, topic)
    except PermissionDenied:
        return None
    if shared:
        return ReplyForm(initial={"submission_key": shared_pages.SUBMISSION_KEY})
    initial: dict[str, Any] = {}
    quote = request.GET.get("quote", "")
    if selectors.is_number(quote):
        post = selectors.find_post_to_quote(topic, int(quote))
        if post is not None:
            initial["text"] = quote_markdown(post)
    return ReplyForm(initial=initial)


def quote_markdown(post: Post) -> str:
    """Return `post` as a Markdown quotation that names its author, ready to answer."""
    lines = post.text.strip().splitlines()
    quoted = "\n".join(f"> {line}" if line else ">" for line in lines)
    return f"@{post.author.username} wrote:\n\n{quoted}\n\n"


def post_permalink(request: HttpRequest, topic_id: int, slug: str, number: int) -> HttpResponse:
    """Send a post's link to the page it is on, scrolled to it; a link from before a
    merge or split of its topic, to where the post is now."""
    try:
        return _to_its_page(selectors.get_topic_post(topic_id, number))
    except Http404:
        moved = selectors.find_moved_post(topic_id, number)
        if moved is None:
            raise
        return _to_its_page(moved)


def _to_its_page(post: Post) -> HttpResponse:
    """Send the browser to the topic page that shows `post`, scrolled to it: after a
    write, straight there rather than through its permalink, a request less."""
    return redirect(post.page_url)


@login_required
@require_http_methods(["GET", "POST"])
def create_topic(request: HttpRequest) -> HttpResponse:
    """Start a topic: choose a forum, a title, write the first post, maybe cite a source."""
    member = _member(request)
    # A suspended or silenced member is told before writing anything.
    permissions.check_start_topic(member)
    preview = refusal = None
    if request.method == "POST":
        form = TopicForm(request.POST, request.FILES)
        if form.is_valid():
            preview = _preview_or_attach(request, form)
            if preview is None:
                topic, refusal = _written_or_refused(
                    form,
                    partial(
                        services.submit_topic,
                        forum=form.cleaned_data["forum"],
                        author=member,
                        title=form.cleaned_data["title"],
                        text=form.cleaned_data["text"],
                        source_url=form.cleaned_data["source_url"],
                        submission_key=form.cleaned_data["submission_key"],
                    ),
                )
                if isinstance(topic, HeldPost):
                    return _held_landing(request, topic)
                if topic is not None:
                    return redirect(topic)
    else:
        forum_id = request.GET.get("forum", "")
        form = TopicForm(initial={"forum": int(forum_id)} if selectors.is_number(forum_id) else {})
    context = {"form": form, "preview": preview}
    return rate_limits.answer(render(request, "forums/create_topic.html", context), refusal)


@login_required
@require_http_methods(["GET", "POST"])
def reply(request: HttpRequest, topic_id: int, slug: str) -> HttpResponse:
    """Post a reply (or preview it, or add an image to it) and land on it."""
    member = _member(request)
    preview = refusal = None
    if request.method == "POST":
        # Only what posting reads, for the busiest write; the page, if shown, has it all.
        topic = selectors.get_topic_to_reply(topic_id)
        permissions.check_reply(member, topic)
        form = ReplyForm(request.POST, request.FILES)
        if form.is_valid():
            preview = _preview_or_attach(request, form)
            if preview is None:
                post, refusal = _written_or_refused(
                    form,
                    partial(
                        services.submit_reply,
                        topic=topic,
                        author=member,
                        text=form.cleaned_data["text"],
                        submission_key=form.cleaned_data["submission_key"],
                    ),
                )
                if isinstance(post, HeldPost):
                    return _held_landing(request, post)
                if post is not None:
                    return _to_its_page(post)
        # Shown again (a preview, a mistake to mend): the page shows the forum and more.
        topic = selectors.get_topic(topic_id)
    else:
        topic = selectors.get_topic(topic_id)
        permissions.check_reply(member, topic)
        form = _reply_form_for(request, topic, member) or ReplyForm()
    context = {"topic": topic, "form": form, "preview": preview}
    return rate_limits.answer(render(request, "forums/reply.html", context), refusal)


def _written_or_refused[T](
    form: PostingForm | EditPostForm, write: Callable[[], T]
) -> tuple[T | None, RateLimited | None]:
    """Run `write` (a service storing what `form` holds); return what it stored, or put
    why it refused at the form's text: too soon or too many (the refusal is returned,
    for the 429), or over a new member's limits on links, images and mentions."""
    try:
        return write(), None
    except RateLimited as refused:
        form.add_error("text", refused.message)
        return None, refused
    except ValidationError as invalid:
        form.add_error(None, invalid)
        return None, None


def _held_landing(request: HttpRequest, held: HeldPost) -> HttpResponse:
    """Tell the author their post waits for approval, and show it to them where it will be."""
    messages.info(
        request,
        _("Your post awaits the moderators' approval; until then only you and they see it."),
    )
    if held.topic is not None and held.is_waiting:
        # Every page of the topic shows its author their replies awaiting approval.
        return HttpResponseRedirect(f"{held.topic.get_absolute_url()}#held-{held.pk}")
    return redirect(held)


@login_required
@require_http_methods(["GET", "POST"])
def held_post(request: HttpRequest, held_id: int) -> HttpResponse:
    """Show a post awaiting approval to its author (who may withdraw it) and to the
    forum's moderators; to everyone else it does not exist."""
    member = _member(request)
    held = selectors.get_held_post(held_id)
    if not permissions.can_see_held(member, held):
        raise Http404("No such post.")
    if request.method == "POST":
        services.withdraw_held(held=held, member=member)
        messages.success(request, _("Your post is withdrawn; nobody will see it."))
        return redirect(held.topic or held.forum)
    return render(request, "forums/held_post.html", {"held": held})


@login_required
@require_http_methods(["GET", "POST"])
def edit_post(request: HttpRequest, topic_id: int, slug: str, number: int) -> HttpResponse:
    """Edit a post (and the title, for a topic's first post); the old text is kept. A
    moderator editing another member's post says why."""
    member = _member(request)
    post = selectors.get_topic_post(topic_id, number)
    topic = post.topic
    permissions.check_edit_post(member, post)
    shape = {"with_title": post.is_first, "with_reason": post.author_id != member.pk}
    preview = refusal = None
    if request.method == "POST":
        form = EditPostForm(request.POST, **shape)
        if form.is_valid():
            if request.POST.get("action") == ACTION_PREVIEW:
                preview = services.cook_post(form.cleaned_data["text"]).html
            else:
                acting = Acting.from_request(request, member, form.cleaned_data.get("reason", ""))
                edited, refusal = _written_or_refused(
                    form,
                    partial(
                        services.edit_post,
                        post=post,
                        editor=member,
                        text=form.cleaned_data["text"],
                        title=form.cleaned_data.get("title"),
                        reason=acting.reason,
                        address=acting.address,
                    ),
                )
                if edited is not None:
                    return _to_its_page(edited)
    else:
        form = EditPostForm(initial={"text": post.text, "title": topic.title}, **shape)
    context = {"topic": topic, "post": post, "form": form, "preview": preview}
    return rate_limits.answer(render(request, "forums/edit_post.html", context), refusal)


@login_required
@require_http_methods(["GET", "POST"])
def delete_post(request: HttpRequest, topic_id: int, slug: str, number: int) -> HttpResponse:
    """Ask, then delete a post softly (its number stays, so links elsewhere stay right);
    a moderator deleting another member's post says why."""
    member = _member(request)
    post = selectors.get_topic_post(topic_id, number)
    topic = post.topic
    permissions.check_delete_post(member, post)
    own = post.author_id == member.pk
    form = DeletePostForm(request.POST or None, with_reason=not own)
    if request.method == "POST" and form.is_valid():
        acting = Acting.from_request(request, member, form.cleaned_data.get("reason", ""))
        services.delete_post(post=post, actor=member, reason=acting.reason, address=acting.address)
        if post.is_first:
            messages.success(
                request, _("The topic was deleted.") if not own else _("Your topic was deleted.")
            )
            return redirect(topic.forum)
        messages.success(
            request, _("The post was deleted.") if not own else _("Your post was deleted.")
        )
        return _to_its_page(post)
    return render(request, "forums/delete_post.html", {"topic": topic, "post": post, "form": form})


def post_revisions(request: HttpRequest, topic_id: int, slug: str, number: int) -> HttpResponse:
    """Show every earlier version of a post, newest first."""
    post = selectors.get_topic_post(topic_id, number)
    topic = post.topic
    if post.is_deleted:
        raise Http404("This post was deleted.")
    if post.is_hidden and not permissions.can_see_hidden_post(request.user, post):
        raise Http404("This post is hidden.")
    return render(
        request,
        "forums/revisions.html",
        {"topic": topic, "post": post, "revisions": selectors.list_revisions(post)},
    )


@login_required
@require_POST
def recommend_post(request: HttpRequest, topic_id: int, slug: str, number: int) -> HttpResponse:
    """Mark a reply as recommended, or take the mark away."""
    member = _member(request)
    post = selectors.get_topic_post(topic_id, number)
    topic = post.topic
    if request.POST.get("recommend") == "0":
        services.unrecommend_post(post=post, moderator=member)
    else:
        services.recommend_post(post=post, moderator=member)
    return redirect(reverse("forums:topic", args=[topic.pk, topic.slug]) + f"#post-{number}")


def new_posts(request: HttpRequest, topic_id: int, slug: str) -> HttpResponse:
    """Return the posts after number `?after=` as HTML, for the live "new replies" button."""
    topic = selectors.get_topic(topic_id)
    after = request.GET.get("after", "")
    if not selectors.is_number(after):
        raise Http404("No such post.")
    posts = selectors.list_posts_after(topic, int(after))
    member = request.user if isinstance(request.user, User) else None
    context = {
        "topic": topic,
        "posts": posts,
        "can_moderate": permissions.moderates(request.user, topic.forum_id),
        "reply_form": _reply_form_for(request, topic, member) if member else None,
        "topic_page": {"number": posts[-1].page if posts else 1},
    }
    return render(request, "forums/_new_posts.html", context)
