from django.contrib import admin

from sala.trust.models import SpamDomain


@admin.register(SpamDomain)
class SpamDomainAdmin(admin.ModelAdmin[SpamDomain]):
    list_display = ["domain", "marked_at", "marked_by", "note"]
    search_fields = ["domain"]
    raw_id_fields = ["marked_by"]
