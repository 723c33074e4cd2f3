"""News in, end to end on a real local web server: links members share become drafts.

Every fetch goes through the guarded fetcher to a LocalServer on 127.0.0.1 (allowed by
SALA_FETCH_ALLOW_LOOPBACK in these tests only) serving the fixture pages.
"""

import re

import pytest
from django.test import Client
from django.utils.html import escape
from pytest_django.fixtures import Settings

from sala.accounts.models import User
from sala.accounts.tests.factories import make_member
from sala.core.tests.html_pages import Element, Page
from sala.forums.models import Forum, Topic
from sala.forums.tests.factories import make_topic
from sala.news import services, tasks
from sala.news.models import LinkDraft
from sala.news.tests.newsroom import (
    ARTICLE_PATH,
    Newsroom,
    first_post,
    newsroom_fixture,  # noqa: F401
)

pytestmark = pytest.mark.django_db


# --- Shared links -------------------------------------------------------------------------


@pytest.fixture
def member_client(client: Client) -> Client:
    client.force_login(make_member(username="oskar"))
    return client


def topic_form_element(page: Page) -> Element:
    """Return the form that holds the page's topic title field."""
    (form,) = [e for e in page.control("title").ancestors() if e.tag == "form"]
    return form


def topic_form(page: Page) -> tuple[str, dict[str, str]]:
    """Return where the page's topic form posts, and the fields it sends as it stands."""
    form = topic_form_element(page)
    inside = [e for e in page.elements if form in e.ancestors()]
    fields = {}
    for control in inside:
        name = control.attrs.get("name")
        if not name or control.attrs.get("type") == "file":
            continue
        if control.tag == "select":
            (fields[name],) = [
                e.attrs["value"]
                for e in inside
                if e.tag == "option" and "selected" in e.attrs and control in e.ancestors()
            ]
        elif control.tag == "textarea":
            fields[name] = control.raw_text.removeprefix("\n")  # as browsers read it
        elif control.tag == "input":
            fields[name] = control.attrs.get("value", "")
    return form.attrs["action"], fields


def topic_form_shape(page: Page) -> list[tuple[str, list[tuple[str, str]], str]]:
    """Return the topic form's controls, buttons, labels and help, leaving out what they hold."""
    form = topic_form_element(page)
    shown = {"input", "select", "textarea", "button", "label"}
    return [
        (
            e.tag,
            sorted((k, v) for k, v in e.attrs.items() if e.tag == "button" or k != "value"),
            e.text if e.tag in {"button", "label"} or "field__help" in e.classes else "",
        )
        for e in page.elements
        if form in e.ancestors() and (e.tag in shown or "field__help" in e.classes)
    ]


def share(client: Client, url: str, forum: Forum) -> LinkDraft:
    response = client.post("/new/link/", {"url": url, "forum": forum.pk})
    assert response.status_code == 302, response.content.decode()
    draft = LinkDraft.objects.get()
    assert response["Location"] == f"/new/link/{draft.pk}/"
    return draft


def test_a_shared_link_becomes_a_draft_the_member_edits_then_posts(
    newsroom: Newsroom, member_client: Client
) -> None:
    article = newsroom.serve(ARTICLE_PATH, "article.html", "text/html")
    # Tests run tasks as they are enqueued: the draft is read by the time the POST returns.
    draft = share(member_client, article + "?utm_source=chat", newsroom.forum)

    page = member_client.get(f"/new/link/{draft.pk}/").content.decode()
    draft.refresh_from_db()
    assert draft.status == LinkDraft.Status.READY
    assert draft.source_url == article
    assert f'value="{article}"' in page  # the source, as "read more"
    assert 'name="title"' in page and draft.title in page
    assert draft.title.startswith("Independents")
    assert re.search(r"!\[[^\]]*\]\(/media/uploads/[^ ]+\.webp &quot;Councillors", page)

    # Posted as the browser would post it: the draft page's form, as it stands, edited.
    action, fields = topic_form(Page(page))
    assert fields["title"] == draft.title and fields["text"] == draft.text
    fields["text"] = "My take first.\n\n" + fields["text"]
    posted = member_client.post(action, {**fields, "action": "post"})
    topic = Topic.objects.get()
    assert posted["Location"] == topic.get_absolute_url()
    assert topic.source_url == article and topic.author.username == "oskar"
    assert "<figcaption>Councillors at the opening" in first_post(topic).html


def test_a_draft_offers_the_fields_and_buttons_of_the_start_a_topic_page(
    newsroom: Newsroom, member_client: Client
) -> None:
    draft = share(
        member_client, newsroom.serve(ARTICLE_PATH, "article.html", "text/html"), newsroom.forum
    )

    drafted = Page(member_client.get(f"/new/link/{draft.pk}/").content.decode())
    blank = Page(member_client.get("/new/topic/").content.decode())

    # The start-a-topic page posts to itself; the draft posts there.
    draft_form = dict(topic_form_element(drafted).attrs)
    assert draft_form.pop("action") == "/new/topic/"
    assert draft_form == topic_form_element(blank).attrs
    assert topic_form_shape(drafted) == topic_form_shape(blank)


def test_a_page_without_an_article_gives_a_clear_reason_and_the_plain_form(
    newsroom: Newsroom, member_client: Client
) -> None:
    wall = newsroom.serve("/members-only/", "login-wall.html", "text/html")
    draft = share(member_client, wall, newsroom.forum)

    page = member_client.get(f"/new/link/{draft.pk}/").content.decode()

    assert "could not be read" in page
    draft.refresh_from_db()
    assert draft.error and escape(draft.error) in page
    assert f'value="{wall}"' in page  # the plain form keeps the link as the source
    assert "Traceback" not in page


def test_a_link_the_guard_refuses_fails_with_its_reason(
    newsroom: Newsroom, member_client: Client, settings: Settings
) -> None:
    settings.SALA_FETCH_ALLOW_LOOPBACK = False
    draft = share(member_client, newsroom.serve("/a/", "article.html", "text/html"), newsroom.forum)

    draft.refresh_from_db()
    assert draft.status == LinkDraft.Status.FAILED
    assert "not on the public internet" in draft.error or "address" in draft.error
    assert newsroom.server.requests == []


def test_a_draft_waiting_to_be_read_shows_a_page_that_reloads_itself(
    newsroom: Newsroom, member_client: Client
) -> None:
    member = User.objects.get(username="oskar")
    draft = LinkDraft.objects.create(member=member, forum=newsroom.forum, url="https://a.example/")

    waiting = member_client.get(f"/new/link/{draft.pk}/").content.decode()

    assert 'http-equiv="refresh"' in waiting and "Fetching the article" in waiting
    assert "a.example" in waiting
    assert tasks.fill_link_draft.call(str(draft.pk)) == "failed"  # no such site here
    assert "could not be read" in member_client.get(f"/new/link/{draft.pk}/").content.decode()


def test_a_member_cannot_keep_the_fetcher_busy_with_links(
    newsroom: Newsroom, member_client: Client
) -> None:
    member = User.objects.get(username="oskar")
    for number in range(services.PENDING_DRAFTS_MAX):
        LinkDraft.objects.create(
            member=member, forum=newsroom.forum, url=f"https://a.example/{number}"
        )

    response = member_client.post(
        "/new/link/", {"url": "https://a.example/next", "forum": newsroom.forum.pk}
    )

    assert "links being read already" in response.content.decode()
    assert LinkDraft.objects.count() == services.PENDING_DRAFTS_MAX


def test_sharing_an_article_already_discussed_points_to_its_topic(
    newsroom: Newsroom, member_client: Client
) -> None:
    topic = make_topic(title="Rates rise 5% in June", source_url="https://news.example/a/1")

    response = member_client.post(
        "/new/link/", {"url": "https://news.example/a/1?utm_medium=x", "forum": newsroom.forum.pk}
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "already being discussed: “Rates rise 5% in June”" in page
    assert f'href="{topic.get_absolute_url()}"' in page
    assert not LinkDraft.objects.exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "Paste the address of the article"),
        ("javascript:alert(1)", "starting with http:// or https://"),
        ("ftp://files.example/a", "starting with http:// or https://"),
        ("not a url", "starting with http:// or https://"),
        ("https://" + "a" * 2100 + ".example/", "at most 2000 characters"),
        ("https://news.example/" + "ж" * 900, "too long to keep"),
    ],
)
def test_a_bad_link_is_refused_at_the_field_keeping_what_was_typed(
    newsroom: Newsroom, member_client: Client, url: str, message: str
) -> None:
    response = member_client.post("/new/link/", {"url": url, "forum": newsroom.forum.pk})

    page = response.content.decode()
    assert response.status_code == 200
    assert message in page
    if url and len(url) < 100:
        assert f'value="{url}"' in page.replace("&amp;", "&")
    assert not LinkDraft.objects.exists()


def test_a_draft_is_only_shown_to_the_member_who_shared_it(
    newsroom: Newsroom, member_client: Client, client: Client
) -> None:
    draft = share(member_client, "https://news.example/b/2", newsroom.forum)
    other = Client()
    other.force_login(make_member(username="someone_else"))

    assert other.get(f"/new/link/{draft.pk}/").status_code == 404
    assert Client().get(f"/new/link/{draft.pk}/").status_code == 302  # to sign in


def test_guests_are_sent_to_sign_in_to_share_a_link(client: Client) -> None:
    response = client.get("/new/link/")

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
