-- KEYS: tag-versions hash. ARGV: 'h' (hard) | 's' (soft) | 'f' (floor: everything), tags...
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
