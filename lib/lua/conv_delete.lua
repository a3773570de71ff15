-- conv_delete: hide a conversation from one user: everything up to the
-- current last id is cleared for them only; a later message brings the
-- conversation back with only what came after.
-- KEYS: 1 clear hash, 2 conv zset, 3 unread hash, 4 readmark hash,
--       5 inbox list, 6 inbox meta, 7 history meta of the conversation
-- ARGV: 1 conv field (lower-cased), 2 zset member ('' for a room),
--       3 inbox chan, 4 ts, 5 event members (conv), 6 inbox cap, 7 epoch
-- Returns the conv_deleted event's id.
local seq = redis.call('HGET', KEYS[7], 'seq') or '0'
redis.call('HSET', KEYS[1], ARGV[1], seq)
redis.call('HSET', KEYS[4], ARGV[1], seq)
redis.call('HDEL', KEYS[3], ARGV[1])
if ARGV[2] ~= '' then redis.call('ZREM', KEYS[2], ARGV[2]) end
return sb_push(KEYS[5], KEYS[6], ARGV[3], 'conv_deleted', ARGV[4], ARGV[5], ARGV[6], ARGV[7])
