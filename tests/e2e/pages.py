"""Page objects for the browser stories: each page's fields and buttons by label and role.

Stories talk to these, not to selectors, so a changed label is fixed in one place.
"""

import re
from typing import Self

from playwright.sync_api import Locator, Page, expect


def post_reply(page: Page, text: str, *, lands_on: int | None = None) -> None:
    """Write `text` in the topic page's reply box and submit it; with `lands_on`, wait
    until the browser lands on that post."""
    page.get_by_label("Your reply").fill(text)
    page.get_by_role("button", name="Submit Reply").click()
    if lands_on is not None:
        page.wait_for_url(f"**#post-{lands_on}")


#: The link a mail carries: `confirm-email/<key>/`, `password/reset/key/<uid>-<key>/`.
MAILED_LINK = re.compile(r"https?://\S+/accounts/\S+/")


def mailed_link(text: str) -> str:
    """Return the one link to an accounts page in a mail's `text`."""
    links = MAILED_LINK.findall(text)
    assert len(links) == 1, f"Expected one link in the mail, found {links}:\n{text}"
    return str(links[0])


class SalaPage:
    """Any Sala page: the shared frame (header, member menu) and the main content."""

    path = "/"

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    def open(self) -> Self:
        self.page.goto(self.base_url + self.path)
        return self

    @property
    def main(self) -> Locator:
        return self.page.get_by_role("main")

    @property
    def heading(self) -> Locator:
        return self.main.get_by_role("heading", level=1)

    def field(self, label: str) -> Locator:
        """Return the form field in the main content labelled `label` (with or without ":")."""
        return self.main.get_by_label(re.compile(rf"^\s*{re.escape(label)}:?\s*$"))

    @property
    def site_nav(self) -> Locator:
        return self.page.get_by_role("navigation", name="Site")

    @property
    def sign_in_link(self) -> Locator:
        return self.site_nav.get_by_role("link", name="Sign In")

    def member_menu(self, name: str) -> Locator:
        """Return the header's member menu, a disclosure whose summary shows `name`."""
        return self.site_nav.locator("details").filter(
            has=self.page.locator("summary", has_text=name)
        )

    def sign_out(self, name: str) -> None:
        menu = self.member_menu(name)
        menu.locator("summary").click()
        menu.get_by_role("button", name="Sign Out").click()
        expect(self.sign_in_link).to_be_visible()

    @property
    def alerts(self) -> Locator:
        return self.main.get_by_role("alert")

    @property
    def messages(self) -> Locator:
        return self.main.get_by_role("status")


class SignUpPage(SalaPage):
    path = "/accounts/signup/"

    def sign_up(self, *, email: str, username: str, password: str) -> None:
        self.field("Email").fill(email)
        self.field("Username").fill(username)
        self.field("Password").fill(password)
        self.field("Password (again)").fill(password)
        self.main.get_by_role("button", name="Sign Up").click()


class ConfirmEmailPage(SalaPage):
    """The page a verification mail links to: one button confirms the address."""

    def confirm(self) -> None:
        self.main.get_by_role("button", name="Confirm").click()


class SignInPage(SalaPage):
    path = "/accounts/login/"

    def sign_in(self, *, login: str, password: str) -> None:
        """Submit the form with a username or an email address as `login`."""
        self.field("Username or email").fill(login)
        self.field("Password").fill(password)
        self.main.get_by_role("button", name="Sign In").click()


class TwoFactorPage(SalaPage):
    """The second step of signing in, asking for an authenticator code."""

    path = "/accounts/2fa/authenticate/"

    def enter_code(self, code: str) -> None:
        self.field("Code").fill(code)
        self.main.get_by_role("button", name="Sign In").click()


class PasswordResetPage(SalaPage):
    path = "/accounts/password/reset/"

    def request_reset(self, email: str) -> None:
        self.field("Email").fill(email)
        self.main.get_by_role("button", name="Reset My Password").click()


class SetNewPasswordPage(SalaPage):
    """The page a password reset mail links to."""

    def set_password(self, password: str) -> None:
        self.field("New Password").fill(password)
        self.field("New Password (again)").fill(password)
        self.main.get_by_role("button", name="Change Password").click()


class ConfirmAccessPage(SalaPage):
    """The password prompt that guards a sensitive setting, such as two-factor sign-in."""

    def confirm(self, password: str) -> None:
        self.field("Password").fill(password)
        self.main.get_by_role("button", name="Confirm").click()


class ActivateTotpPage(SalaPage):
    path = "/accounts/2fa/totp/activate/"

    @property
    def secret(self) -> str:
        return self.field("Authenticator secret").input_value()

    def activate(self, code: str) -> None:
        self.field("Authenticator code").fill(code)
        self.main.get_by_role("button", name="Activate").click()
