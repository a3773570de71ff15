-- room_create: create a room and make the creator its first member.
-- KEYS: 1 room hash, 2 rooms set, 3 members set, 4 creator's rooms set,
--       5 room list, 6 room meta, 7 creator's readmark hash,
--       8 creator's inbox list, 9 creator's inbox meta
-- ARGV: 1 room display name, 2 lower-cased room name, 3 title,
--       4 creator display name, 5 ts, 6 room chan, 7 join event members,
--       8 history cap, 9 epoch, 10 readmark field ('#' + lower-cased room),
--       11 creator's inbox chan, 12 inbox cap, 13 joined event members
-- An empty creator (chatctl) creates the room with no member; KEYS 3-9
-- are then not touched. The creator's inbox gets a `joined` event, so
-- their live connections start following the room.
-- Returns 1 created, 0 taken.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'name', ARGV[1], 'title', ARGV[3],
           'creator', ARGV[4], 'created', ARGV[5])
redis.call('SADD', KEYS[2], ARGV[2])
if ARGV[4] == '' then return 1 end
redis.call('SADD', KEYS[3], ARGV[4])
redis.call('SADD', KEYS[4], ARGV[1])
local id = sb_push(KEYS[5], KEYS[6], ARGV[6], 'join', ARGV[5], ARGV[7], ARGV[8], ARGV[9])
redis.call('HSET', KEYS[7], ARGV[10], id)
sb_push(KEYS[8], KEYS[9], ARGV[11], 'joined', ARGV[5], ARGV[13] .. ',"rid":' .. id, ARGV[12], ARGV[9])
return 1
