-- presence_expire: take the users whose expiry has passed off the set.
-- Atomic, so exactly one process announces each of them offline.
-- KEYS: 1 presence zset
-- ARGV: 1 now (ms), 2 at most this many
-- Returns the lower-cased names removed.
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #gone > 0 then redis.call('ZREM', KEYS[1], unpack(gone)) end
return gone
