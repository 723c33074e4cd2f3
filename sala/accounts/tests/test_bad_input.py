"""Every account form answers bad input at the field, keeps what was typed, writes nothing.

Passwords and files are the exception to "keeps what was typed": browsers never re-fill
them, and a password must never travel back in a page.
"""

from dataclasses import dataclass

import pytest
from allauth.account.models import EmailAddress
from django.test import Client

from conftest import SmtpSink
from sala.accounts.models import User
from sala.accounts.tests.factories import make_member
from sala.core.tests.html_pages import (
    assert_error_at_field,
    assert_kept,
    assert_not_echoed,
    assert_only_errors_at,
    page_of,
)

pytestmark = pytest.mark.django_db

SIGNUP = "/accounts/signup/"
LOGIN = "/accounts/login/"
PASSWORD_RESET = "/accounts/password/reset/"
PROFILE_SETTINGS = "/settings/profile/"

SCRIPT = "<script>alert(1)</script>"

#: A sign-up that succeeds; each bad case changes some of it.
GOOD_SIGNUP = {
    "email": "newcomer@example.org",
    "username": "newcomer",
    "password1": "a lantern by the quay",
    "password2": "a lantern by the quay",
}


# --- Visitors and members --------------------------------------------------------------------


def visitor() -> Client:
    """Return a new browser with no cookies."""
    return Client()


@pytest.fixture
def alice() -> User:
    return make_member(username="alice", email="alice@example.org", display_name="Alice")


def counts() -> tuple[int, int]:
    return User.objects.count(), EmailAddress.objects.count()


# --- Sign-up ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BadSignup:
    typed: dict[str, str]
    errors: dict[str, str]


SIGNUP_CASES = [
    pytest.param(
        BadSignup(
            typed={"email": "", "username": "", "password1": "", "password2": ""},
            errors={
                "email": "This field is required.",
                "username": "This field is required.",
                "password1": "This field is required.",
                "password2": "This field is required.",
            },
        ),
        id="every field empty",
    ),
    pytest.param(
        BadSignup(
            typed={"email": "   ", "username": "   ", "password1": "   ", "password2": "   "},
            errors={
                "email": "This field is required.",
                "username": "This field is required.",
                "password1": "too short",
            },
        ),
        id="only spaces",
    ),
    pytest.param(
        BadSignup(
            typed={"username": "a" * 10_000},
            errors={"username": "at most 30 characters (it has 10000)"},
        ),
        id="10,000-character username",
    ),
    pytest.param(
        BadSignup(typed={"email": "newcomer@"}, errors={"email": "Enter a valid email address."}),
        id="email without a domain",
    ),
    pytest.param(
        BadSignup(
            typed={"email": "new@comer@example.org"},
            errors={"email": "Enter a valid email address."},
        ),
        id="email with two @",
    ),
    pytest.param(
        BadSignup(
            typed={"email": "newcomer@example..org"},
            errors={"email": "Enter a valid email address."},
        ),
        id="email with an empty domain label",
    ),
    pytest.param(
        BadSignup(
            typed={"password1": "Tr0ub4d!", "password2": "Tr0ub4d!"},
            errors={"password1": "This password is too short."},
        ),
        id="password too short",
    ),
    pytest.param(
        BadSignup(
            typed={"password1": "80211048576314", "password2": "80211048576314"},
            errors={"password1": "This password is entirely numeric."},
        ),
        id="password all digits",
    ),
    pytest.param(
        BadSignup(
            typed={"password1": "password123", "password2": "password123"},
            errors={"password1": "This password is too common."},
        ),
        id="common password",
    ),
    pytest.param(
        BadSignup(
            typed={
                "username": "bartholomew",
                "password1": "bartholomew1!",
                "password2": "bartholomew1!",
            },
            errors={"password1": "The password is too similar to the username."},
        ),
        id="password like the username",
    ),
    pytest.param(
        BadSignup(
            typed={"password2": "a lantern by the quai"},
            errors={"password2": "You must type the same password each time."},
        ),
        id="passwords differ",
    ),
    pytest.param(
        BadSignup(
            typed={"username": SCRIPT},
            errors={"username": "Use only letters, digits and the characters _ . -"},
        ),
        id="username with a script tag",
    ),
    pytest.param(
        BadSignup(
            typed={"username": "new comer"},
            errors={"username": "Usernames can't contain spaces or invisible characters."},
        ),
        id="username with a space",
    ),
    pytest.param(
        BadSignup(
            typed={"username": "new\u200bcomer"},
            errors={"username": "Usernames can't contain spaces or invisible characters."},
        ),
        id="username with a zero-width space",
    ),
    pytest.param(
        BadSignup(
            typed={"username": "newcomer\u202egpj.exe"},
            errors={"username": "Usernames can't contain spaces or invisible characters."},
        ),
        id="username with a right-to-left override",
    ),
    pytest.param(
        BadSignup(
            typed={"username": "\uff41\uff4c\uff49\uff43\uff45"},  # "alice", fullwidth
            errors={"username": "Use plain letters"},
        ),
        id="username in fullwidth letters",
    ),
    pytest.param(
        BadSignup(
            typed={"username": "p\u0430ypal"},  # the second letter is Cyrillic
            errors={"username": "Use letters from one alphabet"},
        ),
        id="username mixing Latin and Cyrillic",
    ),
    pytest.param(
        BadSignup(typed={"username": "Alice"}, errors={"username": "That username is taken."}),
        id="username taken in another case",
    ),
]


@pytest.mark.parametrize("case", SIGNUP_CASES)
def test_sign_up_with_bad_input_shows_the_error_at_the_field_and_creates_nothing(
    client: Client, mail: SmtpSink, alice: User, case: BadSignup
) -> None:
    typed = {**GOOD_SIGNUP, **case.typed}
    before = counts()

    response = client.post(SIGNUP, typed)

    assert response.status_code == 200
    page = page_of(response)
    assert_only_errors_at(page, case.errors)
    assert_kept(page, typed, "username", "email")
    assert_not_echoed(page, "password1")
    assert_not_echoed(page, "password2")
    assert SCRIPT not in page.html
    assert counts() == before
    assert mail.messages == []


def test_sign_up_refuses_a_password_of_only_spaces(client: Client, mail: SmtpSink) -> None:
    spaces = " " * 12
    before = counts()

    response = client.post(SIGNUP, {**GOOD_SIGNUP, "password1": spaces, "password2": spaces})

    assert response.status_code == 200
    assert_error_at_field(page_of(response), "password1", "Your password can't be only spaces.")
    assert counts() == before


def test_sign_up_with_good_input_creates_the_member_and_sends_the_verification_mail(
    client: Client, mail: SmtpSink
) -> None:
    """The control for the table above: the same form, untouched, does go through."""
    response = client.post(SIGNUP, GOOD_SIGNUP)

    assert response.status_code == 302
    assert User.objects.filter(username="newcomer").exists()
    mail.wait_for("newcomer@example.org")


@pytest.mark.parametrize(
    "typed_email",
    [
        pytest.param("alice@example.org", id="same spelling"),
        pytest.param("ALICE@Example.org", id="other case"),
    ],
)
def test_sign_up_with_a_taken_email_looks_like_any_sign_up_and_tells_only_the_owner(
    mail: SmtpSink, alice: User, typed_email: str
) -> None:
    newcomer, impostor = visitor(), visitor()
    fresh = newcomer.post(SIGNUP, GOOD_SIGNUP)
    before = counts()

    taken = impostor.post(SIGNUP, {**GOOD_SIGNUP, "username": "carol", "email": typed_email})

    assert (taken.status_code, taken["Location"]) == (fresh.status_code, fresh["Location"])
    # Each page repeats the address its visitor typed, and nothing else differs.
    fresh_page = page_of(newcomer.get(fresh["Location"]))
    taken_page = page_of(impostor.get(taken["Location"]))
    assert taken_page.main.text.replace(typed_email.lower(), "ADDRESS") == (
        fresh_page.main.text.replace(GOOD_SIGNUP["email"], "ADDRESS")
    )
    assert "Verify Your Email Address" in taken_page.main.text
    assert counts() == before
    assert not User.objects.filter(username="carol").exists()
    notice = mail.wait_for("alice@example.org")
    assert "Account Already Exists" in notice["Subject"]


# --- Password reset --------------------------------------------------------------------------


def test_password_reset_for_an_unknown_address_looks_the_same_as_for_a_known_one(
    mail: SmtpSink, alice: User
) -> None:
    owner, stranger = visitor(), visitor()

    known = owner.post(PASSWORD_RESET, {"email": "alice@example.org"})
    unknown = stranger.post(PASSWORD_RESET, {"email": "nobody@example.org"})

    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    known_page = page_of(owner.get(known["Location"]))
    unknown_page = page_of(stranger.get(unknown["Location"]))
    assert unknown_page.main.text == known_page.main.text
    assert "nobody@example.org" not in unknown_page.html
    mail.wait_for("alice@example.org")


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        pytest.param("", "This field is required.", id="empty"),
        pytest.param("alice@", "Enter a valid email address.", id="no domain"),
        pytest.param(SCRIPT, "Enter a valid email address.", id="script tag"),
    ],
)
def test_password_reset_with_a_bad_address_shows_the_error_at_the_field(
    client: Client, mail: SmtpSink, alice: User, typed: str, message: str
) -> None:
    response = client.post(PASSWORD_RESET, {"email": typed})

    assert response.status_code == 200
    page = page_of(response)
    assert_error_at_field(page, "email", message)
    assert_kept(page, {"email": typed}, "email")
    assert SCRIPT not in page.html
    assert mail.messages == []


# --- Sign-in ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "login",
    [
        pytest.param("alice", id="username"),
        pytest.param("alice@example.org", id="email"),
    ],
)
def test_sign_in_with_a_wrong_password_says_so_above_the_form_and_keeps_the_login(
    client: Client, alice: User, login: str
) -> None:
    response = client.post(LOGIN, {"login": login, "password": "not my password"})

    assert response.status_code == 200
    page = page_of(response)
    assert "password you specified are not correct" in page.form_errors
    assert_kept(page, {"login": login}, "login")
    assert_not_echoed(page, "password")
    assert "_auth_user_id" not in client.session


def test_sign_in_as_an_unknown_member_reads_exactly_like_a_wrong_password(
    alice: User,
) -> None:
    wrong_password = visitor().post(LOGIN, {"login": "alice", "password": "not my password"})
    unknown = visitor().post(LOGIN, {"login": "nobody", "password": "not my password"})

    assert page_of(unknown).form_errors == page_of(wrong_password).form_errors


def test_sign_in_with_empty_fields_marks_both_fields(client: Client, alice: User) -> None:
    response = client.post(LOGIN, {"login": "", "password": ""})

    assert response.status_code == 200
    page = page_of(response)
    assert_error_at_field(page, "login", "This field is required.")
    assert_error_at_field(page, "password", "This field is required.")


@pytest.mark.parametrize("username", ["សុខា", "अनिल", "Łukasz", "Ἀλέξανδρος", "山田"])
def test_names_in_scripts_with_vowel_signs_and_accents_are_allowed(username: str) -> None:
    from sala.accounts.validators import validate_username

    validate_username(username)
