"""The accounts' limits: password resets per address asked for (allauth's), failed
sign-ins per address and per account and the sign-ups of a day per address (Sala's one
limiter), each told to the member with how long to wait."""

from typing import Any

import pytest
from django.test import Client

from conftest import SmtpSink, message_text
from sala.accounts.models import User
from sala.accounts.tests.factories import DEFAULT_PASSWORD, make_member
from sala.core.tests.html_pages import Page, assert_kept, page_of
from tests.e2e.pages import mailed_link

pytestmark = pytest.mark.django_db


def test_asking_too_often_to_reset_one_address_is_refused(client: Client, mail: object) -> None:
    make_member(username="alice", email="alice@example.org")
    answers = [
        client.post("/accounts/password/reset/", {"email": "alice@example.org"}).status_code
        for _ in range(7)
    ]
    assert answers[:5] == [302] * 5
    assert 429 in answers[5:]


# -- Failed sign-ins and the sign-ups of a day (Sala's limiter) -----------------------------

LOGIN = "/accounts/login/"
SIGNUP = "/accounts/signup/"


def limits(settings: Any, **rates: str) -> None:
    settings.SALA_RATE_LIMITS_ON = True
    settings.SALA_RATE_LIMITS = {**settings.SALA_RATE_LIMITS, **rates}


def sign_in(client: Client, login: str, password: str) -> Page:
    return page_of(client.post(LOGIN, {"login": login, "password": password}))


def test_after_five_wrong_passwords_even_the_right_one_is_refused_for_minutes(
    client: Client, settings: Any
) -> None:
    limits(settings)
    make_member(username="alice")
    for _attempt in range(5):
        assert "not correct" in sign_in(client, "alice", "not my password").form_errors

    page = sign_in(client, "Alice", DEFAULT_PASSWORD)

    assert "Too many failed sign-ins to this account. Try again in 5 minutes." in page.form_errors
    assert "reset your password" in page.form_errors
    assert_kept(page, {"login": "Alice"}, "login")
    assert "_auth_user_id" not in client.session


def test_a_successful_sign_in_does_not_count_as_a_failure(client: Client, settings: Any) -> None:
    limits(settings)
    make_member(username="alice")
    for _attempt in range(4):
        sign_in(client, "alice", "not my password")
    assert client.post(LOGIN, {"login": "alice", "password": DEFAULT_PASSWORD}).status_code == 302
    client.logout()

    assert "not correct" in sign_in(client, "alice", "still not my password").form_errors


def test_failures_from_one_address_across_accounts_are_limited_too(
    client: Client, settings: Any
) -> None:
    limits(settings, signin_failures_address="3/10m")
    for name in ("ana", "ben", "cai"):
        assert "not correct" in sign_in(client, name, "guess").form_errors

    page = sign_in(client, "dee", "guess")

    assert "Too many failed sign-ins from your network. Try again in 10 minutes." in (
        page.form_errors
    )
    elsewhere = Client(REMOTE_ADDR="198.51.100.9")
    assert "not correct" in sign_in(elsewhere, "dee", "guess").form_errors


def test_a_password_reset_lets_the_owner_of_a_locked_account_in_at_once(
    client: Client, settings: Any, mail: SmtpSink
) -> None:
    limits(settings)
    make_member(username="alice", email="alice@example.org")
    attacker = Client(REMOTE_ADDR="203.0.113.66")
    for _attempt in range(5):
        sign_in(attacker, "alice", "guess")
    assert "Too many failed" in sign_in(client, "alice", DEFAULT_PASSWORD).form_errors

    client.post("/accounts/password/reset/", {"email": "alice@example.org"})
    link = mailed_link(message_text(mail.wait_for("alice@example.org")))
    form_page = client.get(link, follow=True)
    new_password = "a new lantern by the quay"
    done = client.post(
        form_page.redirect_chain[-1][0] if form_page.redirect_chain else link,
        {"password1": new_password, "password2": new_password},
    )
    assert done.status_code == 302

    assert client.post(LOGIN, {"login": "alice", "password": new_password}).status_code == 302


def test_past_the_days_sign_ups_from_one_address_the_form_says_so_and_keeps_the_typing(
    client: Client, settings: Any, mail: SmtpSink
) -> None:
    limits(settings, signups_address="1/d")
    first = {"email": "one@example.org", "username": "one", "password1": "a lantern by the quay"}
    first["password2"] = first["password1"]
    assert client.post(SIGNUP, first).status_code == 302
    client.logout()

    typed = {**first, "email": "two@example.org", "username": "two"}
    page = page_of(client.post(SIGNUP, typed))

    assert "Too many accounts were made from your network today. Try again in" in (page.form_errors)
    assert_kept(page, typed, "email", "username")
    assert not User.objects.filter(username="two").exists()
    elsewhere = Client(REMOTE_ADDR="198.51.100.9")
    assert elsewhere.post(SIGNUP, typed).status_code == 302
