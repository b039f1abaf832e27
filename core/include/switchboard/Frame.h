#pragma once
// Frame: one encoded wire message, immutable and shared by every recipient.

#include <memory>
#include <string>

namespace switchboard {

/// Bytes of one WebSocket message. A broadcast builds one Frame and hands the same
/// shared_ptr to every session; nobody may modify it after creation.
struct Frame {
    enum class Kind : unsigned char { Text, Binary };
    std::string bytes;
    Kind kind = Kind::Text;
};

using SharedFrame = std::shared_ptr<const Frame>;

inline SharedFrame makeTextFrame(std::string bytes)
{
    return std::make_shared<const Frame>(Frame{std::move(bytes), Frame::Kind::Text});
}
inline SharedFrame makeBinaryFrame(std::string bytes)
{
    return std::make_shared<const Frame>(Frame{std::move(bytes), Frame::Kind::Binary});
}

} // namespace switchboard
