-- KEYS: entry key, tag-versions hash, lock key[, stats hash].
-- ARGV: lock token ('' = don't lock), lock ms, content id the caller already holds decoded,
-- then STATS counters this process collected (field, amount, ...), added to the stats
-- hash here so that counting costs no round trip of its own.
-- Returns {code, clock, value|false, pttl, lock, id|false, recreated}: code as in core/freshness.py's
-- LUA_CODES, lock as its Lock values, recreated 1 when the versions were lost (a cluster
-- then brings every group's clock up to this one). Only the entry's header is read here (GETRANGE):
-- pulling a whole page through Lua costs far more than the checks, and the body is sent
-- only if the caller lacks that id. The rule is core/freshness.py's judge(), line by line.
if KEYS[4] then
  -- pcall: a stats hash someone overwrote must not cost the page its lookup
  for i = 4, #ARGV - 1, 2 do pcall(redis.call, 'HINCRBY', KEYS[4], ARGV[i], ARGV[i + 1]) end
end
local floor, clk, recreated = clock_floor(KEYS[2])
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
  local nl = string.find(head, '\n', 5, true)
  if not nl and #head == 256 then
    head = redis.call('GETRANGE', KEYS[1], 0, 65535)
    nl = string.find(head, '\n', 5, true)
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
  -- The body only if the caller does not already hold this entry decoded.
  if id ~= ARGV[3] then v = redis.call('GET', KEYS[1]) end
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
return {code, clk, v or false, pttl or -1, lock, id or false, recreated}
