"""Acting on several topics at once from a forum page: the ticks, what each action does to
every ticked topic (counts and the guests' page included), the second step of a move or a
delete, and forged, stale or empty requests, which change nothing."""

from typing import TYPE_CHECKING

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks

from sala.accounts.models import User
from sala.accounts.tests.factories import client_of, make_member
from sala.forums.models import Forum, Topic
from sala.forums.tests.counting import recount_everything, snapshot
from sala.forums.tests.factories import make_forum, make_moderator, make_replies, make_topic
from sala.moderation import services
from sala.staff.audit import Acting
from sala.staff.models import AuditEntry, Role, StaffRole

if TYPE_CHECKING:  # what the test client returns, as django-stubs names it
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db


def act(member: User, forum: Forum, topics: list[Topic], **data: str) -> "Response":
    """Tick `topics` on `forum`'s page as `member` and press Apply with `data`."""
    return client_of(member).post(
        reverse("moderation:bulk_topics", args=[forum.pk, forum.slug]),
        {"topics": [str(topic.pk) for topic in topics], **data},
        follow=True,
    )


def fresh(topics: list[Topic]) -> list[Topic]:
    return [Topic.objects.get(pk=topic.pk) for topic in topics]


def test_the_forum_page_gives_its_moderators_ticks_and_nobody_else() -> None:
    news, sport = make_forum(name="News"), make_forum(name="Sport")
    topic = make_topic(forum=news, title="Ferry timetable changes")
    tick = f'name="topics" value="{topic.pk}" form="bulk-topics"'

    moderator_page = client_of(make_moderator(forum=news)).get(news.get_absolute_url())
    member_page = client_of(make_member(username="reader")).get(news.get_absolute_url())
    elsewhere_page = client_of(make_moderator("sport_mod", forum=sport)).get(
        news.get_absolute_url()
    )

    assert tick in moderator_page.content.decode()
    assert 'id="bulk-topics"' in moderator_page.content.decode()
    assert f'href="{reverse("moderation:queue")}"' in moderator_page.content.decode()
    for page in (member_page, elsewhere_page, Client().get(news.get_absolute_url())):
        assert tick not in page.content.decode()
        assert 'id="bulk-topics"' not in page.content.decode()


def test_locking_ticked_topics_locks_each_and_counts_those_locked_already(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    forum = make_forum()
    topics = [make_topic(forum=forum, title=f"Story number {n}") for n in range(3)]
    untouched = make_topic(forum=forum, title="A story nobody ticked")
    moderator, member = make_moderator(), make_member(username="marta")
    services.lock_topic(topic=topics[0], acting=Acting(actor=moderator), locked=True)
    assert Client().get(forum.get_absolute_url()).content.decode().count("Locked</span>") == 1

    with django_capture_on_commit_callbacks(execute=True):
        response = act(moderator, forum, topics, action="lock")

    assert response.redirect_chain[-1][0] == forum.get_absolute_url()
    assert "2 topics locked. 1 was that way already." in response.content.decode()
    assert all(topic.is_locked for topic in fresh(topics))
    assert not fresh([untouched])[0].is_locked
    for topic in topics:
        reply = client_of(member).post(
            reverse("forums:reply", args=[topic.pk, topic.slug]),
            {"text": "Can I still say something?", "action": "post"},
        )
        assert reply.status_code == 403
    assert AuditEntry.objects.filter(action="topic.lock").count() == 3
    # The guests' copy of the forum page shows the change.
    assert Client().get(forum.get_absolute_url()).content.decode().count("Locked</span>") == 3

    act(moderator, forum, topics, action="unlock")

    assert not any(topic.is_locked for topic in fresh(topics))


def test_pinning_ticked_topics_puts_them_first_on_the_forum_page(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    forum = make_forum()
    older = make_topic(forum=forum, title="An older story worth keeping")
    make_topic(forum=forum, title="The newest story of the day")
    moderator = make_moderator()
    guest_before = Client().get(forum.get_absolute_url()).content.decode()
    assert guest_before.index("The newest story") < guest_before.index("An older story")

    with django_capture_on_commit_callbacks(execute=True):
        response = act(moderator, forum, [older], action="pin")

    assert "1 topic pinned." in response.content.decode()
    page = Client().get(forum.get_absolute_url()).content.decode()
    assert page.index("An older story") < page.index("The newest story")

    act(moderator, forum, [older], action="unpin")

    assert not fresh([older])[0].is_pinned


def test_moving_asks_where_to_then_moves_every_ticked_topic_with_its_counts() -> None:
    news, sport = make_forum(name="News"), make_forum(name="Sport")
    topics = [make_topic(forum=news, title=f"Match report {n}") for n in range(2)]
    make_replies(topics[0], 3)
    stays = make_topic(forum=news, title="Council budget passes")
    moderator = make_moderator()

    asked = act(moderator, news, topics, action="move")

    page = asked.content.decode()
    assert "Act on topics of News" in page
    for topic in topics:  # the ticks are kept, on this second step
        assert f'value="{topic.pk}"' in page
    assert page.count("checked") == 2
    assert "field--invalid" not in page  # nothing wrong yet: it asks
    assert fresh(topics)[0].forum_id == news.pk

    moved = act(moderator, news, topics, action="move", to_forum=str(sport.pk), confirm="1")

    assert "2 topics moved." in moved.content.decode()
    assert {topic.forum_id for topic in fresh(topics)} == {sport.pk}
    assert fresh([stays])[0].forum_id == news.pk
    kept = snapshot()
    recount_everything()
    assert snapshot() == kept
    news, sport = Forum.objects.get(pk=news.pk), Forum.objects.get(pk=sport.pk)
    assert (news.topic_count, news.post_count, sport.topic_count, sport.post_count) == (1, 1, 2, 5)
    guest_page = Client().get(sport.get_absolute_url()).content.decode()
    assert "Match report 0" in guest_page and "Match report 1" in guest_page
    assert AuditEntry.objects.filter(action="topic.move").count() == 2


def test_a_forum_moderator_moves_only_into_forums_they_moderate() -> None:
    news, sport, opinion = (
        make_forum(name="News"),
        make_forum(name="Sport"),
        make_forum(name="Opinion"),
    )
    moderator = make_moderator(forum=news)
    StaffRole.objects.create(role=Role.FORUM_MODERATOR, member=moderator, forum_id=sport.pk)
    topic = make_topic(forum=news)

    asked = act(moderator, news, [topic], action="move").content.decode()

    assert f'<option value="{sport.pk}"' in asked
    assert f'<option value="{opinion.pk}"' not in asked
    refused = act(moderator, news, [topic], action="move", to_forum=str(opinion.pk), confirm="1")
    assert "Choose one of the forums you moderate" in refused.content.decode()
    assert fresh([topic])[0].forum_id == news.pk


def test_deleting_needs_a_reason_and_keeps_the_ticks_until_given_one() -> None:
    forum = make_forum()
    topics = [make_topic(forum=forum, title=f"Spam advert {n}") for n in range(3)]
    make_replies(topics[1], 2)
    make_topic(forum=forum, title="A real story")
    moderator = make_moderator()

    refused = act(moderator, forum, topics, action="delete", reason="  ", confirm="1")

    page = refused.content.decode()
    assert "Say why, for the author and the other moderators." in page
    assert page.count("checked") == 3  # the ticks, kept
    assert not any(topic.is_deleted for topic in fresh(topics))

    deleted = act(moderator, forum, topics, action="delete", reason="Advertising", confirm="1")

    assert "3 topics deleted." in deleted.content.decode()
    assert all(topic.is_deleted for topic in fresh(topics))
    kept = snapshot()
    recount_everything()
    assert snapshot() == kept
    forum = Forum.objects.get(pk=forum.pk)
    assert (forum.topic_count, forum.post_count) == (1, 1)
    guest_page = Client().get(forum.get_absolute_url()).content.decode()
    assert "Spam advert" not in guest_page and "A real story" in guest_page
    reasons = AuditEntry.objects.filter(action="topic.delete").values_list("reason", flat=True)
    assert list(reasons) == ["Advertising"] * 3


def test_nothing_ticked_says_so_and_changes_nothing() -> None:
    forum = make_forum()
    topic = make_topic(forum=forum)

    response = act(make_moderator(), forum, [], action="lock")

    assert response.status_code == 200
    assert "Tick the topics to act on first." in response.content.decode()
    assert not fresh([topic])[0].is_locked


def test_a_topic_of_another_forum_among_the_ticks_changes_none_of_them() -> None:
    news, sport = make_forum(name="News"), make_forum(name="Sport")
    ours = make_topic(forum=news, title="Ours to lock")
    theirs = make_topic(forum=sport, title="Not in this forum")

    response = act(make_moderator(forum=news), news, [ours, theirs], action="lock")

    assert "Some of those topics are no longer in this forum" in response.content.decode()
    assert not any(topic.is_locked for topic in fresh([ours, theirs]))


def test_not_a_number_or_too_many_topics_is_refused_at_the_field() -> None:
    forum = make_forum()
    topic = make_topic(forum=forum)
    moderator = make_moderator()
    url = reverse("moderation:bulk_topics", args=[forum.pk, forum.slug])

    forged = client_of(moderator).post(url, {"topics": [str(topic.pk), "²", "x"], "action": "lock"})
    many = client_of(moderator).post(
        url, {"topics": [str(n) for n in range(1, services.BULK_LIMIT + 2)], "action": "lock"}
    )
    odd = client_of(moderator).post(url, {"topics": [str(topic.pk)], "action": "explode"})

    assert "Some of those topics are no longer in this forum" in forged.content.decode()
    assert f"Choose at most {services.BULK_LIMIT} topics at once." in many.content.decode()
    assert "That is not something moderators do to topics." in odd.content.decode()
    assert not fresh([topic])[0].is_locked


def test_a_topic_moved_away_meanwhile_undoes_the_whole_action() -> None:
    news, sport = make_forum(name="News"), make_forum(name="Sport")
    first, second = make_topic(forum=news), make_topic(forum=news, title="Moved meanwhile")
    moderator = make_moderator()
    # Another moderator moves the second topic after this one's page was read.
    services.move_topic(topic=second, to_forum=sport, acting=Acting(actor=moderator))

    with pytest.raises(ValidationError):
        services.act_on_topics(
            forum=news,
            topic_ids=[first.pk, second.pk],
            action="pin",
            acting=Acting(actor=moderator),
        )

    assert not any(topic.is_pinned for topic in fresh([first, second]))


def test_members_and_other_forums_moderators_are_refused() -> None:
    news, sport = make_forum(name="News"), make_forum(name="Sport")
    topic = make_topic(forum=news)

    for member in (make_member(username="reader"), make_moderator("sport_mod", forum=sport)):
        response = act(member, news, [topic], action="lock")
        assert response.status_code == 403
        assert "Only moderators of this forum can do that." in response.content.decode()
    assert not fresh([topic])[0].is_locked
