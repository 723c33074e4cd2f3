"""allauth as moderation needs it: bans refused at sign-up (at the field, with the ban's
message) and at sign-in, on top of the accounts' own adapter."""

from typing import Any

from allauth.core import context as allauth_context
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from sala.accounts.adapter import AccountAdapter
from sala.accounts.models import User
from sala.core.client_address import client_address
from sala.moderation import bans


def _address() -> str:
    request = allauth_context.request
    return client_address(request) if request is not None else ""


class ModeratedAccountAdapter(AccountAdapter):
    def clean_username(self, username: str, shallow: bool = False) -> str:
        username = str(super().clean_username(username, shallow))
        ban = bans.find_ban(username=username, address=_address(), signing_up=True)
        if ban is not None:
            raise ValidationError(ban.message)
        return username

    def clean_email(self, email: str) -> str:
        email = str(super().clean_email(email))
        ban = bans.find_ban(email=email, address=_address(), signing_up=True)
        if ban is not None:
            raise ValidationError(ban.message)
        return email

    def pre_login(self, request: HttpRequest, user: Any, **kwargs: Any) -> HttpResponse | None:
        if isinstance(user, User):
            ban = bans.find_member_ban(user, client_address(request))
            if ban is not None:
                return render(request, "moderation/banned.html", {"ban": ban}, status=403)
        response: HttpResponse | None = super().pre_login(request, user, **kwargs)
        return response
