-- chan_push: append one event to a channel (presence, notices).
-- KEYS: 1 list, 2 meta
-- ARGV: 1 chan, 2 type, 3 ts (ms or ''), 4 event members, 5 cap, 6 epoch
-- Returns the new event's id.
return sb_push(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
