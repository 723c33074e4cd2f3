"""Moderators' pages and buttons: thin, each parses, asks sala.staff.permissions, calls
one service of sala.moderation.services, and lands back where the moderator was."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods, require_POST

from sala.accounts import selectors as accounts_selectors
from sala.accounts.models import User
from sala.core import rate_limits
from sala.core.rate_limits import RateLimited
from sala.forums import selectors as forum_selectors
from sala.forums.models import Post
from sala.moderation import bans, reports, selectors, services, spammers
from sala.moderation.forms import (
    BAN_FOR,
    CLOSE_FOR,
    AuditFilterForm,
    BanForm,
    BulkTopicsForm,
    GrantRoleForm,
    MergeTopicForm,
    MoveTopicForm,
    ReasonForm,
    ReportForm,
    ResolveForm,
    SpammerForm,
    SplitTopicForm,
    TopicToolForm,
)
from sala.staff import permissions
from sala.staff import services as staff_services
from sala.staff.audit import Acting


def _member(request: HttpRequest) -> User:
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user


def _back_to(post: Post) -> HttpResponse:
    """Land on the post, on its page (a deleted topic's page too, for its moderators)."""
    return redirect(post.page_url)


def _act_with_reason(
    request: HttpRequest,
    post: Post,
    *,
    check: Callable[[User, Post], None],
    act: Callable[..., Post],
    title: str,
    done: str,
) -> HttpResponse:
    """Ask for a reason (GET, or POST without one), then act and land on the post.

    An action another moderator took first is refused with what happened, as a message
    on the post's page, changing nothing.
    """
    member = _member(request)
    check(member, post)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        acting = Acting.from_request(request, member, form.cleaned_data["reason"])
        try:
            act(post=post, acting=acting)
        except PermissionDenied as refusal:
            messages.error(request, str(refusal))
            return _back_to(post)
        except ValidationError as invalid:
            form.add_error(None, invalid)
        else:
            messages.success(request, done)
            return _back_to(post)
    context = {"post": post, "topic": post.topic, "form": form, "title": title}
    if permissions.allows(permissions.check_mark_spammer, member, post.author):
        context["spammer_url"] = reverse("moderation:spammer", kwargs={"member_id": post.author_id})
    return render(request, "moderation/reason.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def hide_post(request: HttpRequest, topic_id: int, slug: str, number: int) -> HttpResponse:
    """Hide a reply, with a reason its author is shown."""
    post = forum_selectors.get_post_to_moderate(topic_id, number)
    return _act_with_reason(
        request,
        post,
        check=permissions.check_hide_post,
        act=services.hide_post,
        title=_("Hide post #%(number)s") % {"number": number},
        done=_("The post is hidden. Its author and the moderators still see it."),
    )


def _act_at_once(
    request: HttpRequest,
    topic_id: int,
    number: int,
    *,
    check: Callable[[User, Post], None],
    act: Callable[..., Post],
    done: str,
) -> HttpResponse:
    """Act on a post at a button's press (the undoing of an action: no reason asked)."""
    member = _member(request)
    post = forum_selectors.get_post_to_moderate(topic_id, number)
    check(member, post)
    try:
        post = act(post=post, acting=Acting.from_request(request, member))
    except PermissionDenied as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, done)
    return _back_to(post)


@login_required
@require_POST
def unhide_post(request: HttpRequest, topic_id: int, slug: str, number: int) -> HttpResponse:
    """Show a hidden post to everyone again."""
    return _act_at_once(
        request,
        topic_id,
        number,
        check=permissions.check_unhide_post,
        act=services.unhide_post,
        done=_("The post is shown to everyone again."),
    )


@login_required
@require_POST
def restore_post(request: HttpRequest, topic_id: int, slug: str, number: int) -> HttpResponse:
    """Bring back a deleted post (a first post: its topic)."""
    return _act_at_once(
        request,
        topic_id,
        number,
        check=permissions.check_restore_post,
        act=services.restore_post,
        done=_("Restored."),
    )


@login_required
@require_POST
def topic_tools(request: HttpRequest, topic_id: int, slug: str) -> HttpResponse:
    """Lock or unlock, pin or unpin, close for a time or reopen a topic, from its page."""
    member = _member(request)
    topic = forum_selectors.get_topic(topic_id, with_deleted=True)
    permissions.check_lock_topic(member, topic)
    form = TopicToolForm(request.POST)
    if not form.is_valid():
        for error in form.errors.get("action", []) + form.errors.get("close_for", []):
            messages.error(request, str(error))
        return redirect(topic)
    action = form.cleaned_data["action"]
    acting = Acting.from_request(request, member)
    try:
        if action in ("lock", "unlock", "reopen"):
            services.lock_topic(topic=topic, acting=acting, locked=action == "lock")
        elif action in ("pin", "unpin"):
            services.pin_topic(topic=topic, acting=acting, pinned=action == "pin")
        else:
            span = CLOSE_FOR[form.cleaned_data["close_for"]][0]
            services.close_topic(topic=topic, acting=acting, until=timezone.now() + span)
    except PermissionDenied as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, str(_DONE[action]))
    return redirect(topic)


@login_required
@require_http_methods(["GET", "POST"])
def move_topic(request: HttpRequest, topic_id: int, slug: str) -> HttpResponse:
    """Choose a forum and move the topic there; its address and its posts' stay."""
    member = _member(request)
    topic = forum_selectors.get_topic(topic_id)
    permissions.check_move_topic(member, topic)
    form = MoveTopicForm(
        request.POST or None,
        powers=permissions.powers_of(member),
        current_forum_id=topic.forum_id,
    )
    if request.method == "POST" and form.is_valid():
        to_forum = form.cleaned_data["forum"]
        acting = Acting.from_request(request, member, form.cleaned_data["reason"])
        try:
            services.move_topic(topic=topic, to_forum=to_forum, acting=acting)
        except PermissionDenied as refusal:
            form.add_error("forum", str(refusal))
        else:
            messages.success(
                request, _("The topic is in %(forum)s now.") % {"forum": to_forum.name}
            )
            return redirect(topic)
    return render(request, "moderation/move_topic.html", {"topic": topic, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def merge_topic(request: HttpRequest, topic_id: int, slug: str) -> HttpResponse:
    """Merge the topic into another: its posts go to the other's end, its address and
    its posts' addresses lead there."""
    member = _member(request)
    topic = forum_selectors.get_topic(topic_id)
    permissions.check_merge_topics(member, topic)
    form = MergeTopicForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            into = forum_selectors.get_topic(form.cleaned_data["into"])
        except Http404:
            form.add_error("into", _("There is no such topic (or it was deleted)."))
        else:
            acting = Acting.from_request(request, member, form.cleaned_data["reason"])
            try:
                services.merge_topics(topic=topic, into=into, acting=acting)
            except PermissionDenied as refusal:
                form.add_error("into", str(refusal))
            else:
                messages.success(request, _("Merged: the posts are at the end of this topic."))
                return redirect(into)
    return render(request, "moderation/merge_topic.html", {"topic": topic, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def split_topic(request: HttpRequest, topic_id: int, slug: str) -> HttpResponse:
    """Split chosen replies (from one page of the topic) off into a new topic."""
    member = _member(request)
    topic = forum_selectors.get_topic(topic_id)
    permissions.check_split_topic(member, topic)
    page = request.GET.get("page", "1")
    topic_page = forum_selectors.get_topic_page(
        topic, int(page) if forum_selectors.is_number(page) else 1
    )
    numbers = [
        (post.number, f"#{post.number} {post.author.name}")
        for post in topic_page.posts
        if post.number != 1
    ]
    form = SplitTopicForm(
        request.POST or None,
        numbers=numbers,
        powers=permissions.powers_of(member),
        initial={"forum": topic.forum_id},
    )
    if request.method == "POST" and form.is_valid():
        acting = Acting.from_request(request, member, form.cleaned_data["reason"])
        try:
            new = services.split_topic(
                topic=topic,
                numbers=form.cleaned_data["posts"],
                title=form.cleaned_data["title"],
                to_forum=form.cleaned_data["forum"],
                acting=acting,
            )
        except ValidationError as invalid:
            form.add_error(None, invalid)
        except PermissionDenied as refusal:
            form.add_error("forum", str(refusal))
        else:
            messages.success(request, _("Split off into this new topic."))
            return redirect(new)
    posts = {post.number: post for post in topic_page.posts}
    return render(
        request,
        "moderation/split_topic.html",
        {"topic": topic, "form": form, "topic_page": topic_page, "posts": posts},
    )


@login_required
@require_POST
def bulk_topics(request: HttpRequest, forum_id: int, slug: str) -> HttpResponse:
    """Act on the topics ticked on a forum page: lock, unlock, pin and unpin at once;
    a move or a delete shows the ticked topics first, to choose the forum or say why."""
    member = _member(request)
    forum = forum_selectors.get_forum(forum_id)
    permissions.check_bulk_topics(member, forum.pk)
    found = selectors.list_topics_to_act_on(
        forum, request.POST.getlist("topics"), services.BULK_LIMIT
    )
    choices = [(topic.pk, topic.title) for topic in found]
    powers = permissions.powers_of(member)
    form = BulkTopicsForm(request.POST, topics=choices, forum_id=forum.pk, powers=powers)
    if form.is_valid():
        chosen = form.cleaned_data
        if chosen["action"] in ("move", "delete") and "confirm" not in request.POST:
            # The forum page only asked what to do: now where to, or why.
            form = BulkTopicsForm(
                initial={"action": chosen["action"], "topics": chosen["topics"]},
                topics=choices,
                forum_id=forum.pk,
                powers=powers,
            )
        else:
            acting = Acting.from_request(request, member, chosen["reason"])
            try:
                outcome = services.act_on_topics(
                    forum=forum,
                    topic_ids=chosen["topics"],
                    action=chosen["action"],
                    acting=acting,
                    to_forum=chosen["to_forum"],
                )
            except ValidationError as invalid:
                form.add_error(None, invalid)
            except PermissionDenied as refusal:
                form.add_error(None, str(refusal))
            else:
                messages.success(request, _bulk_done(chosen["action"], outcome))
                return redirect(forum)
    return render(request, "moderation/bulk_topics.html", {"forum": forum, "form": form})


def _bulk_done(action: str, outcome: services.BulkOutcome) -> str:
    done = {
        "lock": ngettext("%(count)s topic locked.", "%(count)s topics locked.", outcome.done),
        "unlock": ngettext("%(count)s topic unlocked.", "%(count)s topics unlocked.", outcome.done),
        "pin": ngettext("%(count)s topic pinned.", "%(count)s topics pinned.", outcome.done),
        "unpin": ngettext("%(count)s topic unpinned.", "%(count)s topics unpinned.", outcome.done),
        "move": ngettext("%(count)s topic moved.", "%(count)s topics moved.", outcome.done),
        "delete": ngettext("%(count)s topic deleted.", "%(count)s topics deleted.", outcome.done),
    }[action] % {"count": outcome.done}
    if not outcome.skipped:
        return done
    left = ngettext(
        "%(count)s was that way already.", "%(count)s were that way already.", outcome.skipped
    ) % {"count": outcome.skipped}
    return f"{done} {left}"


@login_required
@require_http_methods(["GET", "POST"])
def report_post(request: HttpRequest, topic_id: int, slug: str, number: int) -> HttpResponse:
    """Report a post to the moderators, with a reason."""
    member = _member(request)
    post = forum_selectors.get_topic_post(topic_id, number)
    permissions.check_report_post(member, post)
    form = ReportForm(request.POST or None)
    refusal = None
    if request.method == "POST" and form.is_valid():
        try:
            reports.report_post(
                post=post,
                reporter=member,
                reason=form.cleaned_data["reason"],
                text=form.cleaned_data["text"],
            )
        except ValidationError as invalid:
            form.add_error(None, invalid)
        except RateLimited as refused:
            refusal = refused
            form.add_error(None, refused.message)
        else:
            messages.success(request, _("Thank you: the moderators will look at the post."))
            return _back_to(post)
    context = {"post": post, "topic": post.topic, "form": form}
    return rate_limits.answer(render(request, "moderation/report.html", context), refusal)


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    """Show the review queue of the forums the member moderates: what waits, heaviest
    first, or (`?closed=1`) what was dealt with lately."""
    member = _member(request)
    permissions.check_review_queue(member)
    closed = request.GET.get("closed") == "1"
    powers = permissions.powers_of(member)
    return render(
        request,
        "moderation/queue.html",
        {"items": selectors.list_queue(powers, closed=closed), "closed": closed},
    )


@login_required
@require_POST
def act_on_item(request: HttpRequest, item_id: int) -> HttpResponse:
    """Take, note or resolve one item of the queue, then show the queue again."""
    member = _member(request)
    item = selectors.get_item(item_id)
    permissions.check_review_item(member, item.forum_id)
    form = ResolveForm(request.POST)
    back = redirect(f"{reverse('moderation:queue')}#item-{item.pk}")
    if not form.is_valid():
        messages.error(request, _("That is not a way to resolve a report."))
        return back
    action = form.cleaned_data["action"]
    try:
        if action == "claim":
            reports.claim_item(item=item, moderator=member)
        elif action == "note":
            reports.add_note(item=item, author=member, text=form.cleaned_data["note"])
        elif action in ("approve", "reject"):
            acting = Acting.from_request(request, member, form.cleaned_data["reason"])
            reports.decide_held(item=item, acting=acting, approve=action == "approve")
        else:
            acting = Acting.from_request(request, member, form.cleaned_data["reason"])
            reports.resolve_item(
                item=item,
                acting=acting,
                outcome=action,
                points=form.cleaned_data["points"] or 1,
                days=form.cleaned_data["days"] or 1,
            )
    except PermissionDenied as refusal:
        messages.error(request, str(refusal))
    except ValidationError as invalid:
        for message in invalid.messages:
            messages.error(request, message)
    else:
        messages.success(request, str(_QUEUE_DONE[action]))
    return back


@login_required
@require_http_methods(["GET", "POST"])
def ban_list(request: HttpRequest) -> HttpResponse:
    """List the bans in force and ban a username, email pattern or address."""
    member = _member(request)
    permissions.check_ban(member)
    form = BanForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        span = BAN_FOR[form.cleaned_data["ban_for"]]
        try:
            bans.create_ban(
                acting=Acting.from_request(request, member),
                kind=form.cleaned_data["kind"],
                value=form.cleaned_data["value"],
                expires_at=timezone.now() + span if span else None,
                registration_only=form.cleaned_data["registration_only"],
                user_message=form.cleaned_data["user_message"],
                staff_note=form.cleaned_data["staff_note"],
            )
        except ValidationError as invalid:
            form.add_error(None, invalid)
        except PermissionDenied as refusal:
            form.add_error("value", str(refusal))
        else:
            messages.success(request, _("Banned."))
            return redirect("moderation:bans")
    return render(request, "moderation/bans.html", {"form": form, "bans": selectors.list_bans()})


@login_required
@require_POST
def lift_ban(request: HttpRequest, ban_id: int) -> HttpResponse:
    """Lift a ban now."""
    member = _member(request)
    permissions.check_ban(member)
    ban = selectors.get_ban(ban_id)
    bans.lift_ban(ban=ban, acting=Acting.from_request(request, member))
    messages.success(request, _("The ban is lifted."))
    return redirect("moderation:bans")


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    """Show the audit log to administrators, newest first, filtered as asked."""
    member = _member(request)
    permissions.check_read_audit_log(member)
    form = AuditFilterForm(request.GET or None)
    filters: dict[str, Any] = {}
    if form.is_valid():
        forum = form.cleaned_data["forum"]
        filters = {
            "action": form.cleaned_data["action"].strip(),
            "actor": form.cleaned_data["actor"].strip(),
            "forum_id": forum.pk if forum else None,
            "text": form.cleaned_data["text"].strip(),
        }
    before = request.GET.get("before", "")
    page = selectors.list_audit(
        **filters, before=int(before) if forum_selectors.is_number(before) else None
    )
    query = request.GET.copy()
    query.pop("before", None)
    return render(
        request,
        "moderation/audit.html",
        {
            "form": form,
            "entries": page.entries,
            "next_cursor": page.next_cursor,
            "query": query.urlencode(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def staff_page(request: HttpRequest) -> HttpResponse:
    """List who is staff; administrators give roles here (and in the admin)."""
    member = _member(request)
    permissions.check_manage_staff(member)
    form = GrantRoleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        forum = form.cleaned_data["forum"]
        try:
            staff_services.grant_role(
                member=form.cleaned_data["username"],
                role=form.cleaned_data["role"],
                forum_id=forum.pk if forum else None,
                acting=Acting.from_request(request, member),
            )
        except ValidationError as invalid:
            form.add_error(None, invalid)
        else:
            messages.success(request, _("The role is given."))
            return redirect("moderation:staff")
    return render(
        request, "moderation/staff.html", {"form": form, "roles": selectors.list_staff_roles()}
    )


@login_required
@require_POST
def revoke_role(request: HttpRequest, role_id: int) -> HttpResponse:
    """Take a staff role away."""
    member = _member(request)
    permissions.check_manage_staff(member)
    role = selectors.get_staff_role(role_id)
    try:
        staff_services.revoke_role(role=role, acting=Acting.from_request(request, member))
    except ValidationError as invalid:
        for message in invalid.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("The role is taken away."))
    return redirect("moderation:staff")


_QUEUE_DONE = {
    "claim": gettext_lazy("It is yours to review."),
    "note": gettext_lazy("Note added."),
    "hide": gettext_lazy("Resolved: the post is hidden."),
    "delete": gettext_lazy("Resolved: the post is deleted."),
    "warn": gettext_lazy("Resolved: the post is hidden and its author warned."),
    "suspend": gettext_lazy("Resolved: the post is hidden and its author suspended."),
    "dismiss": gettext_lazy("The reports are dismissed."),
    "approve": gettext_lazy("Approved: the post is published."),
    "reject": gettext_lazy("Rejected: nobody but its author saw the post."),
}


_DONE = {
    "lock": gettext_lazy("The topic is locked: only moderators can reply."),
    "unlock": gettext_lazy("The topic is open for replies again."),
    "reopen": gettext_lazy("The topic is open for replies again."),
    "pin": gettext_lazy("The topic is pinned at the top of its forum."),
    "unpin": gettext_lazy("The topic is no longer pinned."),
    "close": gettext_lazy("The topic is closed to replies for a while; it reopens by itself."),
}


@login_required
@require_http_methods(["GET", "POST"])
def spammer(request: HttpRequest, member_id: int) -> HttpResponse:
    """Remove a member as a spammer, after showing what it will do; once done, show what
    was done, with its undo."""
    member = _member(request)
    suspect = accounts_selectors.get_member(member_id)
    permissions.check_mark_spammer(member, suspect)
    cleanup = spammers.active_cleanup(suspect)
    if cleanup is not None:
        return render(request, "moderation/spammer.html", {"suspect": suspect, "cleanup": cleanup})
    found = spammers.footprint(suspect)
    form = SpammerForm(request.POST or None, domains=found.domains)
    if request.method == "POST" and form.is_valid():
        acting = Acting.from_request(request, member, form.cleaned_data["reason"])
        try:
            spammers.mark_spammer(
                member=suspect, acting=acting, domains=form.cleaned_data.get("domains", [])
            )
        except PermissionDenied as refusal:
            messages.error(request, str(refusal))
        except ValidationError as invalid:
            form.add_error(None, invalid)
        else:
            messages.success(request, _("%(name)s is removed as a spammer.") % {"name": suspect})
            return redirect("moderation:spammer", member_id=suspect.pk)
    context = {"suspect": suspect, "footprint": found, "form": form}
    return render(request, "moderation/spammer.html", context)


@login_required
@require_POST
def undo_spammer(request: HttpRequest, cleanup_id: int) -> HttpResponse:
    """Undo a spammer clean-up: what it did comes back, as far as nothing changed it since."""
    member = _member(request)
    cleanup = selectors.get_cleanup(cleanup_id)
    permissions.check_mark_spammer(member, cleanup.member)
    try:
        spammers.undo_spammer(cleanup=cleanup, acting=Acting.from_request(request, member))
    except PermissionDenied as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(
            request,
            _("The clean-up of %(name)s is undone: their posts are back, their bans lifted.")
            % {"name": cleanup.member},
        )
    return redirect("moderation:spammer", member_id=cleanup.member_id)
