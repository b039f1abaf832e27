#include "switchboard/websocket/PerMessageDeflate.h"
#include "switchboard/websocket/HeaderValue.h"

#include <charconv>
#include <vector>

namespace switchboard::websocket {

namespace {

/// Splits on `separator` outside double quotes.
std::vector<std::string_view> split(std::string_view s, char separator)
{
    std::vector<std::string_view> parts;
    bool quoted = false;
    std::size_t start = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '"')
            quoted = !quoted;
        else if (s[i] == separator && !quoted) {
            parts.push_back(trimOptionalWhitespace(s.substr(start, i - start)));
            start = i + 1;
        }
    }
    parts.push_back(trimOptionalWhitespace(s.substr(start)));
    return parts;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b)
{
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
        if (lower(a[i]) != lower(b[i]))
            return false;
    }
    return true;
}

/// Window bits 8-15 (RFC 7692 7.1.2), quoted or not, no leading zeros or signs.
bool parseBits(std::string_view value, int &bits)
{
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
        value = value.substr(1, value.size() - 2);
    if (value.empty() || value.front() == '0' || value.size() > 2)
        return false;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), bits);
    return ec == std::errc{} && end == value.data() + value.size() && bits >= 8 && bits <= 15;
}

/// One offer's parameters; false when the offer must be declined.
std::optional<DeflateAgreement> accept(const std::vector<std::string_view> &params, const DeflateOptions &options)
{
    bool seenServerNoTakeover = false, seenClientNoTakeover = false, seenServerBits = false, seenClientBits = false;
    int requestedServerBits = 15;
    for (std::size_t i = 1; i < params.size(); ++i) {
        std::string_view name = params[i];
        std::string_view value;
        bool hasValue = false;
        if (const auto eq = name.find('='); eq != std::string_view::npos) {
            value = trimOptionalWhitespace(name.substr(eq + 1));
            name = trimOptionalWhitespace(name.substr(0, eq));
            hasValue = true;
        }
        bool *seen = nullptr;
        if (equalsIgnoreCase(name, "server_no_context_takeover")) {
            seen = &seenServerNoTakeover;
            if (hasValue)
                return std::nullopt;
        } else if (equalsIgnoreCase(name, "client_no_context_takeover")) {
            seen = &seenClientNoTakeover;
            if (hasValue)
                return std::nullopt;
        } else if (equalsIgnoreCase(name, "server_max_window_bits")) {
            seen = &seenServerBits;
            if (!hasValue || !parseBits(value, requestedServerBits))
                return std::nullopt;
        } else if (equalsIgnoreCase(name, "client_max_window_bits")) {
            // The client's window does not matter to us: it resets its compressor per message
            // and the decompressor takes any window.
            seen = &seenClientBits;
            int bits = 15;
            if (hasValue && !parseBits(value, bits))
                return std::nullopt;
        } else {
            return std::nullopt; // unknown parameter
        }
        if (*seen)
            return std::nullopt; // repeated parameter
        *seen = true;
    }
    int bits = options.serverMaxWindowBits < 9 || options.serverMaxWindowBits > 15 ? 15 : options.serverMaxWindowBits;
    if (seenServerBits && requestedServerBits < bits)
        return std::nullopt; // the shared compressed bytes use a larger window than this client takes
    DeflateAgreement agreement;
    agreement.serverWindowBits = bits;
    agreement.response = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
    if (seenServerBits)
        agreement.response += "; server_max_window_bits=" + std::to_string(bits);
    return agreement;
}

} // namespace

std::optional<DeflateAgreement> negotiateDeflate(std::string_view offers, const DeflateOptions &options)
{
    if (!options.enabled)
        return std::nullopt;
    for (const std::string_view offer : split(offers, ',')) {
        const auto params = split(offer, ';');
        if (!equalsIgnoreCase(params.front(), "permessage-deflate"))
            continue;
        if (auto agreement = accept(params, options))
            return agreement;
    }
    return std::nullopt;
}

} // namespace switchboard::websocket
