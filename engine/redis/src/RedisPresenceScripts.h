#pragma once
// The server-side scripts of the Redis presence store. Each runs atomically in Redis, so "first
// connection of the user", "last connection of the user" and the sweep of a dead node are decided
// once for the whole cluster and announced exactly once.
//
// Every script gets the key prefix P as ARGV[1] and builds its key names itself (KEYS is empty):
// the sweep touches channels it only learns inside the script, so the store needs one Redis
// instance (not Redis Cluster), as the broker does.
//
//   P{<channel>}:members   hash: user id -> info (JSON text)
//   P{<channel>}:counts    hash: user id -> connections of the user across the cluster
//   P{<channel>}:conns     hash: "<node>|<session>" -> user id
//   Pnode:<node>:conns     hash: "<channel>\n<session>" -> user id (what to remove when the node dies)
//   Pnode:<node>:channels  hash: channel -> "<subscribers> <published>" (cluster /api/channels)
//   Pnodes                 sorted set: node id -> lease expiry (ms, Redis clock)
//   P{<channel>}:occupancy hash: node id -> 1 while the node has local subscribers of the channel
//   Pnode:<node>:occupied  set: the channels the node is in P{<channel>}:occupancy of (swept with it)
// Pub/sub channel Ppresence, message: kind ('a' added, 'r' removed), then origin node, channel,
// user id and info, each as "<length>:<bytes>". Origin "" (a sweep or a resync) is heard by
// every node, the announcing one included.

namespace switchboard::redis::detail {

/// Shared by every presence script.
inline constexpr const char *kPresencePrelude = R"lua(
local P = ARGV[1]
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function field(s) return string.len(s) .. ':' .. s end
local function announce(kind, origin, ch, user, info)
  redis.call('PUBLISH', P .. 'presence', kind .. field(origin) .. field(ch) .. field(user) .. field(info))
end
local function base(ch) return P .. '{' .. ch .. '}:' end
-- One connection in; 1 when it is the user's first across the cluster (announced then).
local function addConn(node, ch, session, user, info, origin)
  local b = base(ch)
  if redis.call('HSETNX', b .. 'conns', node .. '|' .. session, user) == 0 then return 0 end
  redis.call('HSET', P .. 'node:' .. node .. ':conns', ch .. '\n' .. session, user)
  redis.call('HSET', b .. 'members', user, info)
  if redis.call('HINCRBY', b .. 'counts', user, 1) == 1 then
    announce('a', origin, ch, user, info)
    return 1
  end
  return 0
end
-- One connection out; 1 when it was the user's last across the cluster (announced then).
local function removeConn(node, ch, session, user, origin)
  local b = base(ch)
  local conn = node .. '|' .. session
  local owner = redis.call('HGET', b .. 'conns', conn)
  if not owner or owner ~= user then return 0 end
  redis.call('HDEL', b .. 'conns', conn)
  redis.call('HDEL', P .. 'node:' .. node .. ':conns', ch .. '\n' .. session)
  if redis.call('HINCRBY', b .. 'counts', user, -1) > 0 then return 0 end
  local info = redis.call('HGET', b .. 'members', user) or 'null'
  redis.call('HDEL', b .. 'counts', user)
  redis.call('HDEL', b .. 'members', user)
  announce('r', origin, ch, user, info)
  return 1
end
local function splitConn(f)
  local nl = string.find(f, '\n', 1, true)
  return string.sub(f, 1, nl - 1), string.sub(f, nl + 1)
end
)lua";

/// ARGV: P, node, channel, session, user, info. Returns 1 for the user's first connection.
inline constexpr const char *kPresenceAddScript = R"lua(
return addConn(ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[2])
)lua";

/// ARGV: P, node, channel, session, user. Returns 1 when it was the user's last connection.
inline constexpr const char *kPresenceRemoveScript = R"lua(
return removeConn(ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[2])
)lua";

/// ARGV: P, channel. Returns {user, info, connections, user, info, connections, ...}.
inline constexpr const char *kPresenceMembersScript = R"lua(
local b = base(ARGV[2])
local m = redis.call('HGETALL', b .. 'members')
local out = {}
for j = 1, #m, 2 do
  out[#out + 1] = m[j]
  out[#out + 1] = m[j + 1]
  out[#out + 1] = tonumber(redis.call('HGET', b .. 'counts', m[j]) or '0')
end
return out
)lua";

/// Makes the node's record exactly this node's connections and (re)takes its lease: after a
/// (re)connect, or when the node found its lease gone (it was swept, or Redis restarted empty).
/// Differences are announced with origin "" so that this node's subscribers hear them too.
/// ARGV: P, node, ttl ms, then channel, session, user, info per connection. Returns the number of
/// connections added and removed.
inline constexpr const char *kPresenceSyncScript = R"lua(
local node = ARGV[2]
redis.call('ZADD', P .. 'nodes', nowMs() + tonumber(ARGV[3]), node)
local want = {}
for i = 4, #ARGV, 4 do want[ARGV[i] .. '\n' .. ARGV[i + 1]] = true end
local changed = 0
local have = redis.call('HGETALL', P .. 'node:' .. node .. ':conns')
for j = 1, #have, 2 do
  if not want[have[j]] then
    local ch, session = splitConn(have[j])
    removeConn(node, ch, session, have[j + 1], '')
    redis.call('HDEL', P .. 'node:' .. node .. ':conns', have[j])
    changed = changed + 1
  end
end
for i = 4, #ARGV, 4 do
  if redis.call('HEXISTS', base(ARGV[i]) .. 'conns', node .. '|' .. ARGV[i + 1]) == 0 then
    addConn(node, ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], '')
    changed = changed + 1
  end
end
return changed
)lua";

/// The periodic beat of a node: renews its lease (only if it still holds one), replaces its
/// channel record, and sweeps every node whose lease expired: their connections are removed,
/// the users whose last connection went are announced (origin ""), their records deleted.
/// ARGV: P, node, ttl ms, then channel, "<subscribers> <published>" per local channel.
/// Returns {1 when the lease was renewed (0: the node must sync), nodes swept}.
inline constexpr const char *kPresenceBeatScript = R"lua(
local node = ARGV[2]
local nodes = P .. 'nodes'
local now = nowMs()
local out = {0, 0}
if redis.call('ZSCORE', nodes, node) then
  redis.call('ZADD', nodes, now + tonumber(ARGV[3]), node)
  out[1] = 1
end
local rec = P .. 'node:' .. node .. ':channels'
redis.call('DEL', rec)
for i = 4, #ARGV, 2 do redis.call('HSET', rec, ARGV[i], ARGV[i + 1]) end
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', nodes, '-inf', now)) do
  if dead ~= node then
    local conns = P .. 'node:' .. dead .. ':conns'
    local have = redis.call('HGETALL', conns)
    for j = 1, #have, 2 do
      local ch, session = splitConn(have[j])
      removeConn(dead, ch, session, have[j + 1], '')
    end
    for _, ch in ipairs(redis.call('SMEMBERS', P .. 'node:' .. dead .. ':occupied')) do
      redis.call('HDEL', base(ch) .. 'occupancy', dead)
    end
    redis.call('DEL', conns, P .. 'node:' .. dead .. ':channels', P .. 'node:' .. dead .. ':occupied')
    redis.call('ZREM', nodes, dead)
    out[2] = out[2] + 1
  end
end
return out
)lua";

/// A node's local subscriber count of a channel crossed zero: 0 -> 1 (ARGV[4] "1") or 1 -> 0 ("0").
/// Records it in P{channel}:occupancy and tells whether the cluster's count crossed zero too:
/// 1 when no other node with a live lease has subscribers (the caller then reports the channel
/// occupied / vacated), 0 otherwise or when the node's record did not change. Entries of nodes
/// whose lease expired are dropped on the way (their sweep removes the rest).
/// ARGV: P, node, channel, "1" | "0".
inline constexpr const char *kOccupancyScript = R"lua(
local node, ch = ARGV[2], ARGV[3]
local occ = base(ch) .. 'occupancy'
local mine = P .. 'node:' .. node .. ':occupied'
if ARGV[4] == '1' then
  if redis.call('HSET', occ, node, 1) == 0 then return 0 end
  redis.call('SADD', mine, ch)
else
  if redis.call('HDEL', occ, node) == 0 then return 0 end
  redis.call('SREM', mine, ch)
end
local now = nowMs()
for _, other in ipairs(redis.call('HKEYS', occ)) do
  if other ~= node then
    local lease = redis.call('ZSCORE', P .. 'nodes', other)
    if lease and tonumber(lease) > now then return 0 end
    redis.call('HDEL', occ, other)
  end
end
return 1
)lua";

/// The channels of every node holding a live lease: subscribers summed, published the largest
/// count of any node. ARGV: P. Returns {channel, subscribers, published, ...}.
inline constexpr const char *kPresenceChannelsScript = R"lua(
local live = redis.call('ZRANGEBYSCORE', P .. 'nodes', '(' .. nowMs(), '+inf')
local subs, pub, order = {}, {}, {}
for _, n in ipairs(live) do
  local rec = redis.call('HGETALL', P .. 'node:' .. n .. ':channels')
  for j = 1, #rec, 2 do
    local s, p = string.match(rec[j + 1], '^(%d+) (%d+)$')
    if s then
      local ch = rec[j]
      if not subs[ch] then
        subs[ch] = 0
        pub[ch] = 0
        order[#order + 1] = ch
      end
      subs[ch] = subs[ch] + tonumber(s)
      if tonumber(p) > pub[ch] then pub[ch] = tonumber(p) end
    end
  end
end
local out = {}
for _, ch in ipairs(order) do
  out[#out + 1] = ch
  out[#out + 1] = subs[ch]
  out[#out + 1] = pub[ch]
end
return out
)lua";

} // namespace switchboard::redis::detail
