"""Sala's pages plus /slow/, which answers after two seconds."""

import time

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def slow(request: HttpRequest) -> HttpResponse:
    """Answer after two seconds, long enough to stop the server meanwhile."""
    time.sleep(2)
    return HttpResponse("finished")


urlpatterns = [path("slow/", slow), path("", include("sala.urls"))]
