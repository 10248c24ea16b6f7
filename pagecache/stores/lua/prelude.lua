-- Shared Lua helpers: server time in microseconds, the clock/floor pair (recreated at "now"
-- when lost, which makes every older entry stale, and says so as a third value until the
-- next purge), and integer formatting without exponents.
local function fmt(x) return string.format('%.0f', x) end
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function clock_floor(h)
  local ok, meta = pcall(redis.call, 'HMGET', h, 'floor', 'clock', 'unaligned')
  if not ok then redis.call('DEL', h); meta = {false, false, false} end
  local floor, clk = tonumber(meta[1]), tonumber(meta[2])
  if not floor or not clk then
    floor = now_us() + 1
    clk = floor
    -- 'unaligned' until the next purge stamps every group: on a cluster, each lookup that
    -- sees it asks its process to bring the other groups' clocks level with this one.
    redis.call('HSET', h, 'floor', fmt(floor), 'clock', fmt(clk), 'unaligned', '1')
    return floor, clk, 1
  end
  return floor, clk, meta[3] and 1 or 0
end
-- How many replicas are connected: a purge then waits for one to hold it (WAIT), so a
-- failover cannot lose it.
local function replicas()
  local n = string.match(redis.call('INFO', 'replication'), 'connected_slaves:(%d+)')
  return tonumber(n) or 0
end
