"""The staff page, where administrators give and take roles, and the audit log's page,
where they read and filter what staff did; nobody else opens either."""

import pytest
from django.test import Client
from django.urls import reverse

from sala.accounts.models import User
from sala.accounts.tests.factories import make_member
from sala.forums.tests.factories import make_forum, make_moderator, make_replies, make_topic
from sala.moderation import services
from sala.staff import permissions
from sala.staff.audit import Acting
from sala.staff.models import AuditEntry, Role, StaffRole

pytestmark = pytest.mark.django_db


def admin_client() -> tuple[Client, User]:
    boss = make_member(username="boss")
    StaffRole.objects.create(role=Role.ADMIN, member=boss)
    client = Client()
    client.force_login(boss)
    return client, boss


def test_an_administrator_makes_a_forum_moderator_on_the_staff_page() -> None:
    client, _boss = admin_client()
    news = make_forum(name="City news")
    make_member(username="lena")

    response = client.post(
        reverse("moderation:staff"),
        {"username": "lena", "role": Role.FORUM_MODERATOR, "forum": news.pk},
        follow=True,
    )

    page = response.content.decode()
    assert "The role is given." in page and "City news" in page
    lena = User.objects.get(username="lena")
    assert permissions.moderates(lena, news.pk)
    assert AuditEntry.objects.filter(action="staff.grant", subject=lena).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"username": "nobody", "role": Role.GLOBAL_MODERATOR}, "No member is called that."),
        ({"username": "lena", "role": Role.FORUM_MODERATOR}, "Choose the forum this member"),
        ({"username": "lena", "role": Role.FORUM_MODERATOR, "forum": "9999"}, "Choose a forum"),
    ],
)
def test_bad_grants_are_refused_at_the_field(data: dict[str, str], message: str) -> None:
    client, _boss = admin_client()
    make_member(username="lena")

    response = client.post(reverse("moderation:staff"), data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert StaffRole.objects.count() == 1  # the administrator's own


def test_a_role_held_already_is_not_given_twice_and_roles_are_taken_away() -> None:
    client, _boss = admin_client()
    make_member(username="lena")
    grant = {"username": "lena", "role": Role.GLOBAL_MODERATOR}
    client.post(reverse("moderation:staff"), grant)

    again = client.post(reverse("moderation:staff"), grant)
    role = StaffRole.objects.get(member__username="lena")
    client.post(reverse("moderation:revoke_role", args=[role.pk]))

    assert "holds that role already" in again.content.decode()
    assert not StaffRole.objects.filter(member__username="lena").exists()
    assert AuditEntry.objects.filter(action="staff.revoke").count() == 1


def test_an_administrator_cannot_take_their_own_administrator_role() -> None:
    client, boss = admin_client()
    role = StaffRole.objects.get(member=boss)

    response = client.post(reverse("moderation:revoke_role", args=[role.pk]), follow=True)

    assert "You can&#x27;t take away your own administrator role." in response.content.decode()
    assert StaffRole.objects.filter(pk=role.pk).exists()


def test_the_audit_log_filters_by_action_who_and_forum() -> None:
    client, _boss = admin_client()
    news, sport = make_forum(name="News"), make_forum(name="Sport")
    (in_news,) = make_replies(make_topic(forum=news, title="Tram story"), 1)
    (in_sport,) = make_replies(make_topic(forum=sport, title="Derby story"), 1)
    ines, omar = make_moderator("ines"), make_moderator("omar")
    services.hide_post(post=in_news, acting=Acting(actor=ines, reason="Spam link"))
    services.hide_post(post=in_sport, acting=Acting(actor=omar, reason="Rude"))
    services.lock_topic(topic=in_sport.topic, acting=Acting(actor=omar), locked=True)

    everything = client.get(reverse("moderation:audit")).content.decode()
    by_omar = client.get(reverse("moderation:audit"), {"actor": "omar"}).content.decode()
    hides_in_news = client.get(
        reverse("moderation:audit"), {"action": "post.", "forum": str(news.pk)}
    ).content.decode()

    assert "Tram story" in everything and "Derby story" in everything
    assert "Tram story" not in by_omar and "topic.lock" in by_omar
    assert "Spam link" in hides_in_news and "Derby story" not in hides_in_news


def test_only_administrators_open_the_staff_page_and_the_audit_log() -> None:
    client = Client()
    client.force_login(make_moderator())

    for name in ("moderation:staff", "moderation:audit"):
        response = client.get(reverse(name))
        assert response.status_code == 403
        assert "Only administrators" in response.content.decode()
