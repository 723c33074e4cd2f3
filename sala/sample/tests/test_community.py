"""`sala sample`: the sample community, loaded once however often the command runs."""

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from sala.accounts.models import User
from sala.forums.models import Forum, Post, Topic
from sala.sample.community import MEMBERS, NEWS_SOURCE, NEWS_TITLE, REPLIES

pytestmark = pytest.mark.django_db


@pytest.fixture
def data_dir(settings: Any, tmp_path: Path) -> Path:
    """Point the data folder, and the uploads in it, at a fresh folder."""
    settings.DATA_DIR = tmp_path
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path


def run_sample() -> str:
    out = StringIO()
    call_command("sample", stdout=out)
    return out.getvalue()


def test_sala_sample_loads_a_news_topic_with_its_source_photo_and_replies(
    data_dir: Path,
) -> None:
    printed = run_sample()

    password = (data_dir / "sample-admin-password").read_text().strip()
    assert f"Sign in as admin / {password}" in printed
    assert User.objects.get(username="admin").is_superuser
    topic = Topic.objects.get(title=NEWS_TITLE)
    assert topic.source_url == NEWS_SOURCE
    assert topic.forum.name == "News"
    assert Post.objects.filter(topic=topic).count() == 1 + len(REPLIES)
    assert '<img src="/media/uploads/' in Post.objects.get(topic=topic, number=1).html
    assert User.objects.filter(username__in=[name for name, _ in MEMBERS]).count() == len(MEMBERS)


@pytest.mark.usefixtures("data_dir")
def test_running_sala_sample_again_changes_nothing_and_prints_the_same_sign_in() -> None:
    first = run_sample()
    counts = (User.objects.count(), Forum.objects.count(), Post.objects.count())

    assert run_sample() == first
    assert (User.objects.count(), Forum.objects.count(), Post.objects.count()) == counts
