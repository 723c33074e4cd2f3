"""Visitors for the browser stories: a page in a browser context of its own (another
visitor), and one signed in as a member without going through the form."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page

from conftest import LiveSala
from sala.accounts.models import User

OpenPage = Callable[[], Page]
MemberPage = Callable[[User], Page]


@pytest.fixture(name="open_page")
def open_page_fixture(browser: Browser) -> Iterator[OpenPage]:
    """Return a way to open a page in a browser context of its own: another visitor."""
    contexts: list[BrowserContext] = []

    def open_page() -> Page:
        context = browser.new_context()
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture(name="member_page")
def member_page_fixture(sala_server: LiveSala, open_page: OpenPage, settings: Any) -> MemberPage:
    """Return a way to open a page signed in as a member, without going through the form.

    The session is written here with the server's secret key, so the server accepts it.
    """
    settings.SECRET_KEY = sala_server.env["SECRET_KEY"]

    def member_page(member: User) -> Page:
        client = Client()
        client.force_login(member)
        page = open_page()
        page.context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": sala_server.url,
                }
            ]
        )
        return page

    return member_page
