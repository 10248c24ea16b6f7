"""The soak site: articles with a version, pages built from nested ``{% cachetag %}`` blocks."""
