"""Topic pages members share: one render, each member's own parts filled in per request."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks

from sala.accounts.models import User
from sala.accounts.tests.factories import make_member
from sala.core import shared_pages
from sala.forums.models import Post, Topic
from sala.forums.tests.factories import make_moderator, make_replies, make_topic

pytestmark = pytest.mark.django_db

#: What a member's read of a topic page read before may cost once this process holds the
#: shared render: nothing, their session and row are remembered (sala/accounts/remembered.py).
SHARED_READ_BUDGET = 0


def signed_in(member: User, **headers: str) -> Client:
    client = Client(headers={"user-agent": f"{member.username}'s browser", **headers})
    client.force_login(member)
    return client


def read(client: Client, url: str) -> tuple[str, str]:
    """Return a page's HTML and whether it came from a shared render made before."""
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode(), response[shared_pages.HEADER]


def edit_links(html: str) -> list[str]:
    """Return the numbers of the posts with an Edit link on the page."""
    return re.findall(r'href="/t/[^"]+/post/(\d+)/edit/"', html)


@pytest.fixture
def topic() -> Topic:
    """A topic by Rosa with replies by Ivo (posts 2-3) and Rosa again (post 4)."""
    rosa = make_member(username="rosa", display_name="Rosa Ferreira")
    ivo = make_member(username="ivo", display_name="Ivo Dvorak")
    topic = make_topic(author=rosa, title="The ferry timetable")
    make_replies(topic, 2, author=ivo)
    make_replies(topic, 1, author=rosa)
    return Topic.objects.get(pk=topic.pk)


def test_members_share_one_render_but_each_sees_their_own_menu_and_edit_links(
    topic: Topic,
) -> None:
    rosa = User.objects.get(username="rosa")
    ivo = User.objects.get(username="ivo")
    url = topic.get_absolute_url()

    rosa_html, rosa_cache = read(signed_in(rosa), url)
    ivo_html, ivo_cache = read(signed_in(ivo), url)
    reader_html, _ = read(signed_in(make_member(username="reader")), url)

    assert (rosa_cache, ivo_cache) == ("miss", "hit")
    assert '<span class="menu__label">Rosa Ferreira</span>' in rosa_html
    assert '<span class="menu__label">Ivo Dvorak</span>' in ivo_html
    assert 'menu__label">Rosa' not in ivo_html
    assert edit_links(rosa_html) == ["1", "4"]
    assert edit_links(ivo_html) == ["2", "3"]
    assert edit_links(reader_html) == []
    for html in (rosa_html, ivo_html, reader_html):
        assert "@hole." not in html
        assert "Quote" in html and "Reply to this topic" in html


def test_a_moderator_gets_a_render_with_every_posts_links_and_recommend_buttons(
    topic: Topic,
) -> None:
    read(signed_in(User.objects.get(username="ivo")), topic.get_absolute_url())
    moderator = signed_in(make_moderator())
    html, cache = read(moderator, topic.get_absolute_url())
    assert cache == "miss"  # not the members' render
    assert edit_links(html) == ["1", "2", "3", "4"]
    assert html.count(">Recommend</button>") == 3  # replies only
    _, cache = read(signed_in(make_moderator("moderator2")), topic.get_absolute_url())
    assert cache == "hit"


def test_each_member_posts_from_the_shared_render_with_their_own_token_and_key(
    topic: Topic, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    keys = []
    for name in ("rosa", "ivo"):
        member = User.objects.get(username=name)
        client = signed_in(member)
        client.handler.enforce_csrf_checks = True
        html, _ = read(client, topic.get_absolute_url())
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        key = re.search(r'name="submission_key" value="([^"]+)"', html)
        assert token and key
        keys.append(key[1])
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                f"{topic.get_absolute_url()}reply/",
                {
                    "csrfmiddlewaretoken": token[1],
                    "submission_key": key[1],
                    "text": f"A reply from {name}, through the shared page.",
                    "action": "post",
                },
            )
        assert response.status_code == 302
    assert keys[0] != keys[1]
    texts = Post.objects.filter(topic=topic).values_list("text", flat=True)
    assert "A reply from ivo, through the shared page." in texts


def test_a_reply_shows_at_once_to_members_reading_from_the_shared_render(
    topic: Topic, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    ivo = signed_in(User.objects.get(username="ivo"))
    read(ivo, topic.get_absolute_url())
    with django_capture_on_commit_callbacks(execute=True):
        make_replies(topic, 1, author=make_member(username="late"))
    html, cache = read(ivo, topic.get_absolute_url())
    assert cache == "miss"
    assert 'id="post-5"' in html


def test_each_member_sees_their_own_messages_and_themselves_browsing(topic: Topic) -> None:
    rosa = signed_in(User.objects.get(username="rosa"))
    read(rosa, topic.get_absolute_url())
    ivo = signed_in(User.objects.get(username="ivo"))
    response = ivo.post(f"{topic.get_absolute_url()}post/3/delete/", {"confirm": "1"})
    assert response.status_code == 302

    html, cache = read(ivo, topic.get_absolute_url())
    assert cache == "hit"  # this test's writes do not commit
    assert "Your post was deleted." in html
    assert re.search(r'class="browsing__list">.*Ivo Dvorak', html, flags=re.DOTALL)
    rosa_html, _ = read(rosa, topic.get_absolute_url())
    assert "Your post was deleted." not in rosa_html
    assert "Your post was deleted." not in read(ivo, topic.get_absolute_url())[0]


def test_times_are_in_each_members_time_zone(topic: Topic) -> None:
    rosa = User.objects.get(username="rosa")
    rosa.time_zone = "Pacific/Auckland"
    rosa.save()
    ivo = User.objects.get(username="ivo")
    ivo.time_zone = "America/Los_Angeles"
    ivo.save()
    zone = re.compile(r'<time datetime="[^"]+([+-]\d{4})"')
    rosa_html, _ = read(signed_in(rosa), topic.get_absolute_url())
    ivo_html, ivo_cache = read(signed_in(ivo), topic.get_absolute_url())
    assert ivo_cache == "miss"
    assert set(zone.findall(rosa_html)) <= {"+1200", "+1300"}
    assert set(zone.findall(ivo_html)) <= {"-0800", "-0700"}


def test_a_post_cannot_pose_as_a_marker(topic: Topic) -> None:
    forged = "@hole.0123456789abcdef01234567.csrf.@ and @hole.x.personal._member_menu.html@"
    make_replies(topic, 1, author=User.objects.get(username="ivo"))
    Post.objects.filter(topic=topic, number=5).update(html=f"<p>{forged}</p>")
    html, _ = read(signed_in(User.objects.get(username="rosa")), topic.get_absolute_url())
    assert f"<p>{forged}</p>" in html


# Changes to a member are heard after their transaction commits, as between requests.
@pytest.mark.django_db(transaction=True)
def test_a_members_read_from_the_shared_render_keeps_to_its_query_budget(topic: Topic) -> None:
    read(signed_in(User.objects.get(username="rosa")), topic.get_absolute_url())
    ivo = signed_in(User.objects.get(username="ivo"))
    read(ivo, topic.get_absolute_url())  # records Ivo's reading point and "last seen"
    read(ivo, topic.get_absolute_url())  # loads his changed row again
    with CaptureQueriesContext(connection) as queries:
        _, cache = read(ivo, topic.get_absolute_url())
    assert cache == "hit"
    assert len(queries) <= SHARED_READ_BUDGET, [q["sql"][:200] for q in queries]


def test_the_member_menu_shows_a_new_name_at_once_and_signs_out_with_the_members_token(
    topic: Topic, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    rosa = User.objects.get(username="rosa")
    client = signed_in(rosa)
    client.handler.enforce_csrf_checks = True
    read(client, topic.get_absolute_url())
    rosa.display_name = "Rosa F."
    with django_capture_on_commit_callbacks(execute=True):
        rosa.save(update_fields=["display_name"])

    html, _ = read(client, topic.get_absolute_url())

    assert '<span class="menu__label">Rosa F.</span>' in html
    sign_out = re.search(
        r'action="/accounts/logout/">\s*<input type="hidden" name="csrfmiddlewaretoken" '
        r'value="([^"]+)"',
        html,
    )
    assert sign_out
    response = client.post("/accounts/logout/", {"csrfmiddlewaretoken": sign_out[1]})
    assert response.status_code == 302
    assert b"menu__label" not in client.get(topic.get_absolute_url()).content
