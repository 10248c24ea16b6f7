"""``make argument``: the project's argument against queryset caches, measured.

The demo news site (:mod:`demo_site`) is served five ways — no cache, Django's site cache,
django-cacheops, django-cachalot, pagecache — on the same seeded PostgreSQL data, under
the same readers and the same writer; :mod:`argument.checker` counts the responses that
show data older than a write completed before they started. ``python -m argument.run``
writes ``docs/argument.md`` and ``docs/argument.png``.
"""
