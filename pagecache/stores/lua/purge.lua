-- KEYS: tag-versions hash.
-- ARGV: 'h' (hard) | 's' (soft) | 'f' (floor: everything), allowance ms, least version
-- ('0': none; a cluster's second phase passes one above every group's clock), tags...
-- Stamps the tags with the next clock value, then drops a slice of versions no live entry
-- can be judged against (core/freshness.py's prune(), line by line).
-- Returns {version, connected replicas}.
local floor, clk = clock_floor(KEYS[1])
-- A cluster's version is the least one, the same in every group: group clocks stay level.
local least = tonumber(ARGV[3]) or 0
local v = math.max(clk + 1, least > 0 and least or now_us())
redis.call('HSET', KEYS[1], 'clock', fmt(v))
redis.call('HDEL', KEYS[1], 'unaligned')
if ARGV[1] == 'f' then
  floor = v
  redis.call('HSET', KEYS[1], 'floor', fmt(v))
end
local i = 4
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
-- Versions older than the longest entry life plus the render allowance condemn nothing
-- alive: drop them and raise the floor to the newest one dropped, so that an entry older
-- still (a render slower than the allowance) is a miss, never fresh. A slice per purge,
-- larger than the purge itself, so pruning outpaces growth.
local life = tonumber(redis.call('HGET', KEYS[1], 'life')) or 0
local horizon = now_us() - (life + (tonumber(ARGV[2]) or 0)) * 1000
local cursor = redis.call('HGET', KEYS[1], 'scan') or '0'
local scanned = redis.call('HSCAN', KEYS[1], cursor, 'COUNT', math.max(100, 4 * (#ARGV - 3)))
local fields, dropped, top = scanned[2], {}, floor
for j = 1, #fields, 2 do
  local kind, version = string.sub(fields[j], 1, 2), tonumber(fields[j + 1])
  if (kind == 'h:' or kind == 's:') and version and version <= horizon then
    dropped[#dropped + 1] = fields[j]
    if version > top then top = version end
  end
end
for b = 1, #dropped, 200 do
  redis.call('HDEL', KEYS[1], unpack(dropped, b, math.min(#dropped, b + 199)))
end
if top > floor then redis.call('HSET', KEYS[1], 'floor', fmt(top)) end
redis.call('HSET', KEYS[1], 'scan', scanned[1])
return {fmt(v), replicas()}
