# Varnish in front of a pagecache site: tags from the xkey header pagecache sets when
# PAGECACHE["PURGERS"] names pagecache.purgers.VarnishXkeyPurger (docs/edge.md).
# Needs vmod xkey (Debian: apt-get install varnish-modules). Tested by
# tests/test_edge_varnish.py against a real varnishd.
vcl 4.1;

import xkey;

backend django {
    .host = "127.0.0.1";
    .port = "8000";
}

# Who may purge: the hosts running Django (the purger sends from there).
acl purgers {
    "127.0.0.1";
    "::1";
}

sub vcl_recv {
    if (req.method == "PURGE") {
        if (client.ip !~ purgers) {
            return (synth(403, "Forbidden"));
        }
        if (req.http.xkey-softpurge) {
            # Soft: objects stay for their grace, served while one fetch refreshes them.
            set req.http.x-purged = xkey.softpurge(req.http.xkey-softpurge);
        } elsif (req.http.xkey-purge) {
            set req.http.x-purged = xkey.purge(req.http.xkey-purge);
        } else {
            return (synth(400, "Send xkey-purge or xkey-softpurge"));
        }
        return (synth(200, "Purged " + req.http.x-purged + " objects"));
    }
    # Tags come from the backend only.
    unset req.http.xkey;
    # Cookies pagecache ignores (IGNORED_COOKIES' defaults: analytics and ads) must not
    # keep a visitor from the cached pages: strip them, as pagecache strips them from what
    # the view sees. Any other cookie (a session) still passes to Django.
    if (req.http.Cookie) {
        set req.http.Cookie = regsuball(req.http.Cookie,
            "(^|;\s*)(_ga[^=]*|_gid|_gat[^=]*|_gcl_[^=]*|__utm[^=]*|_fbp|_fbc|_hj[^=]*|_pk_[^=]*|_clck|_clsk|_uet[^=]*|ajs_[^=]*|mp_[^=]*|__hs[^=]*|hubspotutk)=[^;]*", "");
        set req.http.Cookie = regsub(req.http.Cookie, "^;\s*", "");
        if (req.http.Cookie ~ "^\s*$") {
            unset req.http.Cookie;
        }
    }
}

sub vcl_backend_response {
    # Keep only what pagecache stored and said how long to keep (CACHE_CONTROL): not a page
    # it did not store (no Cache-Control), nor a STALE copy (s-maxage=0). Those pass
    # through, for one second at a time (instead of the built-in two minutes).
    if (!beresp.http.Cache-Control || beresp.ttl <= 0s) {
        set beresp.uncacheable = true;
        set beresp.ttl = 1s;
        return (deliver);
    }
    # Its s-maxage, less Age, is the TTL: no longer than pagecache keeps the page. Grace:
    # serve a stale or soft-purged copy while one fetch refreshes it, for as long as
    # pagecache itself may (PAGECACHE["STALE_TTL"], 30 s by default).
    set beresp.grace = 30s;
}

sub vcl_deliver {
    # Tags are for Varnish, not for browsers.
    unset resp.http.xkey;
    # A Varnish hit is a hit, whatever pagecache said (MISS) when Varnish fetched the page
    # (PAGECACHE["STATUS_HEADER"], X-Cache by default).
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    }
}
