"""Keep pytest's doctest collection away from the soak site: its modules need the soak's
own Django settings (``tests.soak.site.settings``), not the test suite's."""

collect_ignore_glob = ["site/*", "purger.py"]
