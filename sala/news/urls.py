from django.urls import path

from sala.news import views

app_name = "news"
urlpatterns = [
    path("new/link/", views.share_link, name="share_link"),
    path("new/link/<uuid:draft_id>/", views.link_draft, name="link_draft"),
]
