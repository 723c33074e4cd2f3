from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from sala.accounts.events import MemberChanged
from sala.accounts.models import User
from sala.core.events import announce


@admin.register(User)
class MemberAdmin(UserAdmin):  # type: ignore[type-arg]
    list_display = ("username", "display_name", "email", "date_joined", "last_seen", "is_staff")
    search_fields = ("username", "display_name", "email")
    fieldsets = (
        *UserAdmin.fieldsets,  # type: ignore[misc]
        (
            _("Community"),
            {"fields": ("display_name", "avatar", "time_zone", "post_count", "last_seen")},
        ),
    )
    readonly_fields = ("post_count", "last_seen")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        # A bulk delete skips User.delete(): announce each member gone, so no process
        # keeps a deleted member signed in from memory.
        member_ids = list(queryset.values_list("pk", flat=True))
        super().delete_queryset(request, queryset)
        announce(*(MemberChanged(member_id) for member_id in member_ids))
