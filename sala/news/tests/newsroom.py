"""The publisher's site for tests: fixture feeds, an article page and photos, served by a
real LocalServer on 127.0.0.1 with the publisher's address rewritten to the server's."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings

from sala.core.tests.images import blank_png
from sala.forums.models import Forum, Post, Topic
from sala.forums.tests.factories import make_forum
from sala.news import services
from sala.news.models import FeedSource
from sala.news.tests.http_server import LocalServer, Reply

FIXTURES = Path(__file__).parent / "fixtures"
PUBLISHER = "https://courier.example.org"
IMAGES = ["/wp-content/uploads/2025/03/tram-depot.jpg", "/media/2025/06/assembly-hall-1200.jpg"]
ARTICLE_PATH = "/politics/2025/06/12/independents-cross-over/"


@dataclass
class Newsroom:
    """The publisher's site, served locally: its feeds, its article page, its photos."""

    server: LocalServer
    forum: Forum

    def serve(self, path: str, fixture: str, content_type: str) -> str:
        text = (FIXTURES / fixture).read_text().replace(PUBLISHER, self.server.url("").rstrip("/"))
        return self.server.route(path, Reply(headers={"Content-Type": content_type}, body=text))

    def feed(self, fixture: str) -> str:
        return self.serve(f"/feeds/{fixture}", fixture, "application/rss+xml")

    def add_source(self, url: str, **options: object) -> FeedSource:
        return services.add_feed_source(url=url, forum=self.forum, **options)  # type: ignore[arg-type]

    def local(self, path: str) -> str:
        return self.server.url(path)


def serve_photos(server: LocalServer) -> None:
    """Answer the fixtures' photo addresses with a real (small) image."""
    for path in IMAGES:
        server.route(path, Reply(headers={"Content-Type": "image/png"}, body=blank_png(64, 48)))


@pytest.fixture(name="newsroom")
def newsroom_fixture(settings: Settings) -> Iterator[Newsroom]:
    """Yield the publisher's site on a LocalServer, fetchable over loopback, and a forum."""
    settings.SALA_FETCH_ALLOW_LOOPBACK = True
    with LocalServer() as server:
        serve_photos(server)
        yield Newsroom(server=server, forum=make_forum(name="World news"))


def first_post(topic: Topic) -> Post:
    return Post.objects.get(topic=topic, number=1)


def topic_titled(title: str) -> Topic:
    return Topic.objects.get(title=title)
