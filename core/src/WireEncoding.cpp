#include "switchboard/WireEncoding.h"

namespace switchboard {

WireEncoding negotiateWireEncoding(std::string_view offered)
{
    while (!offered.empty()) {
        const auto comma = offered.find(',');
        std::string_view token = offered.substr(0, comma);
        offered = comma == std::string_view::npos ? std::string_view() : offered.substr(comma + 1);
        while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
            token.remove_prefix(1);
        while (!token.empty() && (token.back() == ' ' || token.back() == '\t'))
            token.remove_suffix(1);
        if (token == kBinarySubprotocol)
            return WireEncoding::Binary;
    }
    return WireEncoding::Json;
}

} // namespace switchboard
