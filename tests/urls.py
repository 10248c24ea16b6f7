"""URLs for the test suite; test modules add their own urlconfs or extend this one."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path


def alive(request: HttpRequest) -> HttpResponse:
    return HttpResponse("alive")


urlpatterns = [
    path("alive/", alive, name="alive"),
]
