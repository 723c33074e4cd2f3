"""The live stream endpoint's answers to what it refuses."""

import pytest
from django.test import Client

from conftest import in_thread, run_async
from sala.forums.models import Topic
from sala.forums.tests.factories import make_topic

pytestmark = pytest.mark.django_db


@pytest.mark.django_db(transaction=True)  # the stream reads from its own thread pool
def test_a_stream_reached_through_wsgi_tells_the_browser_not_to_retry(client: Client) -> None:
    topic = make_topic()
    assert in_thread(client.get, f"/live/t/{topic.pk}/").status_code == 204


@pytest.mark.django_db(transaction=True)  # the request runs on another thread's connection
def test_a_stream_for_a_missing_or_deleted_topic_is_a_404(async_client: object) -> None:
    topic = make_topic()
    Topic.objects.filter(pk=topic.pk).update(is_deleted=True)

    async def fetch(path: str) -> int:
        response = await async_client.get(path)  # type: ignore[attr-defined]
        return int(response.status_code)

    assert run_async(fetch(f"/live/t/{topic.pk}/")) == 404
    assert run_async(fetch("/live/t/999999/")) == 404


@pytest.mark.django_db(transaction=True)  # the request runs on another thread's connection
def test_a_client_over_its_stream_allowance_gets_a_clear_429(
    async_client: object, settings: object
) -> None:
    topic = make_topic()
    settings.SALA_LIVE_STREAMS_PER_CLIENT = 0  # type: ignore[attr-defined]

    async def fetch() -> tuple[int, str]:
        response = await async_client.get(f"/live/t/{topic.pk}/")  # type: ignore[attr-defined]
        return int(response.status_code), response.content.decode()

    status, text = run_async(fetch())
    assert status == 429
    assert "Too many live pages are open" in text


def test_a_forged_topic_id_in_the_stream_url_is_not_found(client: Client) -> None:
    assert in_thread(client.get, "/live/t/abc/").status_code == 404
    assert in_thread(client.get, "/live/t/99999999999999999999999/").status_code == 404
