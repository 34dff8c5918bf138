"""Lua scripts of the Redis broker. Every key a script touches shares the pool's hash tag.

KEYS[1] is always the pool base ``<prefix>:{<pool>}``; the scripts derive the other keys of that
pool from it (same hash slot, so this holds on Redis Cluster too):

    base:seq           INCR counter: arrival order in the pool
    base:queue         zset seq -> session: everyone waiting in the pool
    base:open          zset seq -> session: waiting tickets that accept anyone
    base:i:<interest>  zset seq -> session: waiting tickets with that interest (not fallen back)
    base:s:<session>   hash: st (q|p|''), node, dev, seq, since, ints, open, pair, recent,
                       blk (the devices it blocked, as its node last read them)
    base:pairs         set of live pair ids (for stats and checks)
    base:p:<pair>      hash: a, b, da, db, ended ('1' once over; then EXPIRE report_grace)
    base:l:<pair>      list: evidence ring buffer (RPUSH + LTRIM), EXPIRE with the pair
"""

from __future__ import annotations

SKIP_LIMIT = 32
SEP = "\x1f"

_COMMON = r"""
local base = KEYS[1]
local SEP = '\31'
local function split(s)
  local out = {}
  if s == nil or s == false or s == '' then return out end
  for part in string.gmatch(s, '([^' .. SEP .. ']+)') do out[#out + 1] = part end
  return out
end
local function skey(sid) return base .. ':s:' .. sid end
local function unlink(sid)
  local s = skey(sid)
  local ints = redis.call('HGET', s, 'ints')
  for _, i in ipairs(split(ints)) do redis.call('ZREM', base .. ':i:' .. i, sid) end
  redis.call('ZREM', base .. ':open', sid)
  redis.call('ZREM', base .. ':queue', sid)
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
local function find(sid, dev, ints, open, blocked)
  local best, bseq = nil, nil
  for _, i in ipairs(ints) do
    local c, q = first(base .. ':i:' .. i, sid, dev, blocked)
    if c and (bseq == nil or q < bseq) then best, bseq = c, q end
  end
  if open then
    local c, q = first(base .. ':open', sid, dev, blocked)
    if c and (bseq == nil or q < bseq) then best, bseq = c, q end
  end
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

# ARGV: sid, dev, node, now, ints, blocked, mode(start|next), pid, grace_ms
ENQUEUE = (
    _COMMON
    + r"""
local sid, dev, node, now, ints, blocked, mode, pid, grace =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], tonumber(ARGV[9])
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
redis.call('HSET', s, 'node', node, 'dev', dev, 'ints', ints, 'since', now,
           'open', (#ilist == 0) and '1' or '0', 'blk', blocked)
local partner = find(sid, dev, ilist, #ilist == 0, blk)
local res
if partner then
  res = makepair(sid, partner, pid, now)
else
  local seq = redis.call('INCR', base .. ':seq')
  redis.call('HSET', s, 'st', 'q', 'seq', seq)
  redis.call('ZADD', base .. ':queue', seq, sid)
  for _, i in ipairs(ilist) do redis.call('ZADD', base .. ':i:' .. i, seq, sid) end
  if #ilist == 0 then redis.call('ZADD', base .. ':open', seq, sid) end
  res = {'Q'}
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
local st, open, dev, ints, seq = unpack(redis.call('HMGET', s, 'st', 'open', 'dev', 'ints', 'seq'))
if st ~= 'q' or open == '1' then return {'N'} end
redis.call('HSET', s, 'open', '1', 'blk', blocked)
local blk = {}
for _, d in ipairs(split(blocked)) do blk[d] = true end
local partner = find(sid, dev, split(ints), true, blk)
if partner then return makepair(sid, partner, pid, now) end
redis.call('ZADD', base .. ':open', seq, sid)
return {'W'}
"""
)

# ARGV: sid, grace_ms, forget('1': drop the session record too)
LEAVE = (
    _COMMON
    + r"""
local sid, grace, forget = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local s = skey(sid)
local st = redis.call('HGET', s, 'st')
local res = {'N'}
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

# --- quotas shared by every node (one key per script, so any Cluster slot) --------------------
# Times come from the Redis server (TIME), so the nodes' clocks need not agree.
_NOW_MS = r"""
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
"""

# Token bucket. KEYS[1]: hash {tokens, stamp}. ARGV: rate per second, burst -> 1 taken | 0
TAKE = (
    _NOW_MS
    + r"""
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens, stamp = tonumber(v[1]), tonumber(v[2])
if tokens == nil or stamp == nil then tokens, stamp = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate / 1000)
local ok = 0
if tokens >= 1 then tokens = tokens - 1; ok = 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return ok
"""
)

# Concurrent holders, counted per node so a dead node's share lapses on its own.
# KEYS[1]: hash {<node>: count, <node>:t: lapse ms}. ARGV: node, limit, ttl_ms -> 1 | 0
HOLD = (
    _NOW_MS
    + r"""
local node, limit, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local all = redis.call('HGETALL', KEYS[1])
local fields = {}
for i = 1, #all, 2 do fields[all[i]] = all[i + 1] end
local total = 0
for f, v in pairs(fields) do
  if string.sub(f, -2) ~= ':t' then
    if tonumber(fields[f .. ':t'] or '0') > now then
      total = total + tonumber(v)
    else
      redis.call('HDEL', KEYS[1], f, f .. ':t')
    end
  end
end
if total >= limit then return 0 end
redis.call('HINCRBY', KEYS[1], node, 1)
redis.call('HSET', KEYS[1], node .. ':t', now + ttl)
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
"""
)

# ARGV: node, count (this node's holders now; 0 drops its share), ttl_ms
SET_HELD = (
    _NOW_MS
    + r"""
local node, count, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if count <= 0 then
  redis.call('HDEL', KEYS[1], node, node .. ':t')
  return 0
end
redis.call('HSET', KEYS[1], node, count, node .. ':t', now + ttl)
redis.call('PEXPIRE', KEYS[1], ttl)
return count
"""
)
