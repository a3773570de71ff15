-- register: create a user unless the (lower-cased) name is taken.
-- KEYS: 1 user hash, 2 users set
-- ARGV: 1 display name, 2 lower-cased name, 3 password hash, 4 created (ms)
-- Returns 1 created, 0 taken.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'name', ARGV[1], 'pw', ARGV[3], 'created', ARGV[4])
redis.call('SADD', KEYS[2], ARGV[2])
return 1
