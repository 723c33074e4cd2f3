"""Members for tests, made through the same service the admin and sample data use."""

from django.test import Client

from sala.accounts.models import User
from sala.accounts.services import create_member

#: The password every test member gets unless a test picks another.
DEFAULT_PASSWORD = "correct horse battery staple"


def make_member(
    *,
    username: str = "alice",
    email: str | None = None,
    password: str | None = DEFAULT_PASSWORD,
    display_name: str = "",
) -> User:
    """Return a new member with a verified email address (``<username>@example.org``)."""
    return create_member(
        username=username,
        email=email if email is not None else f"{username.lower()}@example.org",
        password=password,
        display_name=display_name,
    )


def client_of(member: User | None) -> Client:
    """Return a test client signed in as `member` (a guest's, for None)."""
    client = Client()
    if member is not None:
        client.force_login(member)
    return client
