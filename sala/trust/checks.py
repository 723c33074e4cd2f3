"""The system check of SALA_RATE_LIMITS: every limit named and written as a rate."""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error

from sala.core.rate_limits import Rate

#: The limits Sala counts (sala.trust.limits, the accounts' sign-in and sign-up).
KNOWN_LIMITS = frozenset(
    {
        "topic",
        "topic_new",
        "reply",
        "reply_new",
        "same_text",
        "topics_day",
        "topics_first_day",
        "replies_day",
        "replies_first_day",
        "edits_day",
        "reports_day",
        "signups_address",
        "signin_failures_address",
        "signin_failures_account",
    }
)


def check_rate_limits(**kwargs: Any) -> list[CheckMessage]:
    """Report each limit of SALA_RATE_LIMITS that Sala has no use for or cannot read."""
    errors: list[CheckMessage] = []
    for name, text in settings.SALA_RATE_LIMITS.items():
        if name not in KNOWN_LIMITS:
            errors.append(
                Error(
                    f"SALA_RATE_LIMITS names {name!r}, which is no limit of Sala's.",
                    hint="The limits are: " + ", ".join(sorted(KNOWN_LIMITS)) + ".",
                    id="sala.trust.E001",
                )
            )
            continue
        if text in ("", "off"):
            continue
        try:
            Rate.parse(text)
        except ValueError as error:
            errors.append(Error(f"SALA_RATE_LIMITS[{name!r}]: {error}", id="sala.trust.E002"))
    return errors
