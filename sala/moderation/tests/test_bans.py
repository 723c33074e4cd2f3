"""Bans on usernames, email patterns and address ranges: refused at sign-up (at the field),
at sign-in and for sessions already open; registration-only and expired bans; who may ban,
and never staff by a moderator."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks

from sala.accounts.models import User
from sala.accounts.tests.factories import DEFAULT_PASSWORD, make_member
from sala.forums.tests.factories import make_forum, make_moderator, make_topic
from sala.moderation import bans
from sala.moderation.models import Ban, BanKind
from sala.staff.audit import Acting
from sala.staff.models import AuditEntry

pytestmark = pytest.mark.django_db

SIGNUP = "/accounts/signup/"
LOGIN = "/accounts/login/"


def sign_up(email: str, username: str = "newcomer", address: str = "198.51.100.20") -> str:
    response = Client(REMOTE_ADDR=address).post(
        SIGNUP,
        {
            "email": email,
            "username": username,
            "password1": "a lantern by the quay",
            "password2": "a lantern by the quay",
        },
        REMOTE_ADDR=address,
    )
    return response.content.decode() if response.status_code == 200 else "signed up"


def ban(kind: str, value: str, **options: object) -> Ban:
    return bans.create_ban(
        acting=Acting(actor=make_moderator(f"banner{Ban.objects.count()}")),
        kind=kind,
        value=value,
        **options,  # type: ignore[arg-type]
    )


def test_an_email_pattern_ban_refuses_sign_ups_from_its_domain_at_the_field() -> None:
    ban(BanKind.EMAIL, "*@Spam.Example", user_message="Sign-ups from this domain are closed.")

    refused = sign_up("offers@spam.example")
    allowed = sign_up("reader@news.example", username="reader")

    assert "Sign-ups from this domain are closed." in refused
    assert 'value="offers@spam.example"' in refused  # what they typed is kept
    assert allowed == "signed up"
    assert list(User.objects.values_list("username", flat=True)) == ["banner0", "reader"]


def test_an_address_range_ban_refuses_sign_ups_from_inside_it() -> None:
    ban(BanKind.ADDRESS, "203.0.113.0/24")

    assert "banned" in sign_up("a@news.example", address="203.0.113.77")
    assert sign_up("b@news.example", username="other", address="203.0.114.1") == "signed up"


def test_a_banned_member_cannot_sign_in_and_an_open_session_is_signed_out(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    member = make_member(username="troll")
    topic = make_topic()
    session = Client()
    session.force_login(member)
    assert session.get(topic.get_absolute_url()).status_code == 200

    # Once the ban commits, this process reads the bans again (others within seconds).
    with django_capture_on_commit_callbacks(execute=True):
        ban(BanKind.USERNAME, "TROLL", user_message="Banned for harassment.")

    next_read = session.get(topic.get_absolute_url())
    assert next_read.status_code == 403
    assert "Banned for harassment." in next_read.content.decode()
    assert "_auth_user_id" not in session.session
    sign_in = Client().post(LOGIN, {"login": "troll", "password": DEFAULT_PASSWORD})
    assert sign_in.status_code == 403
    assert "Banned for harassment." in sign_in.content.decode()


def test_a_registration_only_ban_leaves_members_be_and_stops_sign_ups() -> None:
    member = make_member(username="old_timer", email="old@mail.example")
    ban(BanKind.EMAIL, "*@mail.example", registration_only=True)
    session = Client()
    session.force_login(member)

    assert session.get("/").status_code == 200
    assert "banned" in sign_up("new@mail.example")


def test_an_expired_ban_stops_nothing() -> None:
    made = ban(BanKind.EMAIL, "*@spam.example", expires_at=timezone.now() + timedelta(hours=1))
    Ban.objects.filter(pk=made.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    bans.forget()

    assert sign_up("offers@spam.example") == "signed up"


def test_a_moderator_cannot_ban_staff_and_staff_are_never_signed_out_by_a_ban() -> None:
    colleague = make_moderator("colleague")
    moderator = make_moderator("mod")

    with pytest.raises(PermissionDenied, match="only administrators can ban staff"):
        bans.create_ban(acting=Acting(actor=moderator), kind=BanKind.USERNAME, value="colleague")
    assert bans.find_member_ban(colleague, "") is None
    assert not Ban.objects.exists()


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        (BanKind.EMAIL, "spam.example", "An email ban needs an @"),
        (BanKind.ADDRESS, "300.1.2.3", "Give an IP address"),
        (BanKind.USERNAME, "*", "would lock the doors"),
        (BanKind.USERNAME, "  ", "Say what to ban."),
    ],
)
def test_a_ban_that_cannot_match_is_refused_at_the_field(
    kind: str, value: str, message: str
) -> None:
    moderator = make_moderator()
    client = Client()
    client.force_login(moderator)

    response = client.post(
        reverse("moderation:bans"), {"kind": kind, "value": value, "ban_for": "30d"}
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Ban.objects.exists()


def test_bans_are_made_and_lifted_on_their_page_and_logged() -> None:
    moderator = make_moderator()
    client = Client()
    client.force_login(moderator)

    client.post(
        reverse("moderation:bans"),
        {"kind": BanKind.ADDRESS, "value": "198.51.100.7", "ban_for": "7d", "staff_note": "bot"},
    )
    made = Ban.objects.get()
    page = client.get(reverse("moderation:bans")).content.decode()
    client.post(reverse("moderation:lift_ban", args=[made.pk]))

    assert made.value == "198.51.100.7/32" and "bot" in page
    assert not Ban.objects.exists()
    assert list(AuditEntry.objects.values_list("action", flat=True).order_by("pk")) == [
        "ban.create",
        "ban.lift",
    ]


def test_forum_moderators_cannot_ban() -> None:
    desk = make_moderator("desk", forum=make_forum())
    client = Client()
    client.force_login(desk)

    response = client.get(reverse("moderation:bans"))

    assert response.status_code == 403
    assert "Only global moderators and administrators can ban." in response.content.decode()
    with pytest.raises(PermissionDenied):
        bans.create_ban(acting=Acting(actor=desk), kind=BanKind.USERNAME, value="x")


def test_a_value_is_refused_before_anything_is_written() -> None:
    with pytest.raises(ValidationError):
        bans.create_ban(acting=Acting(actor=make_moderator()), kind="nonsense", value="x")
