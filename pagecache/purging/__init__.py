"""Purging: ``purge_tags`` and its durable record, the background deliverer, and the
model hooks that purge when data changes."""
