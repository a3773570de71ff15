-- room_join: add a member and announce it; what came before the join
-- does not count as unread.
-- The user's inbox gets a `joined` event (with the join's id in the room
-- as "rid"), so their live connections start following the room there.
-- KEYS: 1 room hash, 2 members set, 3 user's rooms set, 4 room list,
--       5 room meta, 6 user's readmark hash, 7 user's clear hash,
--       8 user's inbox list, 9 user's inbox meta
-- ARGV: 1 user display name, 2 room display name, 3 room chan, 4 ts,
--       5 join event members, 6 history cap, 7 epoch, 8 readmark field,
--       9 user's inbox chan, 10 inbox cap, 11 joined event members
-- Returns 1 joined, 0 already a member, -1 no such room.
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('SADD', KEYS[3], ARGV[2])
local id = sb_push(KEYS[4], KEYS[5], ARGV[3], 'join', ARGV[4], ARGV[5], ARGV[6], ARGV[7])
redis.call('HSET', KEYS[6], ARGV[8], id)
redis.call('HDEL', KEYS[7], ARGV[8])
sb_push(KEYS[8], KEYS[9], ARGV[9], 'joined', ARGV[4], ARGV[11] .. ',"rid":' .. id, ARGV[10], ARGV[7])
return 1
