#include "switchboard/IdempotencyKey.h"

namespace switchboard {

bool isValidIdempotencyKey(std::string_view key)
{
    if (key.empty() || key.size() > kMaxIdempotencyKeyLength)
        return false;
    for (const char c : key) {
        if (c < 0x21 || c > 0x7e)
            return false;
    }
    return true;
}

// "u<length of the user id>:<user id><key>" and "s:<key>": the length makes the split between
// user id and key unambiguous, and the first letter keeps the two namespaces apart.
std::string userIdempotencyKey(std::string_view userId, std::string_view key)
{
    std::string scoped = "u" + std::to_string(userId.size()) + ":";
    scoped.append(userId);
    scoped.append(key);
    return scoped;
}

std::string serverIdempotencyKey(std::string_view key)
{
    std::string scoped = "s:";
    scoped.append(key);
    return scoped;
}

} // namespace switchboard
