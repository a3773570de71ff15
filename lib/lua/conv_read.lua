-- conv_read: mark a conversation read up to an id and tell the user's
-- other devices with a `read` event in their inbox. For a direct chat the
-- unread count becomes the peer's messages after the mark (reading part
-- of a conversation leaves the rest unread); rooms count at read time.
-- KEYS: 1 unread hash, 2 readmark hash, 3 inbox list, 4 inbox meta,
--       5 the conversation's history list, 6 its meta
-- ARGV: 1 conv field (lower-cased), 2 upto, 3 inbox chan, 4 ts,
--       5 event members (conv, upto), 6 inbox cap, 7 epoch,
--       8 the peer's display name ('' for a room), 9 most entries to scan
-- Returns the read event's id, or -1 if upto is past the conversation's
-- last id (refused, never clamped).
local seq = tonumber(redis.call('HGET', KEYS[6], 'seq') or '0')
local mark = tonumber(ARGV[2])
if mark > seq then return -1 end
local prev = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if mark > prev then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
else
  mark = prev
end
if ARGV[8] ~= '' then
  local len = redis.call('LLEN', KEYS[5])
  local first = seq - len + 1
  local lo = math.max(mark + 1, first, seq - tonumber(ARGV[9]) + 1)
  local n = 0
  if lo <= seq then
    local needle = '"from":"' .. ARGV[8] .. '"'
    for _, e in ipairs(redis.call('LRANGE', KEYS[5], lo - first, -1)) do
      if string.find(e, needle, 1, true) then n = n + 1 end
    end
  end
  if n > 0 then
    redis.call('HSET', KEYS[1], ARGV[1], n)
  else
    redis.call('HDEL', KEYS[1], ARGV[1])
  end
end
return sb_push(KEYS[3], KEYS[4], ARGV[3], 'read', ARGV[4], ARGV[5], ARGV[6], ARGV[7])
