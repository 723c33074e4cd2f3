"""Reads for the news pages."""

import uuid

from django.http import Http404

from sala.news.models import LinkDraft


def get_link_draft(draft_id: uuid.UUID, member_id: int) -> LinkDraft:
    """Return the member's draft of a shared link, or raise Http404 (another member's
    draft is not found either: its address names nothing to them)."""
    draft = LinkDraft.objects.filter(pk=draft_id, member_id=member_id).first()
    if draft is None:
        raise Http404("No such draft.")
    return draft
