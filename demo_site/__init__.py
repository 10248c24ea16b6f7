"""A runnable example site for pagecache: ``make demo`` or ``python -m demo_site.run``."""
