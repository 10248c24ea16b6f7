"""The Django project served by the benchmark: one settings module for every configuration.

``BENCH_CONFIG`` picks the configuration (see :data:`bench.site.settings.CONFIGS`),
``BENCH_REDIS_URL`` the private redis-server (each configuration gets its own database
number), ``BENCH_DATA_DIR`` the folder holding the SQLite database and the precomputed page.
"""
