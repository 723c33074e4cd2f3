"""Give the global moderator role to whoever held the forums' old "moderate" permission
(directly or through a group), which the roles replace; the permission itself goes."""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor


def roles_from_permission(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Permission = apps.get_model("auth", "Permission")
    StaffRole = apps.get_model("staff", "StaffRole")
    permission = Permission.objects.filter(
        codename="moderate", content_type__app_label="forums"
    ).first()
    if permission is None:  # a new database: nobody held it
        return
    for member in permission.user_set.all():
        StaffRole.objects.get_or_create(role="global_moderator", member=member, forum_id=None)
    for group in permission.group_set.all():
        StaffRole.objects.get_or_create(role="global_moderator", group=group, forum_id=None)
    permission.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("staff", "0001_initial"),
        ("forums", "0003_moderation_fields"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(roles_from_permission, migrations.RunPython.noop)]
