"""pagecache: page and fragment caching for Django on Redis, with tag-based purging."""
