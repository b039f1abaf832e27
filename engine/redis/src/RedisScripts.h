#pragma once
// The server-side scripts of the Redis broker. Each runs atomically in Redis, so a publication's
// offset, history entry, epoch and cross-node notification can never be seen half done.
//
// Keys per channel (hash-tagged on the channel so both land in one Redis Cluster slot):
//   <prefix>{<channel>}:meta    hash: e = epoch, t = top offset
//   <prefix>{<channel>}:stream  stream: entry id <offset>-0, fields b = body, m = stored at (ms, Redis clock)
//   <prefix>{<channel>}:idem:<scoped key>  string "<offset>:<epoch>" of the publication made
//                                           with that idempotency key; expires after the window
// Pub/sub channel: <prefix>pub:<channel>, message "<offset>:<epoch>:<body>" (PublicationCodec.h).

#include <string>
#include <string_view>

namespace switchboard::redis::detail {

/// The part both publish scripts share: with `meta`, `stream` (KEYS) and `ttl` set, creates the
/// stream's epoch when there is none, assigns the next offset (`top`, `id`), stores the body
/// with its time, renews the TTL and publishes "<offset>:<epoch>:<body>" (ARGV as below).
inline constexpr std::string_view kStoreAndPublishLua = R"lua(local epoch = redis.call('HGET', meta, 'e')
if not epoch then
  epoch = ARGV[4]
  redis.call('HSET', meta, 'e', epoch)
  redis.call('DEL', stream)
end
local top = redis.call('HINCRBY', meta, 't', 1)
local now = redis.call('TIME')
local id = string.format('%d', top)
redis.call('XADD', stream, 'MAXLEN', '~', ARGV[2], id .. '-0', 'b', ARGV[1],
           'm', string.format('%d', tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)))
if ttl > 0 then
  redis.call('PEXPIRE', meta, ttl)
  redis.call('PEXPIRE', stream, ttl)
end
redis.call('PUBLISH', ARGV[5], id .. ':' .. epoch .. ':' .. ARGV[1])
)lua";

/// KEYS: meta, stream. ARGV: body, size, ttl ms (0: none), epoch for a new stream, pub/sub channel.
/// Returns {offset, epoch}.
inline const std::string kPublishScript = std::string(R"lua(
local meta, stream = KEYS[1], KEYS[2]
local ttl = tonumber(ARGV[3])
)lua") + std::string(kStoreAndPublishLua) + "return {top, epoch}\n";

/// The publish of a publication with an idempotency key: kPublishScript (or, for a channel that
/// keeps no history, the bare PUBLISH with offset 0) made atomic with recording the key, so that
/// two nodes publishing the same key see one publication. KEYS: meta, stream, key record.
/// ARGV: body, size (0: no history: only PUBLISH), ttl ms, epoch for a new stream, pub/sub
/// channel, window ms. Returns {offset, epoch, 0} for a new publication and {offset, epoch, 1}
/// for a repeat of a key still recorded (nothing stored or published again).
inline const std::string kIdempotentPublishScript = std::string(R"lua(
local meta, stream, record = KEYS[1], KEYS[2], KEYS[3]
local original = redis.call('GET', record)
if original then
  local sep = string.find(original, ':', 1, true)
  return {tonumber(string.sub(original, 1, sep - 1)), string.sub(original, sep + 1), 1}
end
local size, ttl = tonumber(ARGV[2]), tonumber(ARGV[3])
if size == 0 then
  redis.call('PUBLISH', ARGV[5], '0::' .. ARGV[1])
  redis.call('SET', record, '0:', 'PX', ARGV[6])
  return {0, '', 0}
end
)lua") + std::string(kStoreAndPublishLua) + R"lua(redis.call('SET', record, id .. ':' .. epoch, 'PX', ARGV[6])
return {top, epoch, 0}
)lua";

/// KEYS: meta, stream. ARGV: since offset ('' = none), since epoch, limit (0: all), size, ttl ms,
/// create ('1': make an empty stream when there is none), epoch for a new stream, position only ('1').
/// Returns {epoch, top, complete (0/1), id, body, id, body, ...}, oldest first. A position of
/// another epoch (or beyond the top) gets everything held, complete 0, as MemoryBroker. Entries beyond
/// `size` from the top (approximate trimming keeps a few) and entries older than the TTL count
/// as evicted, as in MemoryBroker.
inline constexpr const char *kHistoryScript = R"lua(
local meta, stream = KEYS[1], KEYS[2]
local limit, size, ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local epoch = redis.call('HGET', meta, 'e')
if not epoch then
  if ARGV[6] ~= '1' or size == 0 then return {'', 0, 0} end
  epoch = ARGV[7]
  redis.call('HSET', meta, 'e', epoch, 't', 0)
  redis.call('DEL', stream)
  if ttl > 0 then redis.call('PEXPIRE', meta, ttl) end
end
local top = tonumber(redis.call('HGET', meta, 't') or '0')
local out = {epoch, top, 0}
if ARGV[8] == '1' or top == 0 then
  if ARGV[1] ~= '' and ARGV[2] == epoch and tonumber(ARGV[1]) == top then out[3] = 1 end
  return out
end
local oldest = top - size + 1
if oldest < 1 then oldest = 1 end
local cutoff = -1
if ttl > 0 then
  local t = redis.call('TIME')
  cutoff = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - ttl
end
local function alive(e) return cutoff < 0 or tonumber(e[2][4]) > cutoff end
if ARGV[1] == '' then
  local kept = {}
  for _, e in ipairs(redis.call('XRANGE', stream, string.format('%d', oldest), '+')) do
    if alive(e) then kept[#kept + 1] = e end
  end
  local first = 1
  if limit > 0 and #kept > limit then first = #kept - limit + 1 end
  for i = first, #kept do
    out[#out + 1] = kept[i][1]
    out[#out + 1] = kept[i][2][2]
  end
  return out
end
local since = tonumber(ARGV[1])
local foreign = ARGV[2] ~= epoch or since > top
if foreign then since = 0 end
if since == top and not foreign then
  out[3] = 1
  return out
end
local from = since + 1
local start = from
if start < oldest then start = oldest end
local firstHeld = nil
local n = 0
local truncated = false
for _, e in ipairs(redis.call('XRANGE', stream, string.format('%d', start), '+')) do
  if alive(e) then
    if firstHeld == nil then firstHeld = tonumber(string.match(e[1], '^(%d+)')) end
    if limit > 0 and n == limit then
      truncated = true
      break
    end
    n = n + 1
    out[#out + 1] = e[1]
    out[#out + 1] = e[2][2]
  end
end
if firstHeld ~= nil and firstHeld <= from and not truncated and not foreign then out[3] = 1 end
return out
)lua";

} // namespace switchboard::redis::detail
