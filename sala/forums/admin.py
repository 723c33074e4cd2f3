"""The forums in the admin: categories and forums set up, topics pinned and locked, posts
and topics deleted as moderators delete them.

Every change here is announced as the site's own writes are (sala.forums.events), so the
listeners drop the cached pages that show it after the admin's transaction commits.
"""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from sala.accounts.models import User
from sala.core.events import DomainEvent, announce
from sala.forums import services
from sala.forums.events import ForumsChanged, TopicChanged
from sala.forums.models import Category, Forum, Post, Topic


class AnnouncesChanges(admin.ModelAdmin):  # type: ignore[type-arg]
    """Announce each object saved or deleted here, once its transaction commits."""

    def changed(self, obj: Any) -> DomainEvent:
        """Return what changing `obj` announces: categories and forums are on every page."""
        return ForumsChanged()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        announce(self.changed(obj))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        event = self.changed(obj)
        super().delete_model(request, obj)
        announce(event)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        changes = {self.changed(obj) for obj in queryset}
        super().delete_queryset(request, queryset)
        announce(*changes)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        announce(self.changed(form.instance))


class ForumInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Forum
    fields = ("name", "slug", "description", "position")
    extra = 0


@admin.register(Category)
class CategoryAdmin(AnnouncesChanges):
    # Names of categories and forums are on every page (lists, breadcrumbs, headings).
    list_display = ("name", "position")
    list_editable = ("position",)
    inlines = [ForumInline]


@admin.register(Forum)
class ForumAdmin(AnnouncesChanges):
    list_display = (
        "name",
        "category",
        "position",
        "approve_new_topics",
        "topic_count",
        "post_count",
    )
    list_filter = ("category",)
    list_editable = ("position",)
    prepopulated_fields = {"slug": ("name",)}


class DeletesSoftly(AnnouncesChanges):
    """No deleting rows here: a post or topic deleted from the admin would leave holes in
    the numbering and every count wrong. The action deletes as moderators do on the site
    (services.delete_post: hidden, its number kept, the counts taken down)."""

    actions = ["delete_softly"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def post_to_delete(self, obj: Any) -> Post:
        """Return the post whose deletion deletes `obj`."""
        raise NotImplementedError

    @admin.action(description=_("Delete, as a moderator does on the site"))
    def delete_softly(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        deleted = 0
        for obj in queryset:
            try:
                services.delete_post(post=self.post_to_delete(obj), actor=_admin(request))
            except PermissionDenied as refusal:
                self.message_user(request, f"{obj}: {refusal}", messages.ERROR)
            else:
                deleted += 1
        if deleted:
            self.message_user(
                request,
                ngettext("Deleted %(count)d.", "Deleted %(count)d.", deleted) % {"count": deleted},
                messages.SUCCESS,
            )


def _admin(request: HttpRequest) -> User:
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user


@admin.register(Topic)
class TopicAdmin(DeletesSoftly):
    list_display = ("title", "forum", "author", "reply_count", "is_pinned", "is_locked")
    list_filter = ("forum", "is_pinned", "is_locked", "is_deleted")
    search_fields = ("title",)
    raw_id_fields = ("author",)
    # Deleting and moving go through the site's services, which keep the counters.
    fields = ("title", "source_url", "is_pinned", "is_locked")

    def changed(self, obj: Topic) -> DomainEvent:
        return TopicChanged(obj.pk, obj.forum_id)

    def post_to_delete(self, obj: Topic) -> Post:
        return Post.objects.get(topic=obj, number=1)


@admin.register(Post)
class PostAdmin(DeletesSoftly):
    list_display = ("__str__", "author", "created_at", "is_deleted")
    # Read-only here: edits go through the site, which cooks the text and keeps revisions.
    readonly_fields = ("topic", "number", "author", "text", "created_at", "is_deleted")
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def changed(self, obj: Post) -> DomainEvent:
        return TopicChanged(obj.topic_id, obj.topic.forum_id)

    def post_to_delete(self, obj: Post) -> Post:
        return obj
