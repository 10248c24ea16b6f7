"""The pure core: keys, entry bytes, the freshness rule, policy, request facts, render
state and CSRF placeholders. Nothing here talks to a cache or the network; the drivers
(:mod:`pagecache.driver`, :mod:`pagecache.serve`) do, through :mod:`pagecache.stores`.
"""
