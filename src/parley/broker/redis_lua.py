"""Lua scripts of the Redis broker. Every key a script touches shares the pool's hash tag.

KEYS[1] is always the base of a band and mode ``<prefix>:{<band>:<mode>}``: every language of
it shares the hash tag, so a match across languages (both asked for any language and waited
``language_wait``) is one script on one Cluster slot too. The scripts derive the other keys from
it; the queues are per language (``<lang>``), as the pools are:

    base:queue:<lang>         zset place -> session: everyone waiting in the pool
    base:open:<lang>          zset place -> session: waiting tickets that accept anyone
    base:i:<lang>:<interest>  zset place -> session: waiting tickets with that interest (not
                              fallen back)
    base:any                  zset place -> session: widened tickets (open, any language wanted
                              and waited for), of every language of the band and mode
    base:s:<session>   hash: st (q|p|''), node, dev, lang, seq (place), since, ints, open, any
                       ('1': widened), pair, recent, blk (the devices it blocked, as its node last
                       read them)
    base:pairs         set of live pair ids (for stats and checks)
    base:p:<pair>      hash: a, b, da, db, ended ('1' once over; then EXPIRE report_grace)
    base:l:<pair>      list: evidence ring buffer (RPUSH + LTRIM), EXPIRE with the pair

A place in line is when the wait began, in microseconds on Redis's clock (TIME): one clock for
every node. A node that queues a person again after Redis lost its state passes the place it was
given, so the person keeps it (``place`` below).
"""

from __future__ import annotations

SKIP_LIMIT = 32
SEP = "\x1f"

# The place in line of a wait that begins now, or the one given (``at``: kept by the node).
_PLACE = r"""
local function place(at)
  if at and at ~= '' then return at end
  local t = redis.call('TIME')
  return string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))
end
"""

_COMMON = (
    _PLACE
    + r"""
local base = KEYS[1]
local SEP = '\31'
local function split(s)
  local out = {}
  if s == nil or s == false or s == '' then return out end
  for part in string.gmatch(s, '([^' .. SEP .. ']+)') do out[#out + 1] = part end
  return out
end
local function skey(sid) return base .. ':s:' .. sid end
local function ikey(lang, i) return base .. ':i:' .. lang .. ':' .. i end
local function unlink(sid)
  local s = skey(sid)
  local ints, lang = unpack(redis.call('HMGET', s, 'ints', 'lang'))
  lang = lang or ''
  for _, i in ipairs(split(ints)) do redis.call('ZREM', ikey(lang, i), sid) end
  redis.call('ZREM', base .. ':open:' .. lang, sid)
  redis.call('ZREM', base .. ':queue:' .. lang, sid)
  redis.call('ZREM', base .. ':any', sid)
  redis.call('HSET', s, 'st', '')
end
-- Blocks are checked both ways: the trigger's set (``blocked``) and the candidate's, kept in its
-- record as its node last read it, so a block holds at once from the blocker's side.
local function first(zkey, sid, dev, blocked)
  local c = redis.call('ZRANGE', zkey, 0, 31, 'WITHSCORES')
  local mark = SEP .. dev .. SEP
  for k = 1, #c, 2 do
    local cand = c[k]
    if cand ~= sid then
      local cdev, cblk = unpack(redis.call('HMGET', skey(cand), 'dev', 'blk'))
      if cdev and cdev ~= dev and not blocked[cdev]
          and not (cblk and string.find(SEP .. cblk .. SEP, mark, 1, true)) then
        return cand, tonumber(c[k + 1])
      end
    end
  end
  return nil, nil
end
-- The oldest compatible partner: sharing an interest in its language; anyone there if ``open``;
-- any widened ticket of any language if ``wide`` (as matchmaker.Matchmaker._find).
local function find(sid, dev, lang, ints, open, wide, blocked)
  local best, bseq = nil, nil
  local function consider(zkey)
    local c, q = first(zkey, sid, dev, blocked)
    if c and (bseq == nil or q < bseq) then best, bseq = c, q end
  end
  for _, i in ipairs(ints) do consider(ikey(lang, i)) end
  if open then consider(base .. ':open:' .. lang) end
  if wide then consider(base .. ':any') end
  return best
end
-- End the session's pair: returns pair id, partner, partner node (or nil).
local function endpair(sid, grace)
  local s = skey(sid)
  local pid = redis.call('HGET', s, 'pair')
  if not pid or pid == '' then return nil end
  local pk = base .. ':p:' .. pid
  local a, b = unpack(redis.call('HMGET', pk, 'a', 'b'))
  local other = (a == sid) and b or a
  redis.call('HSET', pk, 'ended', '1')
  redis.call('SREM', base .. ':pairs', pid)
  redis.call('PEXPIRE', pk, grace)
  redis.call('PEXPIRE', base .. ':l:' .. pid, grace)
  redis.call('HSET', s, 'st', '', 'pair', '', 'recent', pid)
  local onode = ''
  if other and redis.call('EXISTS', skey(other)) == 1 then
    redis.call('HSET', skey(other), 'st', '', 'pair', '', 'recent', pid)
    onode = redis.call('HGET', skey(other), 'node') or ''
  end
  return {pid, other or '', onode}
end
-- Pair sid (the trigger) with partner; returns the match fields.
local function makepair(sid, partner, pid, now)
  local s, t = skey(sid), skey(partner)
  unlink(sid)
  unlink(partner)
  local sd, sints, ssince = unpack(redis.call('HMGET', s, 'dev', 'ints', 'since'))
  local td, tints, tsince, tnode = unpack(redis.call('HMGET', t, 'dev', 'ints', 'since', 'node'))
  redis.call('HSET', base .. ':p:' .. pid, 'a', sid, 'b', partner, 'da', sd, 'db', td, 'ended', '0')
  redis.call('SADD', base .. ':pairs', pid)
  redis.call('HSET', s, 'st', 'p', 'pair', pid, 'recent', '')
  redis.call('HSET', t, 'st', 'p', 'pair', pid, 'recent', '')
  local theirs = {}
  for _, i in ipairs(split(tints)) do theirs[i] = true end
  local common = {}
  for _, i in ipairs(split(sints)) do if theirs[i] then common[#common + 1] = i end end
  return {'M', pid, partner, tnode or '', ssince or tostring(now), tsince or tostring(now),
          table.concat(common, SEP)}
end
"""
)

# ARGV: sid, dev, node, now, ints, blocked, mode(start|next), pid, grace_ms, at (a kept place or
# ''), lang -> {'W'} | {'B'} | {'M', match fields..., left...} | {'Q', place, left...}
ENQUEUE = (
    _COMMON
    + r"""
local sid, dev, node, now, ints, blocked, mode, pid, grace, at, lang =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], tonumber(ARGV[9]),
  ARGV[10], ARGV[11]
local s = skey(sid)
local st = redis.call('HGET', s, 'st')
if st == 'q' then return {'W'} end
local left = nil
if st == 'p' then
  if mode == 'start' then return {'B'} end
  left = endpair(sid, grace)
end
local blk = {}
for _, d in ipairs(split(blocked)) do blk[d] = true end
local ilist = split(ints)
redis.call('HSET', s, 'node', node, 'dev', dev, 'lang', lang, 'ints', ints, 'since', now,
           'open', (#ilist == 0) and '1' or '0', 'any', '0', 'blk', blocked)
local partner = find(sid, dev, lang, ilist, #ilist == 0, false, blk)
local res
if partner then
  res = makepair(sid, partner, pid, now)
else
  local seq = place(at)
  redis.call('HSET', s, 'st', 'q', 'seq', seq)
  redis.call('ZADD', base .. ':queue:' .. lang, seq, sid)
  for _, i in ipairs(ilist) do redis.call('ZADD', ikey(lang, i), seq, sid) end
  if #ilist == 0 then redis.call('ZADD', base .. ':open:' .. lang, seq, sid) end
  res = {'Q', seq}
end
if left then for _, v in ipairs(left) do res[#res + 1] = v end end
return res
"""
)

# ARGV: sid, now, blocked, pid
FALLBACK = (
    _COMMON
    + r"""
local sid, now, blocked, pid = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local s = skey(sid)
local st, open, dev, ints, seq, lang =
  unpack(redis.call('HMGET', s, 'st', 'open', 'dev', 'ints', 'seq', 'lang'))
if st ~= 'q' or open == '1' then return {'N'} end
redis.call('HSET', s, 'open', '1', 'blk', blocked)
local blk = {}
for _, d in ipairs(split(blocked)) do blk[d] = true end
local partner = find(sid, dev, lang, split(ints), true, false, blk)
if partner then return makepair(sid, partner, pid, now) end
redis.call('ZADD', base .. ':open:' .. lang, seq, sid)
return {'W'}
"""
)

# The language wait ran out: an open ticket also meets widened tickets of every language.
# ARGV: sid, now, blocked, pid -> {'N'} (not waiting, not open, or widened already) | {'W'} | M
WIDEN = (
    _COMMON
    + r"""
local sid, now, blocked, pid = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local s = skey(sid)
local st, open, wide, dev, ints, seq, lang =
  unpack(redis.call('HMGET', s, 'st', 'open', 'any', 'dev', 'ints', 'seq', 'lang'))
if st ~= 'q' or open ~= '1' or wide == '1' then return {'N'} end
redis.call('HSET', s, 'any', '1', 'blk', blocked)
local blk = {}
for _, d in ipairs(split(blocked)) do blk[d] = true end
local partner = find(sid, dev, lang, split(ints), true, true, blk)
if partner then return makepair(sid, partner, pid, now) end
redis.call('ZADD', base .. ':any', seq, sid)
return {'W'}
"""
)

# ARGV: sid, grace_ms, forget('1': drop the session record too)
# -> {'Q'} | {'P', pair, partner, partner node} | {'N', the last pair it was in (its `matched` may
# still be on its way to the session's node, which must then drop it)}
LEAVE = (
    _COMMON
    + r"""
local sid, grace, forget = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local s = skey(sid)
local st = redis.call('HGET', s, 'st')
local res = {'N', redis.call('HGET', s, 'recent') or ''}
if st == 'q' then
  unlink(sid)
  res = {'Q'}
elseif st == 'p' then
  local left = endpair(sid, grace)
  res = {'P', left[1], left[2], left[3]}
end
if forget == '1' then redis.call('DEL', s) end
return res
"""
)

# Which pair a session may still act on (live, or ended within the grace period).
# ARGV: sid, pid -> {'L'|'E', a, b, da, db, lines...} or {'S'} (stale) or {'N'} (not paired)
LOOKUP = (
    _COMMON
    + r"""
local sid, pid = ARGV[1], ARGV[2]
local s = skey(sid)
local cur, recent = unpack(redis.call('HMGET', s, 'pair', 'recent'))
local known = (cur and cur ~= '') or (recent and recent ~= '')
if pid ~= cur and pid ~= recent then return {known and 'S' or 'N'} end
local pk = base .. ':p:' .. pid
local a, b, da, db, ended = unpack(redis.call('HMGET', pk, 'a', 'b', 'da', 'db', 'ended'))
if not a then return {known and 'S' or 'N'} end
local res = {(ended == '1') and 'E' or 'L', a, b, da, db}
for _, line in ipairs(redis.call('LRANGE', base .. ':l:' .. pid, 0, -1)) do res[#res + 1] = line end
return res
"""
)

# ARGV: pid, line, cap
APPEND = r"""
local pk = KEYS[1] .. ':p:' .. ARGV[1]
if redis.call('HGET', KEYS[1] .. ':p:' .. ARGV[1], 'ended') ~= '0' then return 0 end
local lk = KEYS[1] .. ':l:' .. ARGV[1]
redis.call('RPUSH', lk, ARGV[2])
redis.call('LTRIM', lk, -tonumber(ARGV[3]), -1)
return 1
"""

# Re-create a pair both of whose people are on one node (after Redis lost its state).
# ARGV: pid, a, b, da, db, node
RESTORE = (
    _COMMON
    + r"""
local pid, a, b, da, db, node = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
for _, x in ipairs({{a, da}, {b, db}}) do
  local st = redis.call('HGET', skey(x[1]), 'st')
  if st == 'q' then unlink(x[1]) end
  if st == 'p' and redis.call('HGET', skey(x[1]), 'pair') ~= pid then return 0 end
end
redis.call('HSET', base .. ':p:' .. pid, 'a', a, 'b', b, 'da', da, 'db', db, 'ended', '0')
redis.call('SADD', base .. ':pairs', pid)
redis.call('HSET', skey(a), 'st', 'p', 'pair', pid, 'node', node, 'dev', da, 'recent', '')
redis.call('HSET', skey(b), 'st', 'p', 'pair', pid, 'node', node, 'dev', db, 'recent', '')
return 1
"""
)

# --- question rooms ------------------------------------------------------------------------------
# KEYS[1] is the room base ``<prefix>:{rm:<band>:<language>}``: the askers and the discussers of
# one band and language (the pools that form rooms together) share its hash tag, so forming a
# room is one script on one Cluster slot.
#
#     base:asker           zset place -> session: askers waiting (places as in chat pools)
#     base:discusser       zset place -> session: discussers waiting
#     base:s:<session>     hash: st (q|p|''), node, dev, side, pool, since, seq, q (the question),
#                          blk, pair (the room), seat, recent (the room it left, for reports)
#     base:rooms           set of live room ids
#     base:r:<room>        hash: pool (the discussers'), q, qat, <seat> (its session),
#                          d:<seat> (device), in:<seat> ('1' while there), ended; EXPIRE on end
#     base:l:<room>        list: evidence ring buffer, [at, session, text, seat] per line
#     base:v:<room>        list: what the asker saw when it left ('' first), EXPIRE report_grace
#     base:w:<side>        list: the latest waits of that side, for ``expected_wait``
#     base:dev:<device>    set of the device's sessions here (BLOCK_ROOM updates their ``blk``)

ROOM_SCAN = 12  # as matchmaker.ROOM_SCAN: the oldest few on each side are looked at

_ROOM_COMMON = (
    _PLACE
    + r"""
local base = KEYS[1]
local SEP = '\31'
local SEATS = {'asker', 'stranger1', 'stranger2'}
local function skey(sid) return base .. ':s:' .. sid end
local function has(list, x)
  return list ~= '' and string.find(SEP .. list .. SEP, SEP .. x .. SEP, 1, true) ~= nil
end
local function split(s)
  local out = {}
  if not s or s == '' then return out end
  for part in string.gmatch(s, '([^' .. SEP .. ']+)') do out[#out + 1] = part end
  return out
end
-- x, y = {session, device, blocked}: not the same person or device, no block either way.
local function fits(x, y)
  return x[1] ~= y[1] and x[2] ~= y[2] and not has(x[3], y[2]) and not has(y[3], x[2])
end
-- The members still in the room but ``except``: session, node, session, node...
local function present(rk, except)
  local out = {}
  for _, seat in ipairs(SEATS) do
    local sid, here = unpack(redis.call('HMGET', rk, seat, 'in:' .. seat))
    if here == '1' and sid ~= except then
      out[#out + 1] = sid
      out[#out + 1] = redis.call('HGET', skey(sid), 'node') or ''
    end
  end
  return out
end
-- Leave the queue or the room: {'N', the last room it was in} | {'Q'} | {'A' (the asker left)
-- | 'E' (the room ended), room, the leaver's seat, then session, node of each member told}.
local function leave(sid, grace)
  local s = skey(sid)
  local st, rid, seat, side = unpack(redis.call('HMGET', s, 'st', 'pair', 'seat', 'side'))
  if st == 'q' then
    redis.call('ZREM', base .. ':' .. side, sid)
    redis.call('HSET', s, 'st', '')
    return {'Q'}
  end
  if st ~= 'p' then return {'N', redis.call('HGET', s, 'recent') or ''} end
  local rk, lk = base .. ':r:' .. rid, base .. ':l:' .. rid
  redis.call('HSET', rk, 'in:' .. seat, '0')
  redis.call('HSET', s, 'st', '', 'pair', '', 'seat', '', 'recent', rid)
  local others = present(rk, sid)
  local res = {(seat == 'asker') and 'A' or 'E', rid, seat}
  for _, v in ipairs(others) do res[#res + 1] = v end
  if seat == 'asker' then
    -- The room goes on; the asker may still report what it saw, for the grace period.
    local vk = base .. ':v:' .. rid
    redis.call('DEL', vk)
    redis.call('RPUSH', vk, '', unpack(redis.call('LRANGE', lk, 0, -1)))
    redis.call('PEXPIRE', vk, grace)
    return res
  end
  for k = 1, #others, 2 do
    redis.call('HSET', skey(others[k]), 'st', '', 'pair', '', 'seat', '', 'recent', rid)
  end
  for _, x in ipairs(SEATS) do redis.call('HSET', rk, 'in:' .. x, '0') end
  redis.call('HSET', rk, 'ended', '1')
  redis.call('SREM', base .. ':rooms', rid)
  redis.call('PEXPIRE', rk, grace)
  redis.call('PEXPIRE', lk, grace)
  return res
end
"""
)

# Queue on one side and form a room if one can form (RoomQueue's rule: the oldest asker that has
# a compatible pair, with the oldest compatible pair of discussers; all three pairwise allowed).
# ARGV: sid, dev, node, now, side, pool, question, blocked, mode(start|next), rid, grace_ms, keep,
#       at (a kept place or '')
# -> {{'W'} | {'B'} | {'Q', place, recent waits of that side...} |
#     {'M', rid, question, asker pool, discussers' pool, (session, node, since) per seat}, left}
ENQUEUE_ROOM = (
    _ROOM_COMMON
    + r"""
local sid, dev, node, now, side, pool, question, blocked, mode, rid, grace, keep, at =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10],
  tonumber(ARGV[11]), tonumber(ARGV[12]), ARGV[13]
local s = skey(sid)
local st = redis.call('HGET', s, 'st')
if st == 'q' then return {{'W'}, {}} end
local left = {}
if st == 'p' then
  if mode == 'start' then return {{'B'}, {}} end
  left = leave(sid, grace)
end
-- Blocks are only ever added: keep what BLOCK_ROOM wrote here, should the node's copy lag.
for _, d in ipairs(split(redis.call('HGET', s, 'blk'))) do
  if not has(blocked, d) then blocked = (blocked == '') and d or (blocked .. SEP .. d) end
end
local seq = place(at)
redis.call('HSET', s, 'st', 'q', 'node', node, 'dev', dev, 'side', side, 'pool', pool,
           'since', now, 'seq', seq, 'q', question, 'blk', blocked)
redis.call('ZADD', base .. ':' .. side, seq, sid)
redis.call('SADD', base .. ':dev:' .. dev, sid)

local function oldest(which)
  local out = {}
  for _, id in ipairs(redis.call('ZRANGE', base .. ':' .. which, 0, """
    + str(ROOM_SCAN - 1)
    + r""")) do
    local d, b = unpack(redis.call('HMGET', skey(id), 'dev', 'blk'))
    out[#out + 1] = {id, d or '', b or ''}
  end
  return out
end
local function find()
  if redis.call('ZCARD', base .. ':asker') == 0 then return nil end
  if redis.call('ZCARD', base .. ':discusser') < 2 then return nil end
  local ds = oldest('discusser')
  for _, a in ipairs(oldest('asker')) do
    local ok = {}
    for _, d in ipairs(ds) do if fits(a, d) then ok[#ok + 1] = d end end
    for i = 1, #ok do
      for j = i + 1, #ok do
        if fits(ok[i], ok[j]) then return {a[1], ok[i][1], ok[j][1]} end
      end
    end
  end
  return nil
end

local room = find()
if not room then
  return {{'Q', seq, unpack(redis.call('LRANGE', base .. ':w:' .. side, 0, -1))}, left}
end
local rk = base .. ':r:' .. rid
local q = redis.call('HGET', skey(room[1]), 'q') or ''
local res = {'M', rid, q}
local fields = {'q', q, 'qat', now, 'ended', '0'}
local seated = {}
for k, who in ipairs(room) do
  local seat, t = SEATS[k], skey(who)
  local wside, wpool, wnode, wdev, since =
    unpack(redis.call('HMGET', t, 'side', 'pool', 'node', 'dev', 'since'))
  redis.call('ZREM', base .. ':' .. wside, who)
  redis.call('HSET', t, 'st', 'p', 'pair', rid, 'seat', seat, 'recent', '')
  for _, v in ipairs({seat, who, 'd:' .. seat, wdev, 'in:' .. seat, '1'}) do
    fields[#fields + 1] = v
  end
  local wk = base .. ':w:' .. wside
  redis.call('LPUSH', wk, tostring(math.max(0, tonumber(now) - tonumber(since))))
  redis.call('LTRIM', wk, 0, keep - 1)
  if k == 1 then res[#res + 1] = wpool end
  if k == 2 then
    res[#res + 1] = wpool
    fields[#fields + 1] = 'pool'
    fields[#fields + 1] = wpool
  end
  seated[#seated + 1] = who
  seated[#seated + 1] = wnode
  seated[#seated + 1] = since
end
redis.call('HSET', rk, unpack(fields))
redis.call('SADD', base .. ':rooms', rid)
for _, v in ipairs(seated) do res[#res + 1] = v end
return {res, left}
"""
)

# ARGV: sid, grace_ms, forget('1': drop the session record too) -> as ``leave`` above
LEAVE_ROOM = (
    _ROOM_COMMON
    + r"""
local res = leave(ARGV[1], tonumber(ARGV[2]))
if ARGV[3] == '1' then
  local dev = redis.call('HGET', skey(ARGV[1]), 'dev')
  if dev then redis.call('SREM', base .. ':dev:' .. dev, ARGV[1]) end
  redis.call('DEL', skey(ARGV[1]))
end
return res
"""
)

# A discusser's line or event for its room: the ring buffer keeps the line (if ``at`` is set)
# and the answer names the sender's seat and whom to deliver to.
# ARGV: sid, rid, at ('' for no line), text, cap
# -> {'S'} (not in that room) | {'A'} (the asker) | {'OK', seat, session, node, ...}
RELAY_ROOM = (
    _ROOM_COMMON
    + r"""
local sid, rid, at, text, cap = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local st, cur, seat = unpack(redis.call('HMGET', skey(sid), 'st', 'pair', 'seat'))
if st ~= 'p' or cur ~= rid then return {'S'} end
if seat == 'asker' then return {'A'} end
if at ~= '' then
  local lk = base .. ':l:' .. rid
  redis.call('RPUSH', lk, cjson.encode({tonumber(at), sid, text, seat}))
  redis.call('LTRIM', lk, -cap, -1)
end
local res = {'OK', seat}
for _, v in ipairs(present(base .. ':r:' .. rid, sid)) do res[#res + 1] = v end
return res
"""
)

# The room a session may still act on (live, or left within the grace period).
# ARGV: sid, rid -> {'S'} | {'N'} | {'L'|'E', pool, q, qat, (session, device) per seat, lines...}
LOOKUP_ROOM = (
    _ROOM_COMMON
    + r"""
local sid, rid = ARGV[1], ARGV[2]
local cur, recent = unpack(redis.call('HMGET', skey(sid), 'pair', 'recent'))
local known = (cur and cur ~= '') or (recent and recent ~= '')
local no = {known and 'S' or 'N'}
if rid ~= cur and rid ~= recent then return no end
local rk = base .. ':r:' .. rid
local f = redis.call('HMGET', rk, 'ended', 'pool', 'q', 'qat', 'asker', 'd:asker',
                     'stranger1', 'd:stranger1', 'stranger2', 'd:stranger2')
if not f[1] then return no end
local live = rid == cur and f[1] == '0'
local lines = {}
if not live and f[5] == sid then  -- the asker left a room that went on: what it saw then
  lines = redis.call('LRANGE', base .. ':v:' .. rid, 0, -1)
  table.remove(lines, 1)
end
if #lines == 0 then  -- (or the room ended with the asker still in it: all of it)
  lines = redis.call('LRANGE', base .. ':l:' .. rid, 0, -1)
end
local res = {live and 'L' or 'E'}
for k = 2, 10 do res[#res + 1] = f[k] or '' end
for _, line in ipairs(lines) do res[#res + 1] = line end
return res
"""
)

# A new block: the records of both devices' sessions under this tag learn it at once. A room seats
# two *waiting* discussers, neither of them the one arriving, so their recorded ``blk`` must be
# current (in a two-person chat the arriving side's own set is enough). Run on every room tag.
# ARGV: device a, device b
BLOCK_ROOM = (
    _ROOM_COMMON
    + r"""
for _, x in ipairs({{ARGV[1], ARGV[2]}, {ARGV[2], ARGV[1]}}) do
  for _, sid in ipairs(redis.call('SMEMBERS', base .. ':dev:' .. x[1])) do
    local blk = redis.call('HGET', skey(sid), 'blk')
    if not blk then
      redis.call('SREM', base .. ':dev:' .. x[1], sid)
    elseif not has(blk, x[2]) then
      redis.call('HSET', skey(sid), 'blk', (blk == '') and x[2] or (blk .. SEP .. x[2]))
    end
  end
end
return 1
"""
)
