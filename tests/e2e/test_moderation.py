"""Browser stories of moderation: members report a post until it hides itself, a
moderator resolves it from the queue with a warning that suspends its author, the author
sees the suspension, and a moderator of another forum is refused; a warned member's reply
waits for approval, seen by them alone, until a moderator approves it."""

import pytest
from playwright.sync_api import Page, expect

from conftest import LiveSala, PageChecker
from sala.accounts.tests.factories import make_member
from sala.forums.models import Post
from sala.forums.tests.factories import make_forum, make_moderator, make_replies, make_topic
from sala.moderation import sanctions
from sala.staff.audit import Acting
from tests.e2e.visitors import MemberPage, OpenPage, member_page_fixture, open_page_fixture  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def report_as_spam(page: Page, base_url: str, post: Post) -> None:
    """Report `post` from its topic page, as spam, as the member `page` is signed in as."""
    page.goto(base_url + post.topic.get_absolute_url())
    page.locator(f"#post-{post.number}").get_by_role("link", name="Report").click()
    page.get_by_label("Spam or advertising").check()
    page.get_by_role("button", name="Report").click()
    expect(page.get_by_text("Thank you: the moderators will look at the post.")).to_be_visible()


def test_reports_hide_a_post_and_a_warning_from_the_queue_suspends_its_author(
    sala_server: LiveSala,
    member_page: MemberPage,
    open_page: OpenPage,
    page_checker: PageChecker,
) -> None:
    news = make_forum(name="City news")
    topic = make_topic(forum=news, title="The harbour market reopens on Saturday")
    spammer = make_member(username="cheapwatches")
    (spam,) = make_replies(topic, 1, author=spammer)
    base = sala_server.url

    # Three members report the new member's reply; the third report hides it at once.
    for name in ("amara", "bjorn", "chen"):
        report_as_spam(member_page(make_member(username=name)), base, spam)
    guest = open_page()
    guest.goto(base + topic.get_absolute_url())
    expect(guest.get_by_text("Post #2 is hidden after reports, pending review.")).to_be_visible()
    expect(guest.get_by_text("Reply number 0.")).to_have_count(0)

    # A moderator of the forum resolves it from the queue with a warning of 3 points,
    # which is the first step: a day's suspension.
    moderator = member_page(make_moderator("newsdesk", forum=news))
    moderator.goto(base + "/moderation/queue/")
    item = moderator.get_by_role("listitem").filter(has_text="3 reports")
    expect(item).to_contain_text("Spam or advertising \N{MULTIPLICATION SIGN}3")
    expect(item).to_contain_text("hidden after reports")
    page_checker.check(moderator)
    item.get_by_label("Reason").fill("Advertising watches")
    item.get_by_label("Warning points").select_option("3")
    item.get_by_role("button", name="Hide and warn").click()
    expect(
        moderator.get_by_text("Resolved: the post is hidden and its author warned.")
    ).to_be_visible()
    expect(moderator.get_by_text("Nothing waits for review.")).to_be_visible()

    # The author reads the topic, sees their post hidden and that they are suspended.
    author = member_page(spammer)
    author.goto(base + topic.get_absolute_url())
    expect(author.get_by_text("Hidden by the moderators; only its author")).to_be_visible()
    notice = author.get_by_role("note").filter(has_text="You are suspended until")
    expect(notice).to_contain_text("3 warning points: Advertising watches")
    expect(author.get_by_role("heading", name="Reply to this topic")).to_have_count(0)
    page_checker.check(author)

    # A moderator of another forum is refused, with the reason.
    other = member_page(make_moderator("sportdesk", forum=make_forum(name="Sport")))
    response = other.goto(base + topic.get_absolute_url() + "post/2/hide/")
    assert response is not None and response.status == 403
    expect(other.get_by_text("Only moderators of this forum can do that.")).to_be_visible()


def test_a_moderator_ticks_topics_on_the_forum_page_and_locks_then_moves_them(
    sala_server: LiveSala, member_page: MemberPage, page_checker: PageChecker
) -> None:
    news, sport = make_forum(name="City news"), make_forum(name="Sport")
    for title in ("Tram line closes for works", "Derby tickets sold out", "Pool opens late"):
        make_topic(forum=news, title=title)
    moderator = member_page(make_moderator("newsdesk"))
    moderator.goto(sala_server.url + news.get_absolute_url())
    page_checker.check(moderator)

    # The ticks sit in the list, outside the toolbar's form, yet go with it.
    moderator.get_by_label("Tick “Tram line closes for works”").check()
    moderator.get_by_label("Tick “Pool opens late”").check()
    moderator.get_by_label("With the ticked topics").select_option("lock")
    moderator.get_by_role("button", name="Apply").click()
    expect(moderator.get_by_text("2 topics locked.")).to_be_visible()
    expect(moderator.locator(".topic-row .badge", has_text="Locked")).to_have_count(2)

    # A move asks where to on a second page, the ticked topics listed and still ticked.
    moderator.get_by_label("Tick “Derby tickets sold out”").check()
    moderator.get_by_label("With the ticked topics").select_option("move")
    moderator.get_by_role("button", name="Apply").click()
    expect(moderator.get_by_role("heading", name="Act on topics of City news")).to_be_visible()
    expect(moderator.get_by_label("Derby tickets sold out")).to_be_checked()
    page_checker.check(moderator)
    moderator.get_by_label("Move to").select_option(label="Sport")
    moderator.get_by_role("button", name="Apply").click()
    expect(moderator.get_by_text("1 topic moved.")).to_be_visible()
    moderator.goto(sala_server.url + sport.get_absolute_url())
    expect(moderator.get_by_role("link", name="Derby tickets sold out")).to_be_visible()


def test_a_warned_members_reply_waits_for_approval_seen_by_them_alone_until_approved(
    sala_server: LiveSala,
    member_page: MemberPage,
    open_page: OpenPage,
    page_checker: PageChecker,
) -> None:
    news = make_forum(name="City news")
    topic = make_topic(forum=news, title="The harbour market reopens on Saturday")
    writer = make_member(username="oskar")
    moderator_member = make_moderator("newsdesk", forum=news)
    sanctions.warn_member(
        member=writer, acting=Acting(make_moderator("globaldesk"), "Off-topic flooding"), points=1
    )
    base = sala_server.url
    reader = open_page()
    reader.goto(base + topic.get_absolute_url())

    # The warning's first step holds the member's posts: they write, and see it waiting.
    author = member_page(writer)
    author.goto(base + topic.get_absolute_url())
    author.get_by_label("Your reply").fill("The stalls open at eight, I asked the council.")
    author.get_by_role("button", name="Submit Reply").click()
    expect(author.get_by_text("Your post awaits the moderators' approval")).to_be_visible()
    held = author.locator(".post--held")
    expect(held).to_contain_text("Awaiting approval: only you and the moderators see this post")
    expect(held).to_contain_text("The stalls open at eight")
    page_checker.check(author)
    expect(reader.get_by_text("The stalls open at eight")).to_have_count(0)

    # The forum's moderator finds it in the queue with its reason, and approves it.
    moderator = member_page(moderator_member)
    moderator.goto(base + "/moderation/queue/")
    item = moderator.get_by_role("listitem").filter(has_text="Reply to")
    expect(item).to_contain_text("the author's warnings hold their posts")
    expect(item).to_contain_text("Off-topic flooding")
    page_checker.check(moderator)
    item.get_by_role("button", name="Approve").click()
    expect(moderator.get_by_text("Approved: the post is published.")).to_be_visible()

    # Published now, as the topic's second post (the guests' copy of the page dropped).
    reader.reload()
    expect(reader.locator("#post-2")).to_contain_text("The stalls open at eight")
    author.goto(base + topic.get_absolute_url())
    expect(author.locator(".post--held")).to_have_count(0)
    expect(author.locator("#post-2")).to_contain_text("The stalls open at eight")
