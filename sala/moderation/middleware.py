"""Sessions already open meet bans too: a banned member is signed out at their next
request and told why (sala.moderation.bans keeps the bans in memory: no query)."""

from collections.abc import Callable

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from sala.accounts.models import User
from sala.core.client_address import client_address
from sala.moderation import bans


class BanMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if isinstance(user, User) and user.is_authenticated:
            ban = bans.find_member_ban(user, client_address(request))
            if ban is not None:
                logout(request)
                return render(request, "moderation/banned.html", {"ban": ban}, status=403)
        return self.get_response(request)
