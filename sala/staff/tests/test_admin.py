"""Staff roles in the admin: given with who gave them, recorded in the audit log, which
nobody can change or delete there."""

import pytest
from django.test import Client

from sala.accounts.models import User
from sala.accounts.tests.factories import make_member
from sala.staff import permissions
from sala.staff.models import AuditEntry, Role, StaffRole

pytestmark = pytest.mark.django_db


@pytest.fixture(name="admin_client")
def admin_client_fixture() -> Client:
    boss = make_member(username="boss")
    User.objects.filter(pk=boss.pk).update(is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(boss)
    return client


def test_a_forum_moderator_given_in_the_admin_moderates_that_forum_and_is_logged(
    admin_client: Client,
) -> None:
    lena = make_member(username="lena")

    response = admin_client.post(
        "/admin/staff/staffrole/add/",
        {"role": Role.FORUM_MODERATOR, "member": lena.pk, "forum_id": 4},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    role = StaffRole.objects.get()
    assert role.granted_by is not None and role.granted_by.username == "boss"
    assert permissions.moderates(User.objects.get(pk=lena.pk), 4)
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor_name, entry.subject_id) == ("staff.grant", "boss", lena.pk)


def test_a_forum_moderator_without_a_forum_is_refused_at_the_field(admin_client: Client) -> None:
    lena = make_member(username="lena")

    response = admin_client.post(
        "/admin/staff/staffrole/add/", {"role": Role.FORUM_MODERATOR, "member": lena.pk}
    )

    assert response.status_code == 200
    assert "Choose the forum this member moderates." in response.content.decode()
    assert not StaffRole.objects.exists()


def test_the_audit_log_can_be_read_but_not_changed_or_deleted(admin_client: Client) -> None:
    lena = make_member(username="lena")
    admin_client.post("/admin/staff/staffrole/add/", {"role": Role.ADMIN, "member": lena.pk})
    entry = AuditEntry.objects.get()

    assert admin_client.get("/admin/staff/auditentry/").status_code == 200
    assert admin_client.post(f"/admin/staff/auditentry/{entry.pk}/delete/", {"post": "yes"})
    assert AuditEntry.objects.filter(pk=entry.pk).exists()
    assert admin_client.get("/admin/staff/auditentry/add/").status_code == 403
