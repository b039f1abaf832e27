#include "ReplyRoute.h"

#include "switchboard/LengthPrefixedFields.h"

namespace switchboard::detail {
namespace {

constexpr std::string_view kReplyChannelPrefix = "node replies/";
constexpr char kRoutedReplyVersion = 'r';

bool takeField(std::string_view &in, std::string &value)
{
    std::string_view field;
    if (!takeLengthPrefixedField(in, field))
        return false;
    value.assign(field);
    return true;
}

bool isHex(std::string_view text) noexcept
{
    for (char c : text) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

} // namespace

bool isValidNodeId(std::string_view node) noexcept
{
    if (node.empty() || node.size() > 64)
        return false;
    for (char c : node) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

std::string formatReplyToken(std::string_view node, std::string_view nonce, std::string_view session)
{
    std::string token;
    token.reserve(node.size() + nonce.size() + session.size() + 2);
    token.append(node).append(1, '.').append(nonce).append(1, '.').append(session);
    return token;
}

std::optional<ReplyToken> parseReplyToken(std::string_view token) noexcept
{
    if (token.size() > kMaxReplyTokenLength)
        return std::nullopt;
    const auto first = token.find('.');
    if (first == std::string_view::npos)
        return std::nullopt;
    const auto second = token.find('.', first + 1);
    if (second == std::string_view::npos)
        return std::nullopt;
    ReplyToken parts{token.substr(0, first), token.substr(first + 1, second - first - 1), token.substr(second + 1)};
    if (!isValidNodeId(parts.node) || parts.nonce.size() != kReplyNonceBytes * 2 || !isHex(parts.nonce)
        || parts.session.empty())
        return std::nullopt;
    return parts;
}

std::string replyChannelOf(std::string_view node)
{
    std::string channel(kReplyChannelPrefix);
    channel += node;
    return channel;
}

std::string encodeRoutedReply(std::string_view session, std::string_view nonce, std::string_view from,
                              std::string_view payload)
{
    std::string out;
    out.reserve(session.size() + nonce.size() + from.size() + payload.size() + 24);
    out += kRoutedReplyVersion;
    putLengthPrefixedField(out, session);
    putLengthPrefixedField(out, nonce);
    putLengthPrefixedField(out, from);
    putLengthPrefixedField(out, payload);
    return out;
}

bool decodeRoutedReply(std::string_view bytes, RoutedReply &out)
{
    if (bytes.empty() || bytes.front() != kRoutedReplyVersion)
        return false;
    bytes.remove_prefix(1);
    return takeField(bytes, out.session) && takeField(bytes, out.nonce) && takeField(bytes, out.from)
        && takeField(bytes, out.payload) && bytes.empty();
}

} // namespace switchboard::detail
