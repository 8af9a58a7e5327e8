-- Advances a numeric cursor, never backwards (two listeners may race on it).
-- KEYS[1]: the cursor key; ARGV[1]: the new position. Returns 1.
local c = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > c then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
