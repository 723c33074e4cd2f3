"""How fast and how much members may write: the posting, editing and reporting limits.

Every write a member makes from a page (and, later, the API) passes here before it is
stored, counted by the site's one limiter (sala.core.rate_limits), so the limits hold
across every process and node:

- an interval between posts: a topic per 15 s, a reply per 5 s, and longer for new
  members (120 s and 30 s), so a script cannot flood a forum;
- the same text twice within 5 minutes is refused, wherever it was posted;
- a day's cap on topics, replies, edits and reports, lower on a member's first day;
- a new member's post carries at most 2 links, 1 image and 2 mentions.

Staff are never limited. A refusal gives back what the refused action had already
counted, so a member refused for one limit is not charged by another; the moment the
limit allows again is in the refusal (RateLimited.retry_after), for the page's message
and a script's Retry-After.
"""

import hashlib
import re
from datetime import timedelta
from typing import Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sala.accounts.models import User
from sala.core import rate_limits
from sala.core.rate_limits import Decision
from sala.staff import permissions
from sala.text.cooking import CookedText

type PostKind = Literal["topic", "reply"]

_SPACES = re.compile(r"\s+")


def is_first_day(member: User) -> bool:
    """Return whether `member` joined less than a day ago."""
    return timezone.now() - member.date_joined < timedelta(days=1)


def text_key(text: str) -> str:
    """Return a short digest of `text` that ignores case and spacing, to recognise the
    same text posted again without keeping it."""
    normal = _SPACES.sub(" ", text).strip().casefold()
    return hashlib.blake2b(normal.encode(), digest_size=12).hexdigest()


def check_post(author: User, kind: PostKind, text: str) -> None:
    """Count a `kind` post by `author`; raise RateLimited if it comes too soon after their
    last one, repeats a text they posted within minutes, or is over the day's cap."""
    new = permissions.is_new_member(author)
    interval = f"{kind}_new" if new else kind
    day_cap = f"{kind}s_first_day" if is_first_day(author) else f"{kind}s_day"
    if kind == "topic":
        too_soon = (
            _("New members wait a little between topics.")
            if new
            else _("You are starting topics too quickly.")
        )
    else:
        too_soon = (
            _("New members wait a little between replies.")
            if new
            else _("You are replying too quickly.")
        )
    _count_all(
        author,
        [
            (interval, author.pk, too_soon),
            (
                "same_text",
                f"{author.pk}:{text_key(text)}",
                _("You posted this same text moments ago."),
            ),
            (day_cap, author.pk, _day_message(kind, day_cap)),
        ],
    )


def check_edit(editor: User) -> None:
    """Count an edit by `editor`; raise RateLimited past the day's cap of edits."""
    _count_all(editor, [("edits_day", editor.pk, _day_message("edit", "edits_day"))])


def check_report(reporter: User) -> None:
    """Count a report by `reporter`; raise RateLimited past the day's cap of reports."""
    _count_all(reporter, [("reports_day", reporter.pk, _day_message("report", "reports_day"))])


def check_content(author: User, cooked: CookedText) -> None:
    """Refuse a new member's post with more links, images or mentions than new members
    may put in one (SALA_NEW_MEMBER_MAX_LINKS, _IMAGES, _MENTIONS): raise ValidationError
    at the text, saying what is over and by how much. Staff are never refused."""
    if not permissions.is_new_member(author):
        return
    found = {
        "links": len(cooked.links),
        "images": cooked.html.count("<img"),
        "mentions": len(cooked.mentions),
    }
    allowed = {
        "links": settings.SALA_NEW_MEMBER_MAX_LINKS,
        "images": settings.SALA_NEW_MEMBER_MAX_IMAGES,
        "mentions": settings.SALA_NEW_MEMBER_MAX_MENTIONS,
    }
    over = [kind for kind in found if found[kind] > allowed[kind]]
    if not over or permissions.powers_of(author).is_staff:
        return
    sentences = {
        "links": ngettext(
            "New members may put %(allowed)d link in a post; this one has %(found)d.",
            "New members may put %(allowed)d links in a post; this one has %(found)d.",
            allowed["links"],
        ),
        "images": ngettext(
            "New members may put %(allowed)d image in a post; this one has %(found)d.",
            "New members may put %(allowed)d images in a post; this one has %(found)d.",
            allowed["images"],
        ),
        "mentions": ngettext(
            "New members may mention %(allowed)d member in a post; this one mentions %(found)d.",
            "New members may mention %(allowed)d members in a post; this one mentions %(found)d.",
            allowed["mentions"],
        ),
    }
    told = [sentences[kind] % {"allowed": allowed[kind], "found": found[kind]} for kind in over]
    told.append(_("The limit goes once you have taken part a little longer."))
    raise ValidationError({"text": " ".join(told)})


def _day_message(kind: str, name: str) -> str:
    rate = rate_limits.rate_of(name)
    messages = {
        "topic": _("You have started as many topics as a day allows (%(n)d)."),
        "reply": _("You have posted as many replies as a day allows (%(n)d)."),
        "edit": _("You have made as many edits as a day allows (%(n)d)."),
        "report": _("You have sent as many reports as a day allows (%(n)d)."),
    }
    return messages[kind] % {"n": rate.count if rate else 0}


def _count_all(member: User, limits: list[tuple[str, str | int, str]]) -> None:
    """Count one action against each (limit, key, message) in turn; on the first refusal,
    give back what the earlier ones counted and raise it, unless `member` is staff."""
    taken: list[tuple[str, str | int, Decision]] = []
    for name, key, message in limits:
        decision = rate_limits.hit(name, key)
        if decision.allowed:
            taken.append((name, key, decision))
            continue
        # Asked only when a limit refuses, so an ordinary post costs no query for it.
        if permissions.powers_of(member).is_staff:
            continue
        for taken_name, taken_key, taken_decision in taken:
            rate_limits.undo(taken_name, taken_key, taken_decision)
        raise rate_limits.refused(decision, message)
