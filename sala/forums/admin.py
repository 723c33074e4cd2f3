from django.contrib import admin
from django.http import HttpRequest

from sala.forums.models import Category, Forum, Post, Topic


class ForumInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Forum
    fields = ("name", "slug", "description", "position")
    extra = 0


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "position")
    list_editable = ("position",)
    inlines = [ForumInline]


@admin.register(Forum)
class ForumAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "category", "position", "topic_count", "post_count")
    list_filter = ("category",)
    list_editable = ("position",)
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("title", "forum", "author", "reply_count", "is_pinned", "is_locked")
    list_filter = ("forum", "is_pinned", "is_locked", "is_deleted")
    search_fields = ("title",)
    raw_id_fields = ("author",)
    # Deleting and moving go through the site's services, which keep the counters.
    fields = ("title", "source_url", "is_pinned", "is_locked")


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("__str__", "author", "created_at", "is_deleted")
    # Read-only here: edits go through the site, which cooks the text and keeps revisions.
    readonly_fields = ("topic", "number", "author", "text", "created_at", "is_deleted")
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
