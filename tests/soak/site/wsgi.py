"""WSGI entry point of the soak site: ``gunicorn tests.soak.site.wsgi:application``."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.soak.site.settings")

application = get_wsgi_application()
