"""How allauth fits Sala: the community's name in mail, mail sent from a background task,
and failed sign-ins counted by the site's one limiter (sala.core.rate_limits)."""

import ipaddress
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.conf import settings
from django.contrib.sites.shortcuts import get_current_site
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _

from sala.accounts.models import User
from sala.core import rate_limits
from sala.core.client_address import client_address
from sala.core.rate_limits import Decision
from sala.core.tasks.mail import enqueue_email


def _address_of(request: HttpRequest) -> str | None:
    """Return the client's address, or None if what came is no address at all."""
    address = client_address(request)
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def _signin_account(credentials: dict[str, Any]) -> str:
    """Name the account a sign-in tries, the same however it is typed."""
    return str(credentials.get("email") or credentials.get("username") or "").strip().casefold()


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

    # -- Failed sign-ins ------------------------------------------------------------------
    # Each attempt takes a place in two windows, its address's and its account's, and a
    # successful one gives both back, so only failures count. Past either limit even the
    # right password is refused for a while, and the member is told how long; a password
    # reset empties the account's window, so an attacker who keeps failing on purpose
    # cannot lock its owner out.

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        self._signin_taken: list[tuple[str, str, Decision]] = []
        windows = [
            (
                "signin_failures_address",
                rate_limits.address_key(client_address(request)),
                _("Too many failed sign-ins from your network."),
            ),
            (
                "signin_failures_account",
                _signin_account(credentials),
                _("Too many failed sign-ins to this account."),
            ),
        ]
        for name, key, message in windows:
            decision = rate_limits.hit(name, key)
            if not decision.allowed:
                self._rollback_login_failed_rl_usage()
                refusal = rate_limits.refused(decision, message)
                raise ValidationError(
                    _("%(refusal)s Or reset your password to sign in now.")
                    % {"refusal": refusal.message},
                    code="too_many_login_attempts",
                )
            self._signin_taken.append((name, key, decision))

    def _rollback_login_failed_rl_usage(self) -> None:
        for name, key, decision in getattr(self, "_signin_taken", []):
            rate_limits.undo(name, key, decision)
        self._signin_taken = []

    def _delete_login_attempts_cached_email(self, request: HttpRequest, **credentials: Any) -> None:
        """Empty the failed sign-ins of the account a password reset was for, whether it
        is signed in with that address or with its username."""
        email = _signin_account(credentials)
        rate_limits.forget("signin_failures_account", email)
        for username in User.objects.filter(email__iexact=email).values_list("username", flat=True):
            rate_limits.forget("signin_failures_account", username.casefold())

    # -- Where members come from ----------------------------------------------------------

    def save_user(self, request: HttpRequest, user: Any, form: Any, commit: bool = True) -> Any:
        """Save a new member with the address they signed up from."""
        address = _address_of(request)
        user.signup_address = user.last_address = address
        return super().save_user(request, user, form, commit=commit)

    def login(self, request: HttpRequest, user: Any) -> None:
        """Sign `user` in, noting the address they came from when it changed."""
        super().login(request, user)
        address = _address_of(request)
        if isinstance(user, User) and address and user.last_address != address:
            # An UPDATE of its own: an address is no reason to forget the remembered member.
            User.objects.filter(pk=user.pk).update(last_address=address)
            user.last_address = address
