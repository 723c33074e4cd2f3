"""Page objects for the forum stories: a topic page, its reply box, the new-topic form.

Stories talk to these, not to selectors, so a changed label is fixed in one place.
"""

import re
from pathlib import Path
from typing import Self

from playwright.sync_api import Locator, Page, expect

from tests.e2e.pages import SalaPage


class PostingForm(SalaPage):
    """What every posting form has: Markdown text, an image with its caption, three buttons."""

    #: The label of the text field and of the button that posts, per form.
    text_label = "Post"
    submit_label = "Post"

    @property
    def form(self) -> Locator:
        return self.main

    @property
    def text(self) -> Locator:
        return self.field(self.text_label)

    def field_errors(self, label: str) -> Locator:
        """Return the error messages shown at the field labelled `label`."""
        label_pattern = re.compile(rf"^\s*{re.escape(label)}:?\s*$")
        field = self.form.locator(".field").filter(has=self.page.get_by_label(label_pattern))
        return field.locator(".field__errors")

    def attach_image(self, path: Path, caption: str) -> None:
        """Upload the image at `path` with `caption`; the form comes back with its line."""
        self.field("Add an image").set_input_files(path)
        self.field("Image caption").fill(caption)
        self.form.get_by_role("button", name="Add image").click()
        expect(self.text).to_have_value(re.compile(r"!\[.*\]\(/media/uploads/"))

    def preview(self) -> None:
        self.form.get_by_role("button", name="Preview", exact=True).click()
        expect(self.preview_region).to_be_visible()

    @property
    def preview_region(self) -> Locator:
        return self.main.get_by_role("region", name="Preview")

    def submit(self) -> None:
        self.form.get_by_role("button", name=self.submit_label).click()


class NewTopicPage(PostingForm):
    """The "Start a topic" form, at /new/topic/ and under Create New... → Topic."""

    path = "/new/topic/"
    submit_label = "Post topic"

    def open_from_menu(self) -> Self:
        """Open the form through the header's Create New... menu, from the current page."""
        menu = self.site_nav.locator("details").filter(
            has=self.page.locator("summary", has_text="Create New...")
        )
        menu.locator("summary").click()
        menu.get_by_role("link", name="Topic", exact=True).click()
        expect(self.heading).to_have_text("Start a topic")
        return self

    def fill(self, *, forum: str, title: str, text: str, source_url: str = "") -> None:
        self.field("Forum").select_option(label=forum)
        self.field("Title").fill(title)
        self.field("Source").fill(source_url)
        self.text.fill(text)


class TopicPage(SalaPage):
    """A page of a topic: its posts, the reply box or the guest panel, who is browsing."""

    def __init__(self, page: Page, base_url: str, path: str) -> None:
        super().__init__(page, base_url)
        self.path = path

    def posts(self) -> Locator:
        return self.main.locator("article.post")

    def post(self, number: int) -> Locator:
        return self.main.locator(f"article#post-{number}")

    def post_body(self, number: int) -> Locator:
        return self.post(number).locator(".post__body")

    def post_bodies(self) -> Locator:
        return self.posts().locator(".post__body")

    @property
    def read_more(self) -> Locator:
        return self.main.get_by_role("link", name="read more", exact=True)

    @property
    def guest_panel(self) -> Locator:
        return self.main.get_by_role("region", name="Create an account or sign in to comment")

    def guest_panel_text(self) -> str:
        return self.guest_panel.inner_text()

    @property
    def recently_browsing(self) -> Locator:
        return self.main.get_by_role("region", name=re.compile(r"^Recently Browsing"))

    def recently_browsing_text(self) -> str:
        """Return the section's text with its runs of spaces collapsed."""
        return " ".join(self.recently_browsing.inner_text().split())

    def quote(self, number: int) -> "ReplyBox":
        """Follow the Quote link of post `number`; return the reply box it fills."""
        self.post(number).get_by_role("link", name="Quote", exact=True).click()
        box = ReplyBox(self.page, self.base_url)
        expect(box.text).to_be_visible()
        return box

    @property
    def reply_box(self) -> "ReplyBox":
        return ReplyBox(self.page, self.base_url)

    def reply(self, text: str) -> None:
        """Write `text` in the reply box (replacing what is there) and submit it."""
        box = self.reply_box
        box.text.fill(text)
        box.submit()


class ReplyBox(PostingForm):
    """The "Reply to this topic" form under a topic's posts."""

    text_label = "Your reply"
    submit_label = "Submit Reply"

    @property
    def form(self) -> Locator:
        return self.main.get_by_role("region", name="Reply to this topic")

    @property
    def text(self) -> Locator:
        return self.form.get_by_label(re.compile(r"^\s*Your reply:?\s*$"))

    def add_text(self, text: str) -> None:
        """Write `text` after what the box holds already (a quotation, say)."""
        self.text.fill(self.text.input_value() + text)


class ForumPage(SalaPage):
    """A forum's page: its topics by last activity, and the live "new activity" notice."""

    def __init__(self, page: Page, base_url: str, path: str) -> None:
        super().__init__(page, base_url)
        self.path = path

    @property
    def new_activity(self) -> Locator:
        """Return the notice that topics have new activity, a button that shows them."""
        return self.main.get_by_role("button", name=re.compile(r"new activity$"))

    def rows(self) -> Locator:
        return self.main.locator("li.topic-row")

    def row(self, title: str) -> Locator:
        """Return the row of the topic titled `title`."""
        link = self.page.get_by_role("link", name=title, exact=True)
        return self.rows().filter(has=link)

    def titles(self) -> list[str]:
        """Return the topics' titles in the order the list shows them."""
        return self.rows().locator(".topic-row__title > a:not(.badge)").all_inner_texts()

    def scroll_to(self, y: int) -> None:
        """Scroll the window to `y` pixels from the top, at once."""
        self.page.evaluate("(y) => window.scrollTo({top: y, behavior: 'instant'})", y)
        self.page.wait_for_function("(y) => window.scrollY === y", arg=y)

    def scroll_y(self) -> float:
        return float(self.page.evaluate("window.scrollY"))
