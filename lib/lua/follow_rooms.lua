-- follow_rooms: the rooms a user follows and their read mark in each, for
-- a live connection to know where to start in a room its cursor does not
-- name yet (joined since): the read mark is set to the join's id.
-- KEYS: 1 user's rooms set, 2 user's readmark hash
-- ARGV: none
-- Returns {room, mark, room, mark, ...} (room display names, marks as
-- strings, '0' if none).
local out = {}
for _, r in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  out[#out + 1] = r
  out[#out + 1] = redis.call('HGET', KEYS[2], '#' .. string.lower(r)) or '0'
end
return out
