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
    out.reserve(p.data.size() + p.event.size() + p.sender.size() + node.size() + p.replyTo.size()
                + p.senderUserId.size() + 64);
    // Version 2 adds the reply token, version 3 the sender's user; without them the body stays
    // version 1, which nodes that know neither read too.
    const char version = !p.senderUserId.empty() ? '3' : !p.replyTo.empty() ? '2' : '1';
    out += version;
    putLengthPrefixedField(out, node);
    putLengthPrefixedField(out, p.event);
    putLengthPrefixedField(out, std::to_string(p.timestampMs));
    putLengthPrefixedField(out, p.sender);
    putLengthPrefixedField(out, p.exceptSession);
    // Flags: bit 0 binary, bit 1 compress ("0" and "1" as before when not compressed).
    const char flags[2] = {static_cast<char>('0' + (p.binary ? 1 : 0) + (p.compress ? 2 : 0)), '\0'};
    putLengthPrefixedField(out, flags);
    putLengthPrefixedField(out, p.data);
    if (version != '1')
        putLengthPrefixedField(out, p.replyTo);
    if (version == '3')
        putLengthPrefixedField(out, p.senderUserId);
    return out;
}

bool decodePublicationBody(std::string_view body, Publication &p, std::string &node)
{
    if (body.empty() || body.front() < '1' || body.front() > '3')
        return false;
    const char version = body.front();
    body.remove_prefix(1);
    std::string_view f[9];
    const std::size_t fields = version == '1' ? 7u : version == '2' ? 8u : 9u;
    for (std::size_t i = 0; i < fields; ++i) {
        if (!takeLengthPrefixedField(body, f[i]))
            return false;
    }
    // Each version's own field is never empty (an empty one is written with a lower version).
    if ((version == '2' && f[7].empty()) || (version == '3' && f[8].empty()))
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
    p.senderUserId = std::string(f[8]);
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
