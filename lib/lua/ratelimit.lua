-- ratelimit: fixed-window counter.
-- KEYS: 1 counter
-- ARGV: 1 window (s), 2 amount to add (0 = only look)
-- Returns {count after adding, ms until the window ends (0 if no window)}.
local n
if tonumber(ARGV[2]) > 0 then
  n = redis.call('INCRBY', KEYS[1], ARGV[2])
  if n == tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
else
  n = tonumber(redis.call('GET', KEYS[1]) or '0')
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = 0 end
return {n, ttl}
