from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from sala.core import views as core_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("sala.forums.urls")),
    path("", include("sala.moderation.urls")),
    path("", include("sala.live.urls")),
    path("", include("sala.news.urls")),
    path("", include("sala.accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]
if not settings.MEDIA_URL.startswith("http"):
    urlpatterns.append(
        path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", core_views.media, name="media")
    )
