"""The frame every page shares: skip link first, content focusable, valid and accessible."""

from typing import Any

import pytest

from conftest import LiveSala, PageChecker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_tab_from_the_top_reaches_jump_to_content_first_and_enter_focuses_the_content(
    sala_server: LiveSala, page: Any, page_checker: PageChecker
) -> None:
    for path in ["/", "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"]:
        page.goto(sala_server.url + path)
        page_checker.check(page)
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.textContent.trim()")
        assert focused == "Jump to content", path
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "content", path
