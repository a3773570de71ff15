-- room_leave: remove a member and announce it, in the room and with a
-- `left` event in the user's inbox (their live connections stop following).
-- KEYS: 1 room hash, 2 members set, 3 user's rooms set, 4 room list,
--       5 room meta, 6 user's readmark hash, 7 user's inbox list,
--       8 user's inbox meta
-- ARGV: 1 user display name, 2 room display name, 3 room chan, 4 ts,
--       5 leave event members, 6 history cap, 7 epoch, 8 readmark field,
--       9 user's inbox chan, 10 inbox cap, 11 left event members
-- Returns 1 left, 0 was not a member, -1 no such room.
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('SREM', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('SREM', KEYS[3], ARGV[2])
sb_push(KEYS[4], KEYS[5], ARGV[3], 'leave', ARGV[4], ARGV[5], ARGV[6], ARGV[7])
redis.call('HDEL', KEYS[6], ARGV[8])
sb_push(KEYS[7], KEYS[8], ARGV[9], 'left', ARGV[4], ARGV[11], ARGV[10], ARGV[7])
return 1
