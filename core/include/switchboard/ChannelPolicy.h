#pragma once
// ChannelPolicy: what a full outbox does with the publications of a channel (slow consumers).

#include "switchboard/Publication.h"

#include <string>
#include <string_view>
#include <vector>

namespace switchboard {

/// A channel's slow-consumer policy: what happens to its publications for a session whose
/// outbox is full, or still holds frames its socket has not taken yet. Policies act on pending
/// frames only: bytes a transport already handed to its socket (or the kernel) are gone.
enum class ChannelPolicy : unsigned char {
    /// The new frame is not queued for that session and counted as a drop (HubCounters::drops,
    /// SessionStats::dropped). What every channel did before per-channel policies.
    DropNewest,
    /// The outbox makes room by dropping its oldest pending frames, whatever they carry; each
    /// is counted as a drop. A frame larger than the outbox's byte limit is dropped itself.
    DropOldest,
    /// A pending frame of the same conflation key (Frame::conflationKey) is replaced in place
    /// by the new one: the lagging session keeps only the newest pending frame per key, at the
    /// queue position of the first. Counted as conflated, not as a drop. With no pending frame of
    /// the key and no room, the new frame is dropped as with DropNewest.
    LatestOnly,
    /// The session is closed with DisconnectCode::SlowConsumer (3001) when its outbox is full.
    Disconnect,
};

/// The policy of the channels whose name starts with `prefix` (HubOptions::channelPolicies).
struct ChannelPolicyRule {
    std::string prefix;  ///< "" matches every channel
    ChannelPolicy policy = ChannelPolicy::DropNewest;
    /// LatestOnly only: a top-level field of the publications' JSON data whose value splits the
    /// channel into conflation keys (one newest frame per sensor id, say). Empty: one key per
    /// channel. A publication without that field (or binary, or not a JSON object) conflates
    /// with the other such publications of its channel, under the channel's own key.
    std::string keyField;

    friend bool operator==(const ChannelPolicyRule &, const ChannelPolicyRule &) = default;
};

/// `drop-newest`, `drop-oldest`, `latest-only`, `disconnect`.
std::string_view channelPolicyName(ChannelPolicy policy);

/// Parses POLICY: `drop-newest`, `drop-oldest`, `latest-only`, `latest-only:FIELD` or
/// `disconnect` into `rule.policy` and `rule.keyField`. Throws std::invalid_argument naming the
/// accepted spellings otherwise (gateways refuse such a configuration at startup).
void parseChannelPolicy(std::string_view text, ChannelPolicyRule &rule);

/// Parses `PREFIX=POLICY` (the gateways' `--channel-policy`); the prefix may be empty and ends at
/// the first `=` (channel names hold no `=`). Throws std::invalid_argument with the text.
ChannelPolicyRule parseChannelPolicyRule(std::string_view text);

/// The rule of `channel` among `rules`: the longest matching prefix (PrefixRules.h), or null.
const ChannelPolicyRule *channelPolicyRuleFor(const std::vector<ChannelPolicyRule> &rules, std::string_view channel);
/// The conflation key of a publication on a LatestOnly channel (Frame::conflationKey): the
/// channel's name; with a key field (`latest-only:FIELD`, null: none), followed by a NUL and the
/// field's value (a string's characters, other values as JSON text). Publications without the
/// field (binary, not an object, field absent) keep the channel's name alone. Parses the data
/// once: called once per publication, never per subscriber.
std::string conflationKeyOf(std::string_view channel, const std::string *keyField, const Publication &publication);

} // namespace switchboard
