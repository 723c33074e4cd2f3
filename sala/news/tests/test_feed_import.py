"""News in, end to end on a real local web server: feeds polled into topics.

Every fetch goes through the guarded fetcher to a LocalServer on 127.0.0.1 (allowed by
SALA_FETCH_ALLOW_LOOPBACK in these tests only) serving the fixture feeds and pages, with
their publisher's address rewritten to the local server's.
"""

import re
import zlib
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings

from sala.accounts.tests.factories import make_member
from sala.forums.models import Topic
from sala.forums.tests.factories import make_topic
from sala.news import services, tasks
from sala.news.models import FeedSource, ImportedItem, LinkDraft
from sala.news.tests.http_server import Reply, Request
from sala.news.tests.newsroom import (
    ARTICLE_PATH,
    FIXTURES,
    IMAGES,
    PUBLISHER,
    Newsroom,
    first_post,
    newsroom_fixture,  # noqa: F401
    topic_titled,
)
from sala.text.tests.html_checks import assert_harmless

pytestmark = pytest.mark.django_db


# --- Feeds --------------------------------------------------------------------------------


def test_a_polled_feed_turns_each_item_into_a_topic_by_the_news_account(
    newsroom: Newsroom,
) -> None:
    source = newsroom.add_source(newsroom.feed("rss2.xml"))

    report = services.poll_feed(source)

    topics = Topic.objects.filter(forum=newsroom.forum)
    assert report.imported == topics.count() >= 3
    assert {topic.author.username for topic in topics} == {"news"}
    source.refresh_from_db()
    assert (source.imported_count, source.last_error, source.title) == (
        report.imported,
        "",
        "The Valdera Courier \u2013 City",
    )


def test_an_imported_item_reads_like_the_seed_page(newsroom: Newsroom, client: Client) -> None:
    services.poll_feed(newsroom.add_source(newsroom.feed("rss2.xml")))
    topic = topic_titled("Council approves eastern tram line after twelve-hour session")

    # The source is the article's own address, campaign parameters dropped.
    assert topic.source_url == newsroom.local(
        "/city/2025/03/04/eastern-tram-line-approved/?ref=city"
    )
    html = first_post(topic).html
    assert re.search(r"<figure>\s*<img[^>]+src=\"/media/uploads/[^\"]+\.webp\"", html)
    assert "<figcaption>A tram at the Marsh Road depot, where the new line will start." in html
    assert "<strong>eastern tram line</strong>" in html
    assert "pixel.example.net" not in html and "<script" not in html
    # The photo was copied: readers' browsers never ask the publisher for it.
    assert any(request.path == IMAGES[0] for request in newsroom.server.requests)

    page = client.get(topic.get_absolute_url()).content.decode()
    assert "<h1" in page and topic.title in page
    assert "<figcaption>" in page and "Posted" in page
    assert f'href="{topic.source_url}"' in page and "read more" in page
    assert "You need to be a member in order to leave a comment" in page


def test_a_quotation_in_an_item_stays_a_quotation(newsroom: Newsroom) -> None:
    services.poll_feed(newsroom.add_source(newsroom.feed("rss2.xml")))

    html = first_post(topic_titled("Dockworkers end strike as port agrees to new shift rota")).html

    assert "<blockquote>" in html and "Marta Quell" in html
    assert "<iframe" not in html


def test_an_item_is_imported_once_however_often_it_reappears(newsroom: Newsroom) -> None:
    source = newsroom.add_source(newsroom.feed("rss2.xml"))
    first = services.poll_feed(source)
    # The same feed at a second address is a second source carrying the same articles.
    twin = newsroom.add_source(newsroom.serve("/feeds/copy.xml", "rss2.xml", "text/xml"))

    again = services.poll_feed(source)
    from_twin = services.poll_feed(twin)

    assert (again.imported, again.already_here) == (0, first.imported)
    assert (from_twin.imported, from_twin.already_here) == (0, first.imported)
    assert Topic.objects.count() == ImportedItem.objects.count() == first.imported


def test_an_item_whose_guid_changed_is_recognised_by_its_address(newsroom: Newsroom) -> None:
    source = newsroom.add_source(newsroom.feed("rss2.xml"))
    imported = services.poll_feed(source).imported
    changed = (FIXTURES / "rss2.xml").read_text().replace("?p=48213", "?p=99999")
    newsroom.server.route(
        "/feeds/rss2.xml",
        Reply(
            headers={"Content-Type": "application/rss+xml"},
            body=changed.replace(PUBLISHER, newsroom.local("").rstrip("/")),
        ),
    )

    assert services.poll_feed(source).imported == 0
    assert Topic.objects.count() == imported


def test_an_article_a_member_already_shared_is_not_imported_again(newsroom: Newsroom) -> None:
    make_topic(source_url=newsroom.local("/city/2025/03/03/dockworkers-end-strike/"))

    report = services.poll_feed(newsroom.add_source(newsroom.feed("rss2.xml")))

    assert report.already_here == 1
    assert Topic.objects.filter(title__startswith="Dockworkers").count() == 0


def test_a_feed_that_did_not_change_is_not_downloaded_again(newsroom: Newsroom) -> None:
    body = (FIXTURES / "atom.xml").read_bytes()

    def conditional(request: Request) -> Reply:
        if request.headers.get("if-none-match") == '"v1"':
            return Reply(status=304)
        return Reply(headers={"Content-Type": "application/atom+xml", "ETag": '"v1"'}, body=body)

    source = newsroom.add_source(newsroom.server.route("/atom", conditional))
    first = services.poll_feed(source)
    source.refresh_from_db()

    second = services.poll_feed(source)

    assert first.imported >= 1 and source.etag == '"v1"'
    assert second.not_modified and second.imported == 0


def test_a_broken_item_is_skipped_and_reported_and_the_good_ones_import(
    newsroom: Newsroom,
) -> None:
    source = newsroom.add_source(newsroom.feed("broken-item.xml"))

    report = services.poll_feed(source)

    source.refresh_from_db()
    assert report.imported >= 1
    assert "javascript:" in source.last_error and "was skipped" in source.last_error
    assert not Topic.objects.filter(source_url__startswith="javascript").exists()


@pytest.mark.parametrize(
    ("fixture", "says"),
    [
        ("malformed.xml", "feed"),
        ("not-a-feed.html", "HTML page"),
        ("billion-laughs.xml", "DTD"),
    ],
)
def test_a_feed_that_cannot_be_read_imports_nothing_and_says_why(
    newsroom: Newsroom, fixture: str, says: str
) -> None:
    source = newsroom.add_source(newsroom.serve("/bad", fixture, "application/xml"))

    report = services.poll_feed(source)

    source.refresh_from_db()
    assert report.error and says in source.last_error
    assert source.last_error_at is not None
    assert not Topic.objects.exists()


def test_script_in_feed_titles_and_bodies_arrives_as_harmless_text(newsroom: Newsroom) -> None:
    services.poll_feed(newsroom.add_source(newsroom.feed("script-titles.xml")))

    topics = list(Topic.objects.all())
    assert topics
    for topic in topics:
        assert "<" not in topic.title
        assert_harmless(first_post(topic).html)


def test_a_feed_at_a_loopback_address_is_refused_by_default(
    newsroom: Newsroom, settings: Settings
) -> None:
    settings.SALA_FETCH_ALLOW_LOOPBACK = False
    source = newsroom.add_source(newsroom.feed("rss2.xml"))

    report = services.poll_feed(source)

    source.refresh_from_db()
    assert report.error == source.last_error != ""
    assert newsroom.server.requests == []
    assert not Topic.objects.exists()


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.7/feed", "ftp://a.example/f"]
)
def test_feeds_at_private_addresses_or_other_schemes_import_nothing(
    newsroom: Newsroom, url: str
) -> None:
    if url.startswith("ftp"):
        with pytest.raises(Exception, match="http"):
            newsroom.add_source(url)
        return
    source = newsroom.add_source(url)

    report = services.poll_feed(source)

    assert report.error
    assert not Topic.objects.exists()


def gzip_bomb() -> bytes:
    """Return under 100 KB of gzip that inflates to 64 MB of zeros."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    megabyte = bytes(1024 * 1024)
    return b"".join(compressor.compress(megabyte) for _ in range(64)) + compressor.flush()


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        (Reply.redirect("/trap"), "redirect"),
        (
            Reply(
                headers={"Content-Type": "application/rss+xml", "Content-Length": str(2 * 1024**3)},
                body=lambda: iter([b"<rss>"]),
            ),
            "MB",
        ),
        (
            Reply(
                headers={"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"},
                body=gzip_bomb(),
            ),
            "MB",
        ),
    ],
    ids=["redirect-loop", "2-GB", "gzip-bomb"],
)
def test_a_hostile_feed_server_is_refused_with_its_reason_on_the_source(
    newsroom: Newsroom, reply: Reply, says: str
) -> None:
    source = newsroom.add_source(newsroom.server.route("/trap", reply))

    report = services.poll_feed(source)

    source.refresh_from_db()
    assert report.error == source.last_error
    assert says in source.last_error
    assert not Topic.objects.exists()


def test_a_full_article_source_imports_the_page_not_the_summary(newsroom: Newsroom) -> None:
    article = newsroom.serve(ARTICLE_PATH, "article.html", "text/html; charset=utf-8")
    feed = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Politics</title>
      <item><title>Independents cross over</title><link>{article}</link>
      <guid>p-9921</guid><description>Short summary only.</description></item>
    </channel></rss>"""
    url = newsroom.server.route(
        "/politics.xml", Reply(headers={"Content-Type": "text/xml"}, body=feed)
    )
    source = newsroom.add_source(url, full_article=True)

    assert services.poll_feed(source).imported == 1

    html = first_post(topic_titled("Independents cross over")).html
    assert "Short summary only." not in html
    assert "<figcaption>Councillors at the opening of the assembly" in html
    assert "<blockquote>" in html
    assert html.count("<p>") >= 3


def test_a_new_feeds_backlog_does_not_flood_its_forum(newsroom: Newsroom) -> None:
    items = "".join(
        f"<item><title>Story number {n}</title><link>{newsroom.local(f'/s/{n}')}</link>"
        f"<guid>s-{n}</guid><description>Text of story {n}.</description></item>"
        for n in range(25, 0, -1)  # newest first, as feeds list them
    )
    feed = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>'
    )
    source = newsroom.add_source(
        newsroom.server.route("/long.xml", Reply(headers={"Content-Type": "text/xml"}, body=feed))
    )

    first = services.poll_feed(source)
    source.refresh_from_db()
    second = services.poll_feed(source)

    assert first.imported == services.FIRST_POLL_ITEMS
    newest = {f"Story number {n}" for n in range(25, 25 - services.FIRST_POLL_ITEMS, -1)}
    assert set(Topic.objects.values_list("title", flat=True)) == newest
    assert second.imported == 0  # the older ones were noted as seen, not left to trickle in


def test_a_full_article_item_is_not_fetched_again_on_the_next_poll(newsroom: Newsroom) -> None:
    article = newsroom.serve(ARTICLE_PATH, "article.html", "text/html")
    feed = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>P</title>
      <item><title>Crossing</title><link>{article}?from=feed</link></item></channel></rss>"""
    source = newsroom.add_source(
        newsroom.server.route("/p.xml", Reply(headers={"Content-Type": "text/xml"}, body=feed)),
        full_article=True,
    )

    services.poll_feed(source)
    source.refresh_from_db()
    services.poll_feed(source)

    pages = [
        request for request in newsroom.server.requests if request.path.startswith(ARTICLE_PATH)
    ]
    assert len(pages) == 1
    assert Topic.objects.count() == 1


def test_the_scheduled_task_claims_each_due_feed_once(newsroom: Newsroom) -> None:
    due = newsroom.add_source(newsroom.feed("rss2.xml"))
    newsroom.add_source(newsroom.feed("atom.xml"), interval_minutes=60)
    FeedSource.objects.exclude(pk=due.pk).update(next_poll_at="2999-01-01T00:00:00Z")

    assert services.claim_due_sources() == [due.pk]
    assert services.claim_due_sources() == []  # its next poll moved on


def test_the_poll_task_imports_and_reports(newsroom: Newsroom) -> None:
    source = newsroom.add_source(newsroom.feed("rss2.xml"))

    result = tasks.poll_feed.call(source.pk)

    assert result["imported"] == Topic.objects.count() >= 3
    assert result["error"] == ""


def test_sala_feeds_add_then_poll_shows_progress_and_what_came_in(
    newsroom: Newsroom, capsys: pytest.CaptureFixture[str]
) -> None:
    url = newsroom.feed("rss2.xml")
    newsroom.forum.slug = "world"
    newsroom.forum.save()

    call_command("feeds", "add", url, "--forum", "world", "--every", "15")
    call_command("feeds", "poll")

    output = capsys.readouterr().out
    assert "Added feed" in output and "every 15 min" in output
    assert "[########################] 1/1" in output
    assert f"{Topic.objects.count()} new" in output
    assert FeedSource.objects.get().interval_minutes == 15


def test_sala_feeds_add_names_what_is_wrong(newsroom: Newsroom) -> None:
    with pytest.raises(CommandError, match="No forum 'nope'; forums:"):
        call_command("feeds", "add", "https://a.example/feed", "--forum", "nope")
    with pytest.raises(CommandError, match="starting with http"):
        call_command("feeds", "add", "javascript:alert(1)", "--forum", str(newsroom.forum.pk))
    assert not FeedSource.objects.exists()


# --- Administration -----------------------------------------------------------------------


def test_an_admin_polls_feeds_now_from_the_feed_list(
    newsroom: Newsroom, admin_client: Client
) -> None:
    source = newsroom.add_source(newsroom.feed("rss2.xml"))

    response = admin_client.post(
        "/admin/news/feedsource/",
        {"action": "poll_now", "_selected_action": [source.pk]},
        follow=True,
    )

    assert "Polling 1 feed in the background" in response.content.decode()
    assert Topic.objects.count() >= 3  # tests run tasks as they are enqueued
    listing = admin_client.get("/admin/news/feedsource/").content.decode()
    assert "The Valdera Courier" in listing


def test_old_link_drafts_are_pruned(newsroom: Newsroom) -> None:
    member = make_member(username="pruned")
    old = LinkDraft.objects.create(member=member, forum=newsroom.forum, url="https://a.example/")
    LinkDraft.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    recent = LinkDraft.objects.create(member=member, forum=newsroom.forum, url="https://b.example/")

    assert tasks.prune_link_drafts.call() == 1
    assert list(LinkDraft.objects.all()) == [recent]
