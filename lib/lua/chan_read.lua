-- chan_read: events of one channel in an id range, by index arithmetic
-- (ids are consecutive, so the first kept id is seq - len + 1).
-- KEYS: 1 list, 2 meta
-- ARGV: 1 after (ids > after), 2 before (ids < before; 0 = no bound),
--       3 limit (max events), 4 '1' = the newest `limit` of the range,
--       '0' = the oldest
-- Returns {epoch or '', seq, first kept id, {event...}}.
local seq = tonumber(redis.call('HGET', KEYS[2], 'seq') or '0')
local epoch = redis.call('HGET', KEYS[2], 'epoch') or ''
local len = redis.call('LLEN', KEYS[1])
local first = seq - len + 1
local lo = math.max(tonumber(ARGV[1]) + 1, first)
local hi = seq
local before = tonumber(ARGV[2])
if before > 0 then hi = math.min(before - 1, seq) end
local limit = tonumber(ARGV[3])
if hi < lo or limit <= 0 then return {epoch, seq, first, {}} end
if ARGV[4] == '1' then
  lo = math.max(lo, hi - limit + 1)
else
  hi = math.min(hi, lo + limit - 1)
end
return {epoch, seq, first, redis.call('LRANGE', KEYS[1], lo - first, hi - first)}
