"""Mail printed to the console in development (EMAIL_URL=console:) can be acted on:
its links are whole lines, as a member's mail program would show them."""

import io
import re
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.test import Client

from sala.accounts.models import User
from sala.core import environment

pytestmark = pytest.mark.django_db

#: A verification link, whole: it ends the line of the mail's text that carries it.
VERIFICATION_LINK = re.compile(r"(https?://\S+/accounts/confirm-email/\S+/)$", re.MULTILINE)


def test_a_verification_link_printed_to_the_console_is_whole_and_verifies_the_address(
    client: Client, settings: Any
) -> None:
    console = io.StringIO()
    settings.MAILERS = {
        "default": {**environment.mailer("console:"), "OPTIONS": {"stream": console}}
    }

    client.post(
        "/accounts/signup/",
        {
            "email": "newcomer@example.org",
            "username": "newcomer",
            "password1": "a lantern by the quay",
            "password2": "a lantern by the quay",
        },
    )

    printed = console.getvalue()
    assert "To: newcomer@example.org" in printed
    assert "Subject: [Sala] Please Confirm Your Email Address" in printed
    links = VERIFICATION_LINK.findall(printed)
    assert len(links) == 1, printed
    link = links[0]
    # Longer than a quoted-printable line, which Django's console backend breaks with
    # a "=" at the end of each piece (and writes "=" itself as "=3D").
    assert len(link) > 76
    assert "=3D" not in printed
    assert not re.search(r"=$", printed, re.MULTILINE)

    path = link.split("://", 1)[1].split("/", 1)[1]
    assert client.get(f"/{path}").status_code == 200
    client.post(f"/{path}")
    member = User.objects.get(username="newcomer")
    assert EmailAddress.objects.get(user=member, email="newcomer@example.org").verified
