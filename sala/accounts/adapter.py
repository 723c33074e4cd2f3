"""How allauth fits Sala: the community's name in mail, mail sent from a background task."""

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.conf import settings
from django.contrib.sites.shortcuts import get_current_site

from sala.accounts.models import User
from sala.core.tasks.mail import enqueue_email


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]  # allauth is untyped
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "username_taken": User._meta.get_field("username").error_messages["unique"],
    }

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        """Render an account mail that names the community (SALA_SITE_NAME), not the host;
        send it from a background task, so the page never waits on the mail server.

        The context is allauth's own (`DefaultAccountAdapter.send_mail`) plus the name.
        """
        request = allauth_context.request
        message = self.render_mail(
            template_prefix,
            email,
            {
                "request": request,
                "email": email,
                "current_site": get_current_site(request),
                "site_name": settings.SALA_SITE_NAME,
                **context,
            },
        )
        enqueue_email(message)
