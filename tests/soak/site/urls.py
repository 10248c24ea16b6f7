from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home),
    path("fast/", views.fast),
    path("j/", views.jinja),
    path("a/<int:pk>/", views.article),
    path("write/<int:pk>/", views.write),
    path("login/", views.login_view),
    path("ready/", views.ready),
]
