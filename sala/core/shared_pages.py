"""Pages members share: one render for every member who sees a page alike, with each
member's own parts filled in at every request.

Members all see a topic page the same way, but for a few parts: their menu in the header,
their messages, the CSRF token and one-time submission key in its forms, the Edit and
Delete links on their own posts, and who is browsing. Rendering twenty posts for every
signed-in read is most of what a member's page costs, so a view renders the page once in
"shared" mode, where those parts come out as markers, keeps that render in this process
while the page's generations hold (the same generations as the guest page cache), and
for each request replaces the markers with the member's own parts: a few string
replacements instead of a template render.

Markers carry a secret made when the process starts, so no text a member writes can pose
as one; they never reach a browser. docs/subsystems/caching.md has the whole design.
"""

import re
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.messages import get_messages
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils import translation

from sala.core import local_memo, page_cache
from sala.core.page_cache import PageStore

#: Names every marker of this process, so no text from members can forge one.
_SECRET = secrets.token_hex(12)
_MARKER = re.compile(rf"@hole\.{_SECRET}\.([\w-]+)\.([\w./-]*)@")

#: The context variable that tells templates they are rendering the shared page.
SHARED = "shared_render"
#: The response header that says whether a member's page came from a shared render
#: already made ("hit") or rendered for this request ("miss").
HEADER = "X-Sala-Shared"


def marker(kind: str, argument: str = "") -> str:
    """Return the marker a shared render leaves where a member's own part goes."""
    return f"@hole.{_SECRET}.{kind}.{argument}@"


#: What a shared render puts in its forms, each replaced per request.
CSRF_TOKEN = marker("csrf")
SUBMISSION_KEY = marker("submission")


class _SharedMember:
    """Who `user` is in a shared render: some member, nobody in particular, so no member's
    name or id can slip into a page others get (their own parts are markers)."""

    is_authenticated = True
    is_anonymous = False
    pk = None
    id = None

    def __str__(self) -> str:
        return ""


SHARED_MEMBER = _SharedMember()


def owner_only(author_id: int | None, content: str) -> str:
    """Wrap what only the author (`author_id`) of something may see, in a shared render."""
    return f"{marker('own', str(author_id or 0))}{content}{marker('own-end')}"


def not_owner(author_id: int | None, content: str) -> str:
    """Wrap what everyone but the author (`author_id`) and moderators sees, in a shared
    render."""
    return f"{marker('others', str(author_id or 0))}{content}{marker('own-end')}"


def personal(template_name: str) -> str:
    """Return the marker for a template rendered for each member: their own part."""
    return marker("personal", template_name)


@dataclass(frozen=True)
class SharedPage:
    """A shared render, cut at its markers once so each request only joins its pieces,
    and what the view needs to answer from it without reading again."""

    #: The render's text between markers: one more piece than there are markers.
    pieces: tuple[str, ...]
    #: Each marker's kind and argument, in order: marker i sits after pieces[i].
    markers: tuple[tuple[str, str], ...]
    generation_values: tuple[int, ...]
    expires: float
    #: What the view keeps about the page (the topic's number of the last post shown...).
    facts: Mapping[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(map(len, self.pieces)) + 100 * len(self.markers) + 500


def _cut(html: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Return `html`'s text between markers, and the markers."""
    pieces: list[str] = []
    markers: list[tuple[str, str]] = []
    start = 0
    for found in _MARKER.finditer(html):
        pieces.append(html[start : found.start()])
        markers.append((found[1], found[2]))
        start = found.end()
    pieces.append(html[start:])
    return tuple(pieces), tuple(markers)


_store: PageStore[tuple[str, ...], SharedPage] = PageStore()


def get(key: tuple[str, ...], values: tuple[int, ...] | None) -> SharedPage | None:
    """Return this process's shared render under `key`, if made under generations
    `values` and not expired."""
    if values is None:
        return None
    page = _store.get(key, time.monotonic())
    if page is not None and page.generation_values != values:
        _store.discard(key, page)
        return None
    return page


def keep(
    key: tuple[str, ...], html: str, values: tuple[int, ...] | None, **facts: Any
) -> SharedPage:
    """Return the shared render `html`, rendered under generations `values`, ready to
    fill; keep it for the next member's request (unless the generations could not be
    read, or shared renders are off)."""
    # Capped like guest pages: a render must not outlive the generations it was made under.
    seconds = min(settings.SALA_GUEST_CACHE_SECONDS, page_cache.MAX_SECONDS)
    pieces, markers = _cut(html)
    page = SharedPage(pieces, markers, values or (), time.monotonic() + seconds, facts)
    if values is not None and seconds > 0:
        _store.put(key, page, max_bytes=settings.SALA_GUEST_CACHE_MB * 1024 * 1024)
    return page


def reset() -> None:
    """Forget every shared render of this process (for tests)."""
    _store.clear()


def fill(
    page: SharedPage,
    request: HttpRequest,
    *,
    rendered: Mapping[str, str] | None = None,
    is_moderator: bool = False,
) -> str:
    """Return the shared render `page` with the member's own parts in place of its markers.

    Personal templates are taken from `rendered` (by template name) when the view has
    them already, else rendered once each with what is the member's own: `request`,
    `user`, `messages` and `csrf_token` (not every context processor: a personal part
    needs no more, and running them all for each part cost more than the part). What
    `owner_only` wrapped stays for its author and for moderators, and goes for everyone
    else.
    """
    member_id = str(request.user.pk)
    rendered = dict(rendered or {})
    token = get_token(request)
    own = {
        "request": request,
        "user": request.user,
        "messages": get_messages(request),
        "csrf_token": token,
    }
    pieces = page.pieces
    out = [pieces[0]]
    hidden = False  # inside a part that is not for this member
    # Parts nest (a hidden post, for its author, holds their Edit link): each end
    # returns to what its part's start found.
    outer: list[bool] = []
    for (kind, argument), piece in zip(page.markers, pieces[1:], strict=True):
        if kind in ("own", "others"):
            outer.append(hidden)
            owns = is_moderator or argument == member_id
            hidden = hidden or (owns if kind == "others" else not owns)
        elif kind == "own-end":
            hidden = outer.pop() if outer else False
        elif hidden:
            pass
        elif kind == "csrf":
            out.append(token)
        elif kind == "submission":
            out.append(str(uuid.uuid4()))
        elif kind == "personal":
            if argument not in rendered:
                if argument == MEMBER_MENU:
                    rendered[argument] = _member_menu(request.user, token)
                else:
                    rendered[argument] = render_to_string(argument, own)
            out.append(rendered[argument])
        else:
            raise ValueError(f"Unknown marker {kind!r} in a shared render")
        if not hidden:
            out.append(piece)
    return "".join(out)


#: The member menu: what it shows is all in `_member_menu`'s key (its template says so).
MEMBER_MENU = "_member_menu.html"
#: Member menus as rendered lately, with a marker for their CSRF token, by what they show.
_menus = local_memo.memo(seconds=60, size=10_000)


def _member_menu(member: Any, token: str) -> str:
    """Return `member`'s menu with `token` in its sign-out form, rendered once a minute
    per member and language (a render was a fifth of a member's read)."""
    key = (
        translation.get_language(),
        member.pk,
        member.username,
        member.display_name,
        str(member.avatar),
        member.is_staff,
    )
    html = _menus.get(key)
    if not isinstance(html, str):
        html = render_to_string(MEMBER_MENU, {"user": member, "csrf_token": CSRF_TOKEN})
        _menus.put(key, html)
    return html.replace(CSRF_TOKEN, token)
