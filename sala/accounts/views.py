"""Member pages: the public profile and the member's own profile settings."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from sala.accounts import cached_pages, selectors, services
from sala.accounts.forms import ProfileForm
from sala.accounts.models import User
from sala.core import cached_reads, page_cache


def profile(request: HttpRequest, username: str) -> HttpResponse:
    """Show a member's public profile; redirect other spellings of the name to its own.

    Guests' copies are kept under the member's profile generation. Its name needs the
    member's id, so the id is looked up first and the row read only after the
    generation: a change committed in between then leaves this render stale under its
    old value, never stored as current (docs/subsystems/caching.md).
    """
    member_id = selectors.get_member_id_by_username(username)
    page_cache.depend_on(
        request, cached_pages.profile_generation(member_id), on_hit=cached_reads.record
    )
    member = selectors.get_member(member_id)
    if member.username != username:
        return redirect(member, permanent=True)
    return render(request, "accounts/profile.html", {"member": member})


@login_required
@require_http_methods(["GET", "POST"])
def edit_profile(request: HttpRequest) -> HttpResponse:
    """Let a member change their display name, avatar and time zone."""
    member = request.user
    if not isinstance(member, User):  # login_required let only members through
        raise PermissionDenied
    if request.method == "POST":
        form = ProfileForm(request.POST, request.FILES, member=member)
        if form.is_valid():
            services.update_profile(
                member=member,
                display_name=form.cleaned_data["display_name"],
                time_zone=form.cleaned_data["time_zone"],
                avatar_webp=form.avatar_webp,
                remove_avatar=form.cleaned_data.get("remove_avatar", False),
                hide_presence=form.cleaned_data["hide_presence"],
            )
            messages.success(request, _("Your profile is saved."))
            return redirect("accounts:edit_profile")
    else:
        form = ProfileForm(member=member)
    return render(request, "accounts/edit_profile.html", {"form": form, "member": member})
