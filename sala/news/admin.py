"""News sources in the admin: add feeds, see their last poll and error, poll now."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from sala.news import services, tasks
from sala.news.models import FeedSource, ImportedItem, LinkDraft


@admin.register(FeedSource)
class FeedSourceAdmin(admin.ModelAdmin[FeedSource]):
    list_display = [
        "__str__",
        "forum",
        "interval_minutes",
        "full_article",
        "is_active",
        "last_polled_at",
        "imported_count",
        "has_error",
    ]
    list_filter = ["is_active", "forum"]
    search_fields = ["url", "title"]
    autocomplete_fields = ["poster"]
    readonly_fields = [
        "last_polled_at",
        "last_error",
        "last_error_at",
        "imported_count",
        "etag",
        "last_modified",
        "created_at",
    ]
    actions = ["poll_now"]

    @admin.display(boolean=True, description=_("error"))
    def has_error(self, source: FeedSource) -> bool:
        return bool(source.last_error)

    def save_model(self, request: HttpRequest, obj: FeedSource, form: object, change: bool) -> None:
        if not change and obj.poster_id is None:
            obj.poster = services.get_news_account()
        super().save_model(request, obj, form, change)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, str | list[str]]:
        return {"poster": str(services.get_news_account().pk)}

    @admin.action(description=_("Poll the selected feeds now"))
    def poll_now(self, request: HttpRequest, queryset: QuerySet[FeedSource]) -> None:
        # In the background: a full-article feed can take minutes, longer than a request.
        for source in queryset:
            tasks.poll_feed.enqueue(source.pk)
        self.message_user(
            request,
            ngettext(
                "Polling %(count)d feed in the background; reload this page in a moment "
                "to see what it imported and any error.",
                "Polling %(count)d feeds in the background; reload this page in a moment "
                "to see what they imported and any errors.",
                queryset.count(),
            )
            % {"count": queryset.count()},
            messages.SUCCESS,
        )


@admin.register(ImportedItem)
class ImportedItemAdmin(admin.ModelAdmin[ImportedItem]):
    list_display = ["canonical_url", "source", "topic", "imported_at"]
    list_filter = ["source"]
    search_fields = ["canonical_url", "guid"]
    readonly_fields = ["source", "guid", "canonical_url", "topic", "imported_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rows are written by imports only


@admin.register(LinkDraft)
class LinkDraftAdmin(admin.ModelAdmin[LinkDraft]):
    list_display = ["url", "member", "forum", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["url", "member__username"]
    readonly_fields = [
        "member",
        "forum",
        "url",
        "status",
        "title",
        "text",
        "source_url",
        "error",
        "created_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # members share links from "Create New..."
