"""The Redis fast path: ``RedisStore`` and its Lua scripts; the only module using redis-py.

All tag versions, the purge clock and the floor live in one hash, so eviction loses all
of them or none (docs/design.md explains why that makes purges eviction-safe). The lookup
script reads an entry's header and checks its tags in the round trip that reads it; the
purge script stamps tags with the next clock value in one round trip.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..core import keys
from ..core.freshness import LUA_CODES, Lock, Lookup
from ..exceptions import StoreUnavailable

# Shared Lua helpers: server time in microseconds, the clock/floor pair (recreated at "now"
# when lost, which makes every older entry stale), and integer formatting without exponents.
_LUA_PRELUDE = """
local function fmt(x) return string.format('%.0f', x) end
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function clock_floor(h)
  local ok, meta = pcall(redis.call, 'HMGET', h, 'floor', 'clock')
  if not ok then redis.call('DEL', h); meta = {false, false} end
  local floor, clk = tonumber(meta[1]), tonumber(meta[2])
  if not floor or not clk then
    floor = now_us() + 1
    clk = floor
    redis.call('HSET', h, 'floor', fmt(floor), 'clock', fmt(clk))
  end
  return floor, clk
end
"""

# KEYS: entry key, tag-versions hash, lock key.
# ARGV: lock token ('' = don't lock), lock ms, content id the caller already holds decoded.
# Returns {code, clock, value|false, pttl, lock, id|false}; codes match _LOOKUP_STATES, lock
# _LOCKS. Only the entry's header is read here (GETRANGE): pulling a whole page through Lua
# costs far more than the checks, and the body is sent only if the caller lacks that id.
_LOOKUP_LUA = (
    _LUA_PRELUDE
    + """
local floor, clk = clock_floor(KEYS[2])
local function judge()
  -- Most headers fit in 256 bytes; a page with many tags needs a second, larger read.
  local ok, head = pcall(redis.call, 'GETRANGE', KEYS[1], 0, 255)
  if not ok then return 4 end
  if head == '' then return 0 end
  local magic = string.sub(head, 1, 4)
  if magic == 'PCV ' then
    if #head == 256 then head = redis.call('GET', KEYS[1]) end
    return 6, head
  end
  if magic ~= 'PC3 ' then return 4 end
  local nl = string.find(head, '\\n', 5, true)
  if not nl and #head == 256 then
    head = redis.call('GETRANGE', KEYS[1], 0, 65535)
    nl = string.find(head, '\\n', 5, true)
  end
  if not nl then return 4 end
  local f = {}
  for w in string.gmatch(string.sub(head, 5, nl - 1), '%S+') do f[#f + 1] = w end
  local start, stale_ms, id, count = tonumber(f[1]), tonumber(f[3]), f[4], tonumber(f[5])
  if not start or not stale_ms or not id or not count then return 4 end
  -- A start later than the clock was never handed out by this clock: forged or pre-reset.
  if start > clk then return 4 end
  -- Each tag is judged against the start of the part that carried it: the entry's own
  -- tags against its start, then groups (start, count, tags) carried in by cached parts.
  local tags, starts, earliest = {}, {}, start
  for j = 6, 5 + count do tags[#tags + 1] = f[j]; starts[#starts + 1] = start end
  local i = 6 + count
  while i <= #f do
    local s, n = tonumber(f[i]), tonumber(f[i + 1])
    if not s or not n or s >= start then return 4 end
    if s < earliest then earliest = s end
    for j = i + 2, i + 1 + n do tags[#tags + 1] = f[j]; starts[#starts + 1] = s end
    i = i + 2 + n
  end
  if i ~= #f + 1 then return 4 end
  if floor > earliest then return 5 end
  local code = 1
  for b = 1, #tags, 200 do
    local names = {}
    local last = math.min(#tags, b + 199)
    for j = b, last do
      names[#names + 1] = 'h:' .. tags[j]
      names[#names + 1] = 's:' .. tags[j]
    end
    local vers = redis.call('HMGET', KEYS[2], unpack(names))
    for j = 1, #vers, 2 do
      local h, s = vers[j], vers[j + 1]
      local tag_start = starts[b + (j - 1) / 2]
      if (h and not tonumber(h)) or (s and not tonumber(s)) then
        -- An unreadable version: count it as a purge happening now, and write it so.
        clk = math.max(clk + 1, now_us())
        redis.call('HSET', KEYS[2], 'clock', fmt(clk), names[j], fmt(clk), names[j + 1], fmt(clk))
        return 5
      end
      if h and tonumber(h) > tag_start then return 5 end
      if s and tonumber(s) > tag_start then code = 3 end
    end
  end
  local pttl = redis.call('PTTL', KEYS[1])
  if code == 1 and pttl >= 0 and pttl <= stale_ms then code = 2 end
  return code, nil, pttl, id
end
local code, v, pttl, id = judge()
if code == 1 or code == 2 or code == 3 then
  if id == ARGV[3] then
    v = nil
  elseif not v then
    v = redis.call('GET', KEYS[1])
  end
end
local lock = 0
-- Anything but a fresh hit needs a render: let exactly one request do it.
if code ~= 1 and code ~= 6 and ARGV[1] ~= '' then
  if redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[2]) then
    lock = 1
  elseif redis.call('GET', KEYS[3]) == 'U' then
    lock = 3
  else
    lock = 2
  end
end
return {code, clk, v or false, pttl or -1, lock, id or false}
"""
)

# KEYS: lock key. ARGV: token, uncacheable-marker ms ('0' = just release).
# Releases the lock only if this token (or the uncacheable marker) still holds it.
_RELEASE_LUA = """
local cur = redis.call('GET', KEYS[1])
if cur ~= ARGV[1] and cur ~= 'U' then return 0 end
if ARGV[2] ~= '0' then
  redis.call('SET', KEYS[1], 'U', 'PX', ARGV[2])
else
  redis.call('DEL', KEYS[1])
end
return 1
"""

# KEYS: tag-versions hash. ARGV: 'h' (hard) | 's' (soft) | 'f' (floor: everything), tags...
_PURGE_LUA = (
    _LUA_PRELUDE
    + """
local floor, clk = clock_floor(KEYS[1])
local v = math.max(clk + 1, now_us())
redis.call('HSET', KEYS[1], 'clock', fmt(v))
if ARGV[1] == 'f' then redis.call('HSET', KEYS[1], 'floor', fmt(v)) end
local i = 2
while i <= #ARGV do
  local args = {}
  local last = math.min(#ARGV, i + 199)
  for j = i, last do
    args[#args + 1] = ARGV[1] .. ':' .. ARGV[j]
    args[#args + 1] = fmt(v)
  end
  redis.call('HSET', KEYS[1], unpack(args))
  i = last + 1
end
return v
"""
)

# KEYS: tag-versions hash. Returns the purge clock (recreating the hash when it was lost).
_CLOCK_LUA = _LUA_PRELUDE + """
local floor, clk = clock_floor(KEYS[1])
return clk
"""

_LOCKS = {lock.value: lock for lock in Lock}


class RedisStore:
    """Store on a redis-py client: one round trip per lookup and per purge."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.tags_key = keys.tag_versions_key(prefix)
        self._lookup = client.register_script(_LOOKUP_LUA)
        self._purge = client.register_script(_PURGE_LUA)
        self._release = client.register_script(_RELEASE_LUA)
        self._clock = client.register_script(_CLOCK_LUA)
        from redis.exceptions import ConnectionError, NoScriptError, RedisError

        self._no_script = NoScriptError
        self._errors = (RedisError, OSError)
        self._connection_error = ConnectionError
        self._local = threading.local()
        self._hot_connections = _plain_pool(client.connection_pool)

    def _hot_call(self, command: tuple[Any, ...]) -> Any:
        """Run one command on this thread's own connection (the lookup, once per request).

        redis-py's generic command path (pool checkout, retry wrapper, observability hooks)
        costs about as much Python time as the rest of a hit; the connection itself (packing,
        parsing, health checks, timeouts) is redis-py's. Other pools (Sentinel, cluster) and
        every other command use the client as usual.
        """
        if not self._hot_connections:
            return self.client.execute_command(*command)
        local = self._local
        connection = getattr(local, "connection", None)
        if connection is None or local.pid != os.getpid():
            pool = self.client.connection_pool
            connection = pool.connection_class(**pool.connection_kwargs)
            local.connection, local.pid = connection, os.getpid()
        try:
            connection.send_command(*command)
            return connection.read_response()
        except self._connection_error:
            # A connection Redis closed (restart, idle timeout): one retry on a new socket.
            connection.disconnect()
            connection.send_command(*command)
            return connection.read_response()

    def lookup(
        self, key: str, lock_token: str = "", lock_ms: int = 0, known_id: str = ""
    ) -> Lookup:
        # The hit path: plain EVALSHA (loading the script only when Redis lost it).
        command = (
            "EVALSHA",
            self._lookup.sha,
            3,
            key,
            self.tags_key,
            keys.lock_key(key),
            lock_token,
            lock_ms,
            known_id,
        )
        try:
            try:
                reply = self._hot_call(command)
            except self._no_script:
                self.client.script_load(_LOOKUP_LUA)
                reply = self._hot_call(command)
        except self._errors as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
        try:
            code, clock, value, ttl_left_ms, lock, entry_id = reply
            return Lookup(
                LUA_CODES[code],
                int(clock),
                value if value is None or type(value) is bytes else bytes(value),
                int(ttl_left_ms),
                _LOCKS[lock],
                entry_id.decode("ascii") if entry_id else "",
            )
        except (TypeError, ValueError, KeyError) as exc:
            raise StoreUnavailable(f"unreadable lookup reply: {reply!r:.80}") from exc

    def save(
        self,
        key: str,
        value: bytes,
        timeout: int,
        vary: tuple[str, bytes] | None = None,
        lock_token: str = "",
    ) -> None:
        from redis.exceptions import NoScriptError

        with _converted_errors():
            pipe = self.client.pipeline(transaction=False)
            # Entry before marker: whoever sees the Vary marker must find the variant.
            pipe.set(key, value, px=timeout * 1000)
            if vary is not None:
                pipe.set(vary[0], vary[1], px=timeout * 1000)
            if lock_token:
                # Plain EVALSHA: a Script object in a pipeline costs a SCRIPT EXISTS round trip.
                pipe.evalsha(self._release.sha, 1, keys.lock_key(key), lock_token, 0)
            results = pipe.execute(raise_on_error=False)
            for result in results:
                if isinstance(result, NoScriptError):
                    self.release(key, lock_token)  # script cache was flushed: load and retry
                elif isinstance(result, Exception):
                    raise result

    def release(self, key: str, lock_token: str, uncacheable_ms: int = 0) -> None:
        with _converted_errors():
            self._release(keys=[keys.lock_key(key)], args=[lock_token, uncacheable_ms])

    def clock(self) -> int:
        with _converted_errors():
            return int(self._clock(keys=[self.tags_key]))

    def purge(self, tags: Sequence[str], soft: bool) -> int:
        with _converted_errors():
            return int(self._purge(keys=[self.tags_key], args=["s" if soft else "h", *tags]))

    def purge_all(self) -> int:
        """Raise the floor: every entry stored so far becomes stale (O(1))."""
        with _converted_errors():
            return int(self._purge(keys=[self.tags_key], args=["f"]))

    def take_turn(self, key: str, ms: int) -> bool:
        with _converted_errors():
            return bool(self.client.set(key, b"1", nx=True, px=ms))

    def clear(self) -> int:
        """SCAN this prefix's keys and UNLINK them in batches (never FLUSHDB)."""
        removed = 0
        with _converted_errors():
            batch: list[bytes] = []
            for key in self.client.scan_iter(match=f"{glob_escape(self.prefix)}:*", count=1000):
                batch.append(key)
                if len(batch) >= 500:
                    removed += int(self.client.unlink(*batch))
                    batch.clear()
            if batch:
                removed += int(self.client.unlink(*batch))
        return removed


@contextmanager
def _converted_errors() -> Iterator[None]:
    """Turn redis-py and socket errors into :class:`StoreUnavailable`."""
    from redis.exceptions import RedisError

    try:
        yield
    except (RedisError, OSError) as exc:
        raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc


def glob_escape(text: str) -> str:
    r"""``text`` as a literal in a Redis glob pattern (``SCAN MATCH``).

    >>> glob_escape("p?[x]*")
    'p\\?\\[x\\]\\*'
    """
    return "".join("\\" + c if c in "*?[]\\^-" else c for c in text)


def _plain_pool(pool: Any) -> bool:
    """Whether connections can be built from the pool's class and kwargs alone."""
    from redis.connection import (
        BlockingConnectionPool,
        Connection,
        ConnectionPool,
        SSLConnection,
        UnixDomainSocketConnection,
    )

    return type(pool) in (ConnectionPool, BlockingConnectionPool) and pool.connection_class in (
        Connection,
        SSLConnection,
        UnixDomainSocketConnection,
    )


_PROBE_OPTIONS = frozenset(
    ("host", "port", "path", "db", "username", "password", "credential_provider", "client_name")
)


def probe_server(client: Any) -> tuple[str, dict[str, str]]:
    """The server's version and ``maxmemory*`` settings, for the deploy checks.

    Uses a short-timeout, no-retry connection to the client's server (a check must not hang
    on a dead host); ``CONFIG`` being disabled (managed Redis) gives an empty dict.
    """
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    pool = client.connection_pool
    # Where and as whom to connect, not how: newer redis-py adds RESP3-only options.
    options = {
        name: value
        for name, value in pool.connection_kwargs.items()
        if name in _PROBE_OPTIONS or name.startswith("ssl")
    }
    options.update(socket_connect_timeout=2, socket_timeout=2, retry=Retry(NoBackoff(), 0))
    options["protocol"] = 2  # every Redis speaks RESP2; an old one must be told it is old
    probe_pool = redis.ConnectionPool(connection_class=pool.connection_class, **options)
    probe = redis.Redis(connection_pool=probe_pool)
    try:
        with _converted_errors():
            version = str(probe.info("server").get("redis_version", "0"))
            try:
                config = {str(k): str(v) for k, v in probe.config_get("maxmemory*").items()}
            except redis.ResponseError:
                config = {}
    finally:
        probe_pool.disconnect()
    return version, config
