"""How allauth fits Sala: the community's name in mail, the sample members' sign-in."""

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings

from sala.accounts.models import User


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]  # allauth is untyped
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "username_taken": User._meta.get_field("username").error_messages["unique"],
    }

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        """Send an account mail that names the community (SALA_SITE_NAME), not the host."""
        super().send_mail(template_prefix, email, {"site_name": settings.SALA_SITE_NAME, **context})
