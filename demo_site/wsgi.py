"""WSGI entry point of the demo site (e.g. ``gunicorn demo_site.wsgi``)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from demo_site.middleware import ServingStrip

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_site.settings")

# The status strip wraps the whole application, so PageCacheMiddleware stays first.
application = ServingStrip(get_wsgi_application())
