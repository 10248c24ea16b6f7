-- KEYS: tag-versions hash. Returns {clock, max(clock, server time), recreated, replicas}:
-- the clock is a render's start; the second value is what a cluster's purge must stamp
-- above; replicas tells the purge whether to wait for one.
local floor, clk, recreated = clock_floor(KEYS[1])
return {fmt(clk), fmt(math.max(clk, now_us())), recreated, replicas()}
