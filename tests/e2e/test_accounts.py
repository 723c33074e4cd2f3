"""Browser stories of the accounts foundation: joining, signing in and out, resetting a
password, two-factor sign-in, and the page frame on member pages, phones and dark screens.
"""

import base64
import hashlib
import hmac
import re
import struct
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from conftest import LiveSala, PageChecker, SmtpSink, message_text
from sala.accounts import services
from sala.accounts.models import User
from tests.e2e.pages import (
    ActivateTotpPage,
    ConfirmAccessPage,
    ConfirmEmailPage,
    PasswordResetPage,
    SalaPage,
    SetNewPasswordPage,
    SignInPage,
    SignUpPage,
    TwoFactorPage,
    mailed_link,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "lantern-harbour-quietly-41"


def totp(secret: str, *, at: float, period: int = 30, digits: int = 6) -> str:
    """Return the RFC 6238 code (HMAC-SHA1) an authenticator app shows at time `at`."""
    key = base64.b32decode(secret.replace(" ", "").upper())
    digest = hmac.new(key, struct.pack(">Q", int(at) // period), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**digits:0{digits}}"


def fresh_totp(secret: str, *, period: int = 30, margin: float = 3) -> str:
    """Return the current code, first letting a period that is about to end run out.

    The server checks the code against its own clock with no tolerance, so a code typed
    in a period's last seconds could expire in flight; the wait is at most `margin`.
    """
    left = period - time.time() % period
    if left < margin:
        time.sleep(left + 0.1)
    return totp(secret, at=time.time(), period=period)


def create_member(username: str, *, display_name: str = "") -> User:
    return services.create_member(
        username=username,
        email=f"{username}@example.org",
        password=PASSWORD,
        display_name=display_name,
    )


def sign_in(page: Page, sala: LiveSala, member: User) -> None:
    SignInPage(page, sala.url).open().sign_in(login=member.username, password=PASSWORD)
    expect(SalaPage(page, sala.url).member_menu(member.name)).to_be_visible()


@pytest.fixture
def phone_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_visitor_registers_verifies_email_signs_in_out_and_resets_password(
    sala_server: LiveSala, mail: SmtpSink, page: Page, page_checker: PageChecker
) -> None:
    email = "amara.okafor@example.org"
    new_password = "copper-kettle-morning-73"

    sign_up = SignUpPage(page, sala_server.url).open()
    page_checker.check(page)
    sign_up.sign_up(email=email, username="amara", password=PASSWORD)
    expect(sign_up.heading).to_have_text("Verify Your Email Address")
    expect(sign_up.main).to_contain_text(email)
    page_checker.check(page)

    verification = mail.wait_for(to=email)
    assert "Confirm" in verification["Subject"]
    page.goto(mailed_link(message_text(verification)))
    confirm = ConfirmEmailPage(page, sala_server.url)
    expect(confirm.main).to_contain_text(email)
    page_checker.check(page)
    confirm.confirm()

    sign_in = SignInPage(page, sala_server.url)
    expect(sign_in.heading).to_have_text("Sign In")
    expect(sign_in.messages).to_contain_text(f"You have confirmed {email}")
    page_checker.check(page)
    sign_in.sign_in(login="amara", password=PASSWORD)
    expect(sign_in.member_menu("amara")).to_be_visible()
    page_checker.check(page)
    sign_in.sign_out("amara")
    expect(sign_in.member_menu("amara")).to_have_count(0)

    reset = PasswordResetPage(page, sala_server.url).open()
    page_checker.check(page)
    reset.request_reset(email)
    expect(reset.heading).to_have_text("Password Reset")
    expect(reset.main).to_contain_text("We have sent you an email")
    page_checker.check(page)

    reset_mail = mail.wait_for(to=email, count=2)
    assert "Password Reset" in reset_mail["Subject"]
    page.goto(mailed_link(message_text(reset_mail)))
    new_password_page = SetNewPasswordPage(page, sala_server.url)
    expect(new_password_page.heading).to_have_text("Change Password")
    page_checker.check(page)
    new_password_page.set_password(new_password)
    expect(new_password_page.main).to_contain_text("Your password is now changed")
    page_checker.check(page)

    sign_in.open().sign_in(login=email, password=PASSWORD)
    expect(sign_in.alerts).to_contain_text("not correct")
    expect(sign_in.sign_in_link).to_be_visible()
    page_checker.check(page)
    sign_in.sign_in(login=email, password=new_password)
    expect(sign_in.member_menu("amara")).to_be_visible()


GUEST_PAGES = ["/", "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"]
MEMBER_PAGES = [
    "/u/{username}/",
    "/settings/profile/",
    "/accounts/email/",
    "/accounts/password/change/",
    "/accounts/2fa/",
]


@pytest.mark.parametrize(
    ("path", "signed_in"),
    [(path, False) for path in GUEST_PAGES] + [(path, True) for path in MEMBER_PAGES],
)
def test_keyboard_only_reaches_jump_to_content_first_on_every_page(
    sala_server: LiveSala, page: Page, page_checker: PageChecker, path: str, signed_in: bool
) -> None:
    if signed_in:
        member = create_member("tomasz")
        sign_in(page, sala_server, member)
    page.goto(sala_server.url + path.format(username="tomasz"))
    page_checker.check(page)

    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Jump to content")
    page.keyboard.press("Enter")
    expect(page.locator(":focus")).to_have_id("content")


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/accounts/signup/", "/u/{username}/"])
def test_page_fits_a_360px_phone_without_sideways_scrolling(
    sala_server: LiveSala, phone_page: Page, page_checker: PageChecker, path: str
) -> None:
    # A long display name in the header's member menu and the profile heading is what
    # would push a narrow page wider, so the member page is seen signed in as them.
    member = create_member("maximiliana", display_name="Maximiliana Wolkenstein-Oberhausen")
    if path.startswith("/u/"):
        sign_in(phone_page, sala_server, member)
    phone_page.goto(sala_server.url + path.format(username=member.username))
    page_checker.check(phone_page)

    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{path} is {width} px wide on a 360 px screen"


def brightness(css_colour: str) -> int:
    """Return the sum of the red, green and blue channels of an `rgb(...)` colour."""
    red, green, blue = (int(channel) for channel in re.findall(r"\d+", css_colour)[:3])
    return red + green + blue


def test_dark_scheme_follows_the_system_setting(
    sala_server: LiveSala, browser: Browser, page_checker: PageChecker
) -> None:
    backgrounds = {}
    for scheme in ("light", "dark"):
        context = browser.new_context(color_scheme=scheme)
        try:
            page = context.new_page()
            SignInPage(page, sala_server.url).open()
            backgrounds[scheme] = page.evaluate("getComputedStyle(document.body).backgroundColor")
            if scheme == "dark":
                # Every colour changes with the scheme, so contrast is checked again.
                page_checker.check(page)
        finally:
            context.close()

    assert brightness(backgrounds["dark"]) < brightness(backgrounds["light"]), backgrounds


def test_member_turns_on_an_authenticator_app_and_is_asked_for_its_code_at_sign_in(
    sala_server: LiveSala, page: Page, page_checker: PageChecker
) -> None:
    member = create_member("ingrid")
    sign_in(page, sala_server, member)

    activate = ActivateTotpPage(page, sala_server.url).open()
    confirm_access = ConfirmAccessPage(page, sala_server.url)
    expect(confirm_access.heading).to_have_text("Confirm Access")
    page_checker.check(page)
    confirm_access.confirm(PASSWORD)
    expect(activate.heading).to_have_text("Activate Authenticator App")
    page_checker.check(page)
    secret = activate.secret
    activate.activate(fresh_totp(secret))
    expect(activate.messages).to_contain_text("Authenticator app activated")
    page_checker.check(page)
    activate.sign_out(member.name)

    SignInPage(page, sala_server.url).open().sign_in(login=member.username, password=PASSWORD)
    two_factor = TwoFactorPage(page, sala_server.url)
    expect(two_factor.heading).to_have_text("Two-Factor Authentication")
    expect(two_factor.member_menu(member.name)).to_have_count(0)
    page_checker.check(page)
    two_factor.enter_code(fresh_totp(secret))
    expect(two_factor.member_menu(member.name)).to_be_visible()
