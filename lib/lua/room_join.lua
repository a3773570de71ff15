-- room_join: add a member and announce it; what came before the join
-- does not count as unread.
-- KEYS: 1 room hash, 2 members set, 3 user's rooms set, 4 room list,
--       5 room meta, 6 user's readmark hash, 7 user's clear hash
-- ARGV: 1 user display name, 2 room display name, 3 room chan, 4 ts,
--       5 join event members, 6 history cap, 7 epoch, 8 readmark field
-- Returns 1 joined, 0 already a member, -1 no such room.
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('SADD', KEYS[3], ARGV[2])
local id = sb_push(KEYS[4], KEYS[5], ARGV[3], 'join', ARGV[4], ARGV[5], ARGV[6], ARGV[7])
redis.call('HSET', KEYS[6], ARGV[8], id)
redis.call('HDEL', KEYS[7], ARGV[8])
return 1
