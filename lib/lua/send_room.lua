-- send_room: one room message, if the sender is a member.
-- KEYS: 1 room list, 2 room meta, 3 members set, 4 cid key, 5 room hash
-- ARGV: 1 room chan, 2 ts (ms), 3 event members, 4 history cap,
--       5 cid ttl (0 = no cid), 6 epoch for a new channel, 7 sender display
-- Returns {id, ts}; for a repeated cid the first send's {id, ts};
-- {-1, 0} no such room; {-2, 0} sender not a member.
local seen = sb_cid_seen(KEYS[4], ARGV[5])
if seen then return seen end
if redis.call('EXISTS', KEYS[5]) == 0 then return {-1, 0} end
if redis.call('SISMEMBER', KEYS[3], ARGV[7]) == 0 then return {-2, 0} end
local id = sb_push(KEYS[1], KEYS[2], ARGV[1], 'msg', ARGV[2], ARGV[3], ARGV[4], ARGV[6])
sb_cid_keep(KEYS[4], ARGV[5], id, ARGV[2])
return {id, tonumber(ARGV[2])}
