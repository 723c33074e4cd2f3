from django.urls import path

from sala.forums import views

app_name = "forums"
post = "t/<int:topic_id>-<str:slug>/post/<int:number>/"
urlpatterns = [
    path("", views.index, name="index"),
    path("f/<int:forum_id>-<str:slug>/", views.forum, name="forum"),
    path("f/<int:forum_id>-<str:slug>/topics/", views.forum_topics, name="forum_topics"),
    path("t/<int:topic_id>-<str:slug>/", views.topic, name="topic"),
    path("t/<int:topic_id>-<str:slug>/reply/", views.reply, name="reply"),
    path("t/<int:topic_id>-<str:slug>/posts/", views.new_posts, name="new_posts"),
    path(post, views.post_permalink, name="post"),
    path(post + "edit/", views.edit_post, name="edit_post"),
    path(post + "delete/", views.delete_post, name="delete_post"),
    path(post + "revisions/", views.post_revisions, name="post_revisions"),
    path(post + "recommend/", views.recommend_post, name="recommend_post"),
    path("new/topic/", views.create_topic, name="create_topic"),
    path("held/<int:held_id>/", views.held_post, name="held_post"),
]
