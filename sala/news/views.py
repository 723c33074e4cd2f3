"""Sharing a link: paste an article's address, wait for its draft, edit it, post it."""

import uuid
from datetime import timedelta
from urllib.parse import urlsplit

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from sala.accounts.models import User
from sala.forums import selectors as forum_selectors
from sala.news import selectors, tasks
from sala.news.forms import DraftTopicForm, ShareLinkForm
from sala.news.models import LinkDraft

#: How often the waiting page reloads itself while the article is fetched, in seconds.
REFRESH_SECONDS = 1
#: How long a draft may stay unread before the member is told to write it themselves.
GIVE_UP_AFTER = timedelta(minutes=2)


@login_required
@require_http_methods(["GET", "POST"])
def share_link(request: HttpRequest) -> HttpResponse:
    """Take an article's address and start fetching it into a draft topic."""
    if not isinstance(request.user, User):
        raise PermissionDenied
    existing = None
    if request.method == "POST":
        form = ShareLinkForm(request.POST)
        if form.is_valid():
            try:
                draft = tasks.share_link(
                    member=request.user,
                    forum=form.cleaned_data["forum"],
                    url=form.cleaned_data["url"],
                )
            except ValidationError as error:
                form.add_error("url", error)
                existing = (error.params or {}).get("topic")
            else:
                return redirect("news:link_draft", draft_id=draft.pk)
    else:
        forum_id = request.GET.get("forum", "")
        initial = {"forum": int(forum_id)} if forum_selectors.is_number(forum_id) else {}
        form = ShareLinkForm(initial=initial)
    return render(request, "news/share_link.html", {"form": form, "existing": existing})


@login_required
def link_draft(request: HttpRequest, draft_id: uuid.UUID) -> HttpResponse:
    """Show a shared link's draft: wait while it is fetched, then the topic form, filled.

    Without JavaScript the waiting page reloads itself. If the article could not be read,
    the member gets the reason and the same form to write the topic themselves.
    """
    if not isinstance(request.user, User):
        raise PermissionDenied
    draft = selectors.get_link_draft(draft_id, request.user.pk)
    if (
        draft.status == LinkDraft.Status.PENDING
        and timezone.now() - draft.created_at > GIVE_UP_AFTER
    ):
        draft.status = LinkDraft.Status.FAILED
        draft.error = _("Reading the article took too long.")
    if draft.status == LinkDraft.Status.PENDING:
        return render(
            request,
            "news/link_pending.html",
            {"draft": draft, "host": urlsplit(draft.url).hostname, "refresh": REFRESH_SECONDS},
        )
    ready = draft.status == LinkDraft.Status.READY
    form = DraftTopicForm(
        initial={
            "forum": draft.forum_id,
            "title": draft.title if ready else "",
            "source_url": draft.source_url if ready else draft.url,
            "text": draft.text if ready else "",
        }
    )
    return render(request, "news/link_draft.html", {"draft": draft, "form": form, "ready": ready})
