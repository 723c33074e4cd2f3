"""A member's session and row, remembered between requests: no query for either on a
member's page, yet a sign-out, a new password or a ban counts at the very next request."""

import re
import uuid
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks, Settings

from conftest import REDIS_TEST_URL, eventually
from sala.accounts import remembered
from sala.accounts.models import User
from sala.accounts.tests.factories import DEFAULT_PASSWORD, client_of, make_member
from sala.core import page_cache
from sala.core.page_cache import RedisGenerations
from sala.core.tests.generation_backends import use_generations
from sala.forums.tests.factories import make_topic

pytestmark = pytest.mark.django_db


def same_session(client: Client) -> Client:
    """Return a second browser holding `client`'s session cookie (a copied cookie)."""
    other = Client()
    other.cookies[settings.SESSION_COOKIE_NAME] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return other


def generation(name: str) -> tuple[int, ...] | None:
    """Return the generation other processes check their copies against."""
    return page_cache.get_generations().read((name,))


def who(client: Client) -> str | None:
    """Return the name in the member menu of the forum index, None for a guest."""
    response = client.get("/")
    assert response.status_code == 200
    found = re.search(r'<span class="menu__label">([^<]*)</span>', response.content.decode())
    return found.group(1) if found else None


# Changes to a member are heard after their transaction commits, as between requests.
@pytest.mark.django_db(transaction=True)
def test_a_members_pages_load_neither_their_session_nor_their_row_again() -> None:
    member = make_member(username="rosa", display_name="Rosa")
    client = client_of(member)
    assert who(client) == "Rosa"  # also records "last seen", which changes the row
    assert who(client) == "Rosa"

    with CaptureQueriesContext(connection) as queries:
        assert who(client) == "Rosa"

    run = " ".join(query["sql"] for query in queries)
    assert "django_session" not in run
    assert f'WHERE "accounts_user"."id" = {member.pk}' not in run


def test_signing_out_ends_the_session_for_a_copied_cookie_at_once(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    rosa = client_of(make_member(username="rosa", display_name="Rosa"))
    thief = same_session(rosa)
    assert who(thief) == "Rosa"
    key = rosa.cookies[settings.SESSION_COOKIE_NAME].value
    told_others = generation(remembered.session_generation(key))

    with django_capture_on_commit_callbacks(execute=True):
        assert rosa.post("/accounts/logout/").status_code == 302

    assert who(thief) is None
    assert generation(remembered.session_generation(key)) != told_others


def test_a_new_password_signs_the_member_out_everywhere_else(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    member = make_member(username="rosa", display_name="Rosa")
    here, elsewhere = client_of(member), client_of(member)
    assert (who(here), who(elsewhere)) == ("Rosa", "Rosa")
    told_others = generation(remembered.member_generation(member.pk))

    with django_capture_on_commit_callbacks(execute=True):
        response = here.post(
            "/accounts/password/change/",
            {
                "oldpassword": DEFAULT_PASSWORD,
                "password1": "a new long phrase",
                "password2": "a new long phrase",
            },
        )

    assert response.status_code == 302
    assert who(here) == "Rosa"
    assert who(elsewhere) is None
    assert generation(remembered.member_generation(member.pk)) != told_others


def test_a_member_made_inactive_is_a_guest_at_their_next_request(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    member = make_member(username="rosa", display_name="Rosa")
    client = client_of(member)
    assert who(client) == "Rosa"
    told_others = generation(remembered.member_generation(member.pk))

    member.is_active = False
    with django_capture_on_commit_callbacks(execute=True):
        member.save(update_fields=["is_active"])

    assert who(client) is None
    assert generation(remembered.member_generation(member.pk)) != told_others


# Changes to a member are heard after their transaction commits, as between requests.
@pytest.mark.django_db(transaction=True)
def test_a_new_display_name_shows_at_the_next_request() -> None:
    member = make_member(username="rosa", display_name="Rosa")
    client = client_of(member)
    assert who(client) == "Rosa"

    member.display_name = "Rosa F."
    member.save(update_fields=["display_name"])

    assert who(client) == "Rosa F."


# Changes to a member are heard after their transaction commits, as between requests.
@pytest.mark.django_db(transaction=True)
def test_last_seen_is_written_once_however_many_pages_are_read() -> None:
    client = client_of(make_member(username="rosa"))
    with CaptureQueriesContext(connection) as queries:
        for _ in range(4):
            who(client)
    updates = [
        query for query in queries if '"last_seen"' in query["sql"] and "UPDATE" in query["sql"]
    ]
    assert len(updates) == 1


def test_sessions_are_loaded_every_time_while_redis_is_away(settings: Settings) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1"  # nothing listens there
    rosa = client_of(make_member(username="rosa", display_name="Rosa"))
    thief = same_session(rosa)
    assert who(thief) == "Rosa"

    with CaptureQueriesContext(connection) as queries:
        assert who(thief) == "Rosa"
    assert any("django_session" in query["sql"] for query in queries)

    rosa.post("/accounts/logout/")
    assert who(thief) is None


@pytest.fixture
def another_process(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RedisGenerations]:
    """Make this process read generations from Redis (mirrored); return those of another
    process of the same site, which bumps without touching this one's memory."""
    prefix = f"test:{uuid.uuid4().hex}:page-generation:"
    here = RedisGenerations(redis.Redis.from_url(REDIS_TEST_URL), prefix=prefix)
    there = RedisGenerations(redis.Redis.from_url(REDIS_TEST_URL), prefix=prefix)
    use_generations(monkeypatch, here)
    here.read((page_cache.EVERY_PAGE,))
    eventually(lambda: here.mirroring)
    yield there
    for generations in (here, there):
        generations.close()
        generations.client.close()
    for key in redis_client.scan_iter(match=f"{prefix}*"):
        redis_client.delete(key)


def test_a_session_ended_by_another_process_is_refused_here_as_soon_as_it_hears(
    another_process: RedisGenerations,
) -> None:
    client = client_of(make_member(username="rosa", display_name="Rosa"))
    assert who(client) == "Rosa"
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    Session.objects.filter(session_key=key).delete()
    assert who(client) == "Rosa", "remembered: this process has not heard yet"

    another_process.bump([remembered.session_generation(key)])

    eventually(lambda: who(client) is None, within=2)


def test_a_member_banned_by_another_process_is_a_guest_here_as_soon_as_it_hears(
    another_process: RedisGenerations,
) -> None:
    member = make_member(username="rosa", display_name="Rosa")
    client = client_of(member)
    assert who(client) == "Rosa"  # also records "last seen", which changes the row
    assert who(client) == "Rosa"
    User.objects.filter(pk=member.pk).update(is_active=False)  # as another process would
    assert who(client) == "Rosa", "remembered: this process has not heard yet"

    another_process.bump([remembered.member_generation(member.pk)])

    eventually(lambda: who(client) is None, within=2)


def test_a_members_remembered_row_is_not_saved_back_over_their_post_count(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    member = make_member(username="rosa", display_name="Rosa")
    client = client_of(member)
    who(client), who(client)
    topic = make_topic(author=make_member(username="ivo"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"{topic.get_absolute_url()}reply/",
            {"text": "Counted once.", "submission_key": str(uuid.uuid4()), "action": "post"},
        )
    assert response.status_code == 302

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(  # allauth saves the whole member it was given
            "/accounts/password/change/",
            {
                "oldpassword": DEFAULT_PASSWORD,
                "password1": "a new long phrase",
                "password2": "a new long phrase",
            },
        )

    assert response.status_code == 302
    assert User.objects.get(pk=member.pk).post_count == 1
