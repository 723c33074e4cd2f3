"""Staff roles given and taken in the admin, each recorded in the audit log; the audit
log itself read-only (nobody changes or deletes an entry, here or anywhere)."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from sala.accounts.models import User
from sala.core.client_address import client_address
from sala.staff import services
from sala.staff.audit import Acting
from sala.staff.models import AuditEntry, StaffRole


def _record(request: HttpRequest, action: str, role: StaffRole) -> None:
    actor = request.user if isinstance(request.user, User) else None
    acting = Acting(actor=actor, address=client_address(request) or None)
    services.record_role_change(acting, action, role)


@admin.register(StaffRole)
class StaffRoleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("__str__", "role", "member", "group", "forum_id", "granted_by", "granted_at")
    list_filter = ("role",)
    search_fields = ("member__username", "group__name")
    autocomplete_fields = ("member",)
    readonly_fields = ("granted_by", "granted_at")

    def save_model(self, request: HttpRequest, obj: StaffRole, form: Any, change: bool) -> None:
        if not change and isinstance(request.user, User):
            obj.granted_by = request.user
        super().save_model(request, obj, form, change)
        _record(request, "staff.change" if change else "staff.grant", obj)

    def delete_model(self, request: HttpRequest, obj: StaffRole) -> None:
        _record(request, "staff.revoke", obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[StaffRole]) -> None:
        for role in queryset:
            _record(request, "staff.revoke", role)
        super().delete_queryset(request, queryset)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("at", "actor_name", "action", "target_label", "reason", "address")
    list_filter = ("action", "target_type")
    search_fields = ("actor_name", "target_label", "reason")
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
