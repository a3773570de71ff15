-- prelude: helpers shared by every script; build-aux/embed-lua.sh puts this
-- file in front of each one, so Redis reports a script's line numbers
-- shifted by the length of this prelude.
--
-- sb_push(list, meta, chan, type, ts, members, cap, epoch) -> id
-- Appends one event to a channel: allocates the next id from meta.seq, sets
-- the channel's epoch once, builds the event JSON and trims the list to cap.
-- `members` is already-escaped JSON object members (from event_members() in
-- C) or ''. chan and type are validated identifiers, safe to inline.
local function sb_push(list, meta, chan, typ, ts, members, cap, epoch)
  redis.call('HSETNX', meta, 'epoch', epoch)
  local id = redis.call('HINCRBY', meta, 'seq', 1)
  local ev = '{"type":"' .. typ .. '","chan":"' .. chan .. '","id":' .. id
  if ts ~= '' then ev = ev .. ',"ts":' .. ts end
  if members ~= '' then ev = ev .. ',' .. members end
  ev = ev .. '}'
  redis.call('RPUSH', list, ev)
  redis.call('LTRIM', list, -tonumber(cap), -1)
  return id
end

-- sb_cid_seen(key, ttl) -> {id, ts} of the first send with this client id,
-- or nil (also when ttl is 0: the send has no cid).
local function sb_cid_seen(key, ttl)
  if tonumber(ttl) == 0 then return nil end
  local prev = redis.call('GET', key)
  if not prev then return nil end
  local id, ts = string.match(prev, '^(%d+) (%d+)$')
  return {tonumber(id), tonumber(ts)}
end

-- sb_cid_keep(key, ttl, id, ts): remember a send's result for its cid.
local function sb_cid_keep(key, ttl, id, ts)
  if tonumber(ttl) > 0 then redis.call('SET', key, id .. ' ' .. ts, 'EX', ttl) end
end

-- end of prelude
