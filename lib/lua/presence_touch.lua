-- presence_touch: a user has a live connection; push their expiry out.
-- KEYS: 1 presence zset
-- ARGV: 1 lower-cased user, 2 now (ms), 3 new expiry (ms)
-- Returns 1 if the user was offline before (announce them), else 0.
local prev = redis.call('ZSCORE', KEYS[1], ARGV[1])
-- GT: never shorten an expiry another process pushed further; still adds.
redis.call('ZADD', KEYS[1], 'GT', ARGV[3], ARGV[1])
if not prev or tonumber(prev) < tonumber(ARGV[2]) then return 1 end
return 0
