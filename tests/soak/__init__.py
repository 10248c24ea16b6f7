"""A fault-injection soak test of pagecache's freshness promise (``make soak``).

``python -m tests.soak.run`` serves :mod:`tests.soak.site` from two gunicorn servers
against one private redis-server and a throwaway PostgreSQL database, drives readers,
a writer and a purger process through phases that each inject one fault, and classifies
every response by the data it shows (:mod:`tests.soak.checker`).
"""
