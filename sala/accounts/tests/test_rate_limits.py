"""Password resets are rate-limited per address asked for, like failed sign-ins."""

import pytest
from django.test import Client

from sala.accounts.tests.factories import make_member

pytestmark = pytest.mark.django_db


def test_asking_too_often_to_reset_one_address_is_refused(client: Client, mail: object) -> None:
    make_member(username="alice", email="alice@example.org")
    answers = [
        client.post("/accounts/password/reset/", {"email": "alice@example.org"}).status_code
        for _ in range(7)
    ]
    assert answers[:5] == [302] * 5
    assert 429 in answers[5:]
