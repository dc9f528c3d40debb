"""Lua scripts that make each Redis Streams settle step atomic.

A script runs without interleaving on the server, so a message is never both
dead-lettered and still pending, and a stale receipt cannot acknowledge an
entry another consumer has claimed since. ``XDEL`` runs only when this group
is the stream's only reader: deleting an entry another group has not read
would lose it for that group.
"""

from __future__ import annotations

_ONLY_GROUP = """
local function only_group(stream)
  return #redis.call('XINFO', 'GROUPS', stream) == 1
end
"""

_RECEIPTS = """
-- Receipt handles from ARGV[first] on, each ENTRY_ID/DELIVERY_COUNT, all checked before anything is done.
local function parse_receipts(first)
  local out = {}
  for i = first, #ARGV do
    local id, n = string.match(ARGV[i], '^(%d+%-%d+)/(%d+)$')
    if not id then
      error({err = 'BADRECEIPT ' .. ARGV[i]})
    end
    table.insert(out, {id, tonumber(n)})
  end
  return out
end
"""

READ = """
-- KEYS: stream; ARGV: group, consumer, count.
-- XREADGROUP > without BLOCK (a script cannot block), the entries as one JSON text,
-- [[id, [field, value, ...]], ...], or nil. redis-py parses a reply element by element in Python
-- (five elements per entry, half of the engine's time per message); one bulk string is parsed by json.
local r = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3], 'STREAMS', KEYS[1], '>')
if not r then return false end
return cjson.encode(r[1][2])
"""

CLAIM = _ONLY_GROUP + """
-- KEYS: stream, dead-letter stream
-- ARGV: group, consumer, min idle ms, cursor, count, max receive count (0 = no dead-lettering)
local stream, dlq = KEYS[1], KEYS[2]
local group, consumer = ARGV[1], ARGV[2]
local max_rc = tonumber(ARGV[6])
local r = redis.call('XAUTOCLAIM', stream, group, consumer, ARGV[3], ARGV[4], 'COUNT', ARGV[5])
local out, dead, gone = {}, 0, {}
local xdel = nil
for _, e in ipairs(r[2]) do
  local id, fields = e[1], e[2]
  if not fields then
    table.insert(gone, id)
  else
    local n = redis.call('XPENDING', stream, group, id, id, 1)[1][4]
    if max_rc > 0 and n > max_rc then
      local args = {dlq, '*'}
      for _, f in ipairs(fields) do table.insert(args, f) end
      table.insert(args, 'dlq.source_id'); table.insert(args, id)
      table.insert(args, 'dlq.source_stream'); table.insert(args, stream)
      table.insert(args, 'dlq.receive_count'); table.insert(args, tostring(n - 1))
      redis.call('XADD', unpack(args))
      redis.call('XACK', stream, group, id)
      if xdel == nil then xdel = only_group(stream) end
      if xdel then redis.call('XDEL', stream, id) end
      dead = dead + 1
    else
      table.insert(out, {id, fields, n})
    end
  end
end
for _, id in ipairs(r[3] or {}) do table.insert(gone, id) end
if #gone > 0 then redis.call('XACK', stream, group, unpack(gone)) end
return {r[1], out, dead}
"""

DELETE = _ONLY_GROUP + _RECEIPTS + """
-- KEYS: stream; ARGV: group, then receipt handles (ENTRY_ID/DELIVERY_COUNT).
-- The entries still held under the count received are acknowledged (and deleted) together, a chunk at a time.
local stream, group = KEYS[1], ARGV[1]
local receipts = parse_receipts(2)
local xdel = only_group(stream)
local held = {}
for _, r in ipairs(receipts) do
  local p = redis.call('XPENDING', stream, group, r[1], r[1], 1)
  if #p == 1 and p[1][4] == r[2] then
    table.insert(held, r[1])
  end
end
for first = 1, #held, 500 do
  local chunk = {unpack(held, first, math.min(first + 499, #held))}
  redis.call('XACK', stream, group, unpack(chunk))
  if xdel then redis.call('XDEL', stream, unpack(chunk)) end
end
return #held
"""

RELEASE = _RECEIPTS + """
-- KEYS: stream; ARGV: group, consumer, ms the entry stays invisible, then receipt handles.
-- Sets the entry's last-delivery time so it is idle for exactly the visibility timeout once the
-- delay is over; XAUTOCLAIM then hands it out again. JUSTID leaves the delivery count alone.
local stream, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local receipts = parse_receipts(4)
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local at = now_ms - tonumber(ARGV[3])
local n = 0
for _, r in ipairs(receipts) do
  local p = redis.call('XPENDING', stream, group, r[1], r[1], 1)
  if #p == 1 and p[1][4] == r[2] then
    redis.call('XCLAIM', stream, group, consumer, 0, r[1], 'TIME', at, 'JUSTID')
    n = n + 1
  end
end
return n
"""

EXTEND = _RECEIPTS + """
-- KEYS: stream; ARGV: group, consumer, ms the entry counts as idle already, then receipt handles.
-- Sets the last-delivery time of entries still held under the count received, so XAUTOCLAIM leaves
-- them alone for the visibility timeout minus that; JUSTID leaves the delivery count alone.
-- Returns the entry ids no longer held (acknowledged, or claimed again since): those are left as they are.
local stream, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local receipts = parse_receipts(4)
local t = redis.call('TIME')
local at = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[3])
local lost = {}
for _, r in ipairs(receipts) do
  local p = redis.call('XPENDING', stream, group, r[1], r[1], 1)
  if #p == 1 and p[1][4] == r[2] then
    redis.call('XCLAIM', stream, group, consumer, 0, r[1], 'TIME', at, 'JUSTID')
  else
    table.insert(lost, r[1])
  end
end
return lost
"""

MOVE = _ONLY_GROUP + _RECEIPTS + """
-- KEYS: stream (a dead-letter stream), destination stream; ARGV: group, then receipt handles.
-- Each entry still held under the count received is added to the destination (its fields without the
-- dead-letter bookkeeping, dlq.*) and acknowledged (and deleted) here, in one script: never in both, never lost.
local stream, dest, group = KEYS[1], KEYS[2], ARGV[1]
local receipts = parse_receipts(2)
local xdel = only_group(stream)
local moved = 0
for _, r in ipairs(receipts) do
  local p = redis.call('XPENDING', stream, group, r[1], r[1], 1)
  local e = redis.call('XRANGE', stream, r[1], r[1])
  if #p == 1 and p[1][4] == r[2] and #e == 1 then
    local args = {dest, '*'}
    local fields = e[1][2]
    for i = 1, #fields, 2 do
      if string.sub(fields[i], 1, 4) ~= 'dlq.' then
        table.insert(args, fields[i]); table.insert(args, fields[i + 1])
      end
    end
    redis.call('XADD', unpack(args))
    redis.call('XACK', stream, group, r[1])
    if xdel then redis.call('XDEL', stream, r[1]) end
    moved = moved + 1
  end
end
return moved
"""
