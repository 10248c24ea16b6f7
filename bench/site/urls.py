from django.conf import settings
from django.urls import path
from django.views.decorators.cache import cache_page

from . import views

page_view = views.page
if settings.CONFIG == "django-cache-page":
    page_view = cache_page(settings.PAGE_TTL)(views.page)

urlpatterns = [
    path("page/", page_view),
    path("pages/<int:n>/", views.pages),
    path("const/", views.const),
    path("ready/", views.ready),
]
