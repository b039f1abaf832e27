#pragma once
// ReplyRoute: how a client's reply to a publication finds its publisher (docs/protocol.md,
// "Replies between clients"): the reply token a `message` frame carries, the internal channel
// each node listens to for replies from other nodes, and the bytes a routed reply travels as.

#include <optional>
#include <string>
#include <string_view>

namespace switchboard::detail {

/// What a reply token names: the publisher's node, the slot's random nonce, the publishing
/// session. Written "<node>.<nonce>.<session>"; the node and nonce never hold a '.', the session
/// id is the rest (whatever it holds).
struct ReplyToken {
    std::string_view node;
    std::string_view nonce;
    std::string_view session;
};

/// Node ids: 1 to 64 of [A-Za-z0-9_-].
bool isValidNodeId(std::string_view node) noexcept;
std::string formatReplyToken(std::string_view node, std::string_view nonce, std::string_view session);
/// Views into `token`; nullopt when it is not one (empty parts, a node that is not a node id,
/// a nonce that is not lower-case hex, longer than kMaxReplyTokenLength).
std::optional<ReplyToken> parseReplyToken(std::string_view token) noexcept;
constexpr std::size_t kMaxReplyTokenLength = 256;
constexpr std::size_t kReplyNonceBytes = 16; ///< 32 hex digits

/// The broker channel node `node` listens to for routed replies. It holds a space, which no
/// valid channel name does (validateChannelName), so no client can subscribe or publish to it.
std::string replyChannelOf(std::string_view node);

/// A reply on its way to another node: carried as the `data` of a binary Publication (binary:
/// never kept in history) on the publisher node's reply channel.
struct RoutedReply {
    std::string session; ///< the publishing session
    std::string nonce;
    std::string from;    ///< the replying session
    std::string payload; ///< JSON text
};
std::string encodeRoutedReply(std::string_view session, std::string_view nonce, std::string_view from,
                              std::string_view payload);
/// False when `bytes` is not one encodeRoutedReply() made.
bool decodeRoutedReply(std::string_view bytes, RoutedReply &out);

} // namespace switchboard::detail
