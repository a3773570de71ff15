-- send_dm: one direct message, atomically: history, both inboxes, unread,
-- both conversation indexes, the cid record.
-- KEYS: 1 dm list, 2 dm meta, 3 sender inbox list, 4 sender inbox meta,
--       5 recipient inbox list, 6 recipient inbox meta, 7 recipient unread
--       hash, 8 sender conv zset, 9 recipient conv zset, 10 cid key,
--       11 recipient user hash
-- ARGV: 1 dm chan, 2 sender inbox chan, 3 recipient inbox chan, 4 ts (ms),
--       5 event members (from,to,text,cid,...), 6 history cap, 7 inbox cap,
--       8 cid ttl (0 = no cid), 9 epoch for new channels, 10 sender display
--       name, 11 recipient display name, 12 sender lower-cased name (the
--       recipient's unread field)
-- Returns {id in the dm history, ts}; for a repeated cid the first send's
-- {id, ts}; {-1, 0} if the recipient does not exist.
local seen = sb_cid_seen(KEYS[10], ARGV[8])
if seen then return seen end
if redis.call('EXISTS', KEYS[11]) == 0 then return {-1, 0} end

local ts = ARGV[4]
local mid = sb_push(KEYS[1], KEYS[2], ARGV[1], 'msg', ts, ARGV[5], ARGV[6], ARGV[9])
local tail = ARGV[5] .. ',"mid":' .. mid
sb_push(KEYS[3], KEYS[4], ARGV[2], 'msg', ts, '"conv":"' .. ARGV[11] .. '",' .. tail, ARGV[7], ARGV[9])
sb_push(KEYS[5], KEYS[6], ARGV[3], 'msg', ts, '"conv":"' .. ARGV[10] .. '",' .. tail, ARGV[7], ARGV[9])
redis.call('HINCRBY', KEYS[7], ARGV[12], 1)
redis.call('ZADD', KEYS[8], ts, ARGV[11])
redis.call('ZADD', KEYS[9], ts, ARGV[10])
sb_cid_keep(KEYS[10], ARGV[8], mid, ts)
return {mid, tonumber(ts)}
