"""Roles as the permissions module reads them: a member's own and their groups', read once
per request, none for guests and members no longer active."""

from importlib import import_module

import pytest
from django.apps import apps
from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sala.accounts.models import User
from sala.accounts.tests.factories import make_member
from sala.staff import permissions
from sala.staff.models import Role, StaffRole

pytestmark = pytest.mark.django_db


def fresh(member: User) -> User:
    return User.objects.get(pk=member.pk)


def test_a_members_roles_and_their_groups_roles_add_up_in_one_query() -> None:
    member = make_member(username="lena")
    desk = Group.objects.create(name="Sport desk")
    member.groups.add(desk)
    StaffRole.objects.create(role=Role.FORUM_MODERATOR, member=member, forum_id=3)
    StaffRole.objects.create(role=Role.FORUM_MODERATOR, group=desk, forum_id=7)
    member = fresh(member)

    with CaptureQueriesContext(connection) as queries:
        powers = permissions.powers_of(member)
        again = permissions.powers_of(member)

    assert len(queries) == 1
    assert again is powers
    assert powers.forum_ids == {3, 7}
    assert powers.moderates(3) and powers.moderates(7) and not powers.moderates(4)
    assert powers.key == "forums:3,7"


def test_guests_inactive_members_and_plain_members_moderate_nothing() -> None:
    inactive = make_member(username="gone")
    StaffRole.objects.create(role=Role.GLOBAL_MODERATOR, member=inactive)
    User.objects.filter(pk=inactive.pk).update(is_active=False)

    assert not permissions.moderates(AnonymousUser(), 1)
    assert not permissions.moderates(fresh(inactive), 1)
    assert not permissions.moderates(make_member(username="plain"), 1)


def test_superusers_are_administrators_without_a_role() -> None:
    boss = make_member(username="boss")
    User.objects.filter(pk=boss.pk).update(is_superuser=True)

    powers = permissions.powers_of(fresh(boss))

    assert powers.admin and powers.moderates(12345)
    permissions.check_read_audit_log(fresh(boss))


def test_only_administrators_manage_staff_and_read_the_audit_log() -> None:
    moderator = make_member(username="mod")
    StaffRole.objects.create(role=Role.GLOBAL_MODERATOR, member=moderator)
    admin = make_member(username="admin")
    StaffRole.objects.create(role=Role.ADMIN, member=admin)

    assert not permissions.allows(permissions.check_manage_staff, fresh(moderator))
    assert not permissions.allows(permissions.check_read_audit_log, fresh(moderator))
    assert permissions.allows(permissions.check_manage_staff, fresh(admin))


def test_a_role_given_to_both_a_member_and_a_group_is_refused() -> None:
    role = StaffRole(
        role=Role.GLOBAL_MODERATOR, member=make_member(), group=Group.objects.create(name="g")
    )

    with pytest.raises(ValidationError, match="not both"):
        role.full_clean()


def test_the_forums_old_moderate_permission_becomes_the_global_moderator_role() -> None:
    holder = make_member(username="oldmod")
    content_type = ContentType.objects.get(app_label="forums", model="forum")
    permission = Permission.objects.create(
        codename="moderate", name="Can moderate", content_type=content_type
    )
    holder.user_permissions.add(permission)
    migration = import_module("sala.staff.migrations.0002_moderators_from_permission")

    migration.roles_from_permission(apps, connection.schema_editor())

    assert permissions.powers_of(fresh(holder)).global_moderator
    assert not Permission.objects.filter(codename="moderate").exists()
