-- KEYS: tag-versions hash. Returns the purge clock (recreating the hash when it was lost).
local floor, clk = clock_floor(KEYS[1])
return clk
