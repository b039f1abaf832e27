#include "PublicationCodec.h"

#include "switchboard/LengthPrefixedFields.h"

#include <charconv>
#include <cstdint>

namespace switchboard::redis::detail {
namespace {

using switchboard::detail::putLengthPrefixedField;
using switchboard::detail::takeLengthPrefixedField;

template <typename Number>
bool toNumber(std::string_view text, Number &out)
{
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && end == text.data() + text.size() && !text.empty();
}

} // namespace

std::string encodePublicationBody(const Publication &p, std::string_view node)
{
    std::string out;
    out.reserve(p.data.size() + p.event.size() + p.sender.size() + node.size() + p.replyTo.size() + 64);
    // Version 2 adds the reply token; without one the body stays version 1, which nodes that do
    // not know replies read too.
    out += p.replyTo.empty() ? '1' : '2';
    putLengthPrefixedField(out, node);
    putLengthPrefixedField(out, p.event);
    putLengthPrefixedField(out, std::to_string(p.timestampMs));
    putLengthPrefixedField(out, p.sender);
    putLengthPrefixedField(out, p.exceptSession);
    // Flags: bit 0 binary, bit 1 compress ("0" and "1" as before when not compressed).
    const char flags[2] = {static_cast<char>('0' + (p.binary ? 1 : 0) + (p.compress ? 2 : 0)), '\0'};
    putLengthPrefixedField(out, flags);
    putLengthPrefixedField(out, p.data);
    if (!p.replyTo.empty())
        putLengthPrefixedField(out, p.replyTo);
    return out;
}

bool decodePublicationBody(std::string_view body, Publication &p, std::string &node)
{
    if (body.empty() || (body.front() != '1' && body.front() != '2'))
        return false;
    const bool withReplyTo = body.front() == '2';
    body.remove_prefix(1);
    std::string_view f[8];
    for (std::size_t i = 0; i < (withReplyTo ? 8u : 7u); ++i) {
        if (!takeLengthPrefixedField(body, f[i]))
            return false;
    }
    if (withReplyTo && f[7].empty())
        return false;
    if (!body.empty() || !toNumber(f[2], p.timestampMs) || f[5].size() != 1 || f[5][0] < '0' || f[5][0] > '3')
        return false;
    node = std::string(f[0]);
    p.event = std::string(f[1]);
    p.sender = std::string(f[3]);
    p.exceptSession = std::string(f[4]);
    p.binary = ((f[5][0] - '0') & 1) != 0;
    p.compress = ((f[5][0] - '0') & 2) != 0;
    p.data = std::string(f[6]);
    p.replyTo = std::string(f[7]);
    return true;
}

bool decodePubSubMessage(std::string_view message, Publication &p, std::string &epoch, std::string &node)
{
    const auto first = message.find(':');
    if (first == std::string_view::npos)
        return false;
    const auto second = message.find(':', first + 1);
    if (second == std::string_view::npos || !toNumber(message.substr(0, first), p.offset))
        return false;
    epoch = std::string(message.substr(first + 1, second - first - 1));
    return decodePublicationBody(message.substr(second + 1), p, node);
}

} // namespace switchboard::redis::detail
