"""The public profile page: its query budget, the guest page cache, and its freshness."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sala.accounts import services as accounts_services
from sala.accounts.tests.factories import make_member
from sala.core import page_cache
from sala.forums import services
from sala.forums.tests.factories import make_forum, make_replies, make_topic
from sala.live.online import SITE
from sala.live.presence import get_presence

pytestmark = pytest.mark.django_db

#: A guest's profile: the member's id by name, then their row, both after the generation.
PROFILE_QUERIES = 2


def guest(name: str = "a guest") -> Client:
    return Client(headers={"user-agent": name})


def rendered_queries(url: str) -> int:
    """Return the queries the page costs when rendered for a guest (never from memory)."""
    page_cache.reset()
    with CaptureQueriesContext(connection) as queries:
        response = guest().get(url)
    assert response.status_code == 200
    return len(queries)


def test_a_profile_costs_the_same_queries_for_a_member_with_one_post_as_with_many() -> None:
    quiet = make_member(username="quiet")
    busy = make_member(username="busy")
    make_topic(author=quiet)
    topic = make_topic(author=busy)
    make_replies(topic, 30, author=busy)
    assert rendered_queries("/u/quiet/") == PROFILE_QUERIES
    assert rendered_queries("/u/busy/") == PROFILE_QUERIES


def test_a_guests_second_read_of_a_profile_comes_from_the_page_cache_without_a_query() -> None:
    make_member(username="nadia", display_name="Nadia Haddad")
    first = guest().get("/u/nadia/")
    assert first[page_cache.CACHE_HEADER] == "miss"
    with CaptureQueriesContext(connection) as queries:
        second = guest("another guest").get("/u/nadia/")
    assert second[page_cache.CACHE_HEADER] == "hit"
    assert second.content == first.content
    assert len(queries) == 0


def test_a_guest_answered_from_the_cache_is_still_counted_online() -> None:
    make_member(username="nadia")
    guest().get("/u/nadia/")
    assert guest("second guest").get("/u/nadia/")[page_cache.CACHE_HEADER] == "hit"
    assert get_presence().browsing(SITE).guest_count == 2


def test_a_member_is_never_answered_from_the_cache_and_sees_their_edit_link() -> None:
    nadia = make_member(username="nadia")
    guest().get("/u/nadia/")
    client = Client()
    client.force_login(nadia)
    response = client.get("/u/nadia/")
    assert page_cache.CACHE_HEADER not in response
    assert "Edit your profile" in response.content.decode()


def test_another_spelling_of_the_name_redirects_to_the_profile_and_unknown_names_404() -> None:
    make_member(username="Nadia")
    response = guest().get("/u/nADIA/")
    assert response.status_code == 301
    assert response["Location"] == "/u/Nadia/"
    assert guest().get("/u/nobody/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_guest_sees_a_members_new_posts_and_profile_at_once_while_others_stay_cached() -> None:
    nadia = make_member(username="nadia", display_name="Nadia Haddad")
    make_member(username="omar", display_name="Omar Farouk")
    topic = make_topic(forum=make_forum(name="News"))

    def read(path: str) -> tuple[str, str]:
        response = guest().get(path)
        return response.get(page_cache.CACHE_HEADER, ""), response.content.decode()

    def posts_shown(html: str) -> str:
        return html.split("Posts</dt><dd>")[1].split("<")[0]

    read("/u/nadia/")
    read("/u/omar/")
    assert read("/u/nadia/")[0] == "hit"

    services.reply(topic=topic, author=nadia, text="A first reply.")
    cache, html = read("/u/nadia/")
    assert (cache, posts_shown(html)) == ("miss", "1")
    assert read("/u/omar/")[0] == "hit"

    services.create_topic(forum=topic.forum, author=nadia, title="Tram vote", text="When?")
    cache, html = read("/u/nadia/")
    assert (cache, posts_shown(html)) == ("miss", "2")

    nadia.refresh_from_db()
    accounts_services.update_profile(member=nadia, display_name="Nadia H.", time_zone="UTC")
    cache, html = read("/u/nadia/")
    assert cache == "miss"
    assert "Nadia H." in html
    assert read("/u/omar/")[0] == "hit"
