#pragma once
// Encoders for the frames the Hub fans out (docs/protocol.md): message, presence, binary.
// Each is called once per publication / presence change; the result is shared by all recipients.

#include "switchboard/Frame.h"
#include "switchboard/PresenceStore.h"
#include "switchboard/Publication.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard {

/// `{"op":"message","channel":..,"event":..,"data":<data verbatim>,"offset":..,"ts":..,"sender":..}`
/// `data` must already be valid JSON text; it is copied in, never re-parsed. A publication marked
/// `compress` gives a frame marked Frame::compress. `policy` and `conflationKey` go to the
/// frame's Frame::policy and Frame::conflationKey (the Hub passes its channel's policy).
SharedFrame encodeMessageFrame(const Publication &publication, ChannelPolicy policy = ChannelPolicy::DropNewest,
                               std::string conflationKey = {});
/// The parts of a frame made by encodeMessageFrame(); `data` views the frame's JSON text of the
/// payload verbatim (not re-serialized), so another encoding of the publication carries it
/// byte for byte.
struct MessageFrameView {
    std::string channel;
    std::string event;
    std::string sender;    ///< empty for server publishes
    std::string replyTo;   ///< empty when no reply was asked for
    std::string_view data; ///< into the frame's bytes
    std::uint64_t offset = 0;
    std::int64_t timestampMs = 0;
};
/// Reads a frame made by encodeMessageFrame() (its layout, without parsing the payload);
/// nullopt when it is not one.
std::optional<MessageFrameView> decodeMessageFrame(std::string_view frame);
/// The `message` frame of a publication sent to one subscriber right after its `subscribed`
/// because the subscribe asked for `latest` (docs/protocol.md): encodeMessageFrame()'s members,
/// then `"epoch":<epoch>,"latest":true`. decodeMessageFrame() does not read it (it is not a
/// broadcast: the binary encoding writes it member by member).
SharedFrame encodeLatestMessageFrame(const Publication &publication, std::string_view epoch);
/// Appends the message object *without* `op` (used inside `subscribed.publications`).
void appendPublicationObject(std::string &out, const Publication &publication);
/// Binary frame: 0x01 | u16 channel len | channel | u16 event len | event | bytes.
/// `policy` and `conflationKey` as for encodeMessageFrame().
SharedFrame encodeBinaryFrame(std::string_view channel, std::string_view event, std::string_view bytes,
                              ChannelPolicy policy = ChannelPolicy::DropNewest, std::string conflationKey = {});
/// The parts of a binary frame, viewing into the frame's bytes.
struct BinaryFrameView {
    std::string_view channel;
    std::string_view event;
    std::string_view bytes;
};
/// Reads a frame made by encodeBinaryFrame(); nullopt when it is not one (wrong tag, lengths
/// past the end).
std::optional<BinaryFrameView> decodeBinaryFrame(std::string_view frame);
/// presence:member_added / presence:member_removed
SharedFrame encodePresenceChangeFrame(std::string_view event, std::string_view channel, const Member &member);
/// presence:subscription_succeeded with the roster.
SharedFrame encodePresenceRosterFrame(std::string_view channel, const std::vector<Member> &members);

/// Appends `text` as a JSON string literal (quotes and escapes) to `out`.
void appendJsonString(std::string &out, std::string_view text);

} // namespace switchboard
