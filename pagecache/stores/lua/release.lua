-- KEYS: lock key. ARGV: token, uncacheable-marker ms ('0' = just release).
-- Releases the lock only if this token (or the uncacheable marker) still holds it.
local cur = redis.call('GET', KEYS[1])
if cur ~= ARGV[1] and cur ~= 'U' then return 0 end
if ARGV[2] ~= '0' then
  redis.call('SET', KEYS[1], 'U', 'PX', ARGV[2])
else
  redis.call('DEL', KEYS[1])
end
return 1
