from django.urls import path

from sala.moderation import views

app_name = "moderation"
post = "t/<int:topic_id>-<str:slug>/post/<int:number>/"
urlpatterns = [
    path("f/<int:forum_id>-<str:slug>/moderate/", views.bulk_topics, name="bulk_topics"),
    path("t/<int:topic_id>-<str:slug>/moderate/", views.topic_tools, name="topic_tools"),
    path("t/<int:topic_id>-<str:slug>/move/", views.move_topic, name="move_topic"),
    path("t/<int:topic_id>-<str:slug>/merge/", views.merge_topic, name="merge_topic"),
    path("t/<int:topic_id>-<str:slug>/split/", views.split_topic, name="split_topic"),
    path(post + "hide/", views.hide_post, name="hide_post"),
    path(post + "unhide/", views.unhide_post, name="unhide_post"),
    path(post + "restore/", views.restore_post, name="restore_post"),
    path(post + "report/", views.report_post, name="report_post"),
    path("moderation/queue/", views.queue, name="queue"),
    path("moderation/queue/<int:item_id>/", views.act_on_item, name="act_on_item"),
    path("moderation/bans/", views.ban_list, name="bans"),
    path("moderation/audit/", views.audit_log, name="audit"),
    path("moderation/staff/", views.staff_page, name="staff"),
    path("moderation/staff/<int:role_id>/revoke/", views.revoke_role, name="revoke_role"),
    path("moderation/bans/<int:ban_id>/lift/", views.lift_ban, name="lift_ban"),
    path("moderation/members/<int:member_id>/spammer/", views.spammer, name="spammer"),
    path("moderation/spammers/<int:cleanup_id>/undo/", views.undo_spammer, name="undo_spammer"),
]
