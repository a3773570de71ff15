-- conv_read: mark a conversation read up to an id and tell the user's
-- other devices with a `read` event in their inbox.
-- KEYS: 1 unread hash, 2 readmark hash, 3 inbox list, 4 inbox meta
-- ARGV: 1 conv field (lower-cased), 2 upto, 3 inbox chan, 4 ts,
--       5 event members (conv, upto), 6 inbox cap, 7 epoch
-- Returns the read event's id.
redis.call('HDEL', KEYS[1], ARGV[1])
local prev = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if tonumber(ARGV[2]) > prev then redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) end
return sb_push(KEYS[3], KEYS[4], ARGV[3], 'read', ARGV[4], ARGV[5], ARGV[6], ARGV[7])
