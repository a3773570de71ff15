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

-- end of prelude
