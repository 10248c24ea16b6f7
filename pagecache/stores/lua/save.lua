-- KEYS: entry key, tag-versions hash, lock key. ARGV: value, ms to live, lock token ('' = none).
-- Stores the entry, notes the longest entry life (how long purge versions must be kept),
-- and releases the render lock if this token holds it.
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local ok, life = pcall(redis.call, 'HGET', KEYS[2], 'life')
if ok and (tonumber(life) or -1) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[2], 'life', ARGV[2])
end
if ARGV[3] ~= '' then
  local cur = redis.call('GET', KEYS[3])
  if cur == ARGV[3] or cur == 'U' then redis.call('DEL', KEYS[3]) end
end
return 1
