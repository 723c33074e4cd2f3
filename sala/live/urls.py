from django.urls import path

from sala.live import views

app_name = "live"
urlpatterns = [
    path("live/t/<int:topic_id>/", views.topic_stream, name="topic_stream"),
    path("live/f/<int:forum_id>/", views.forum_stream, name="forum_stream"),
]
