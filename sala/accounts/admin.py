from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _

from sala.accounts.models import User


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
