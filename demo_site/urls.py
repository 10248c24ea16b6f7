from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("articles/<slug:slug>/", views.article, name="article"),
    path("articles/<slug:slug>/comment/", views.post_comment, name="comment"),
    path("categories/<slug:slug>/", views.category, name="category"),
    path("tags/<slug:slug>/", views.tag, name="tag"),
    path("cache/", views.cache_status, name="cache"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # The admin's CSS under gunicorn too while DEBUG is on (runserver serves it itself).
    *staticfiles_urlpatterns(),
]

if getattr(settings, "DEBUG_TOOLBAR", False):
    from debug_toolbar.toolbar import debug_toolbar_urls

    from . import toolbar

    urlpatterns += [path("debug-toolbar/", toolbar.switch, name="debug-toolbar")]
    urlpatterns += debug_toolbar_urls()
