#pragma once
// Test harness for ServerProtocol: recording sessions over a real Hub and a ManualTimer.

#include "switchboard/BinaryEncoding.h"
#include "switchboard/Hub.h"
#include "switchboard/ServerProtocol.h"
#include "switchboard/Session.h"
#include "switchboard/Timer.h"

#include <boost/json.hpp>

#include <QtTest>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::testing {

/// A Session that keeps every frame it is given and remembers how it was closed.
class RecordingSession final : public Session {
public:
    SendOutcome send(const SharedFrame &frame) override
    {
        frames.push_back(frame);
        return SendResult::Ok;
    }
    void close(DisconnectCode code, std::string_view reason) override
    {
        ++closeCalls;
        closeCode = static_cast<std::uint16_t>(code);
        closeReason.assign(reason);
    }
    void attached(std::string_view id, std::string_view user) override
    {
        attachedSessionId.assign(id);
        attachedUserId.assign(user);
    }
    void refused(Error code, std::string_view reason) override
    {
        refusals.push_back({static_cast<int>(code), std::string(reason)});
    }

    /// Protocol frames as JSON objects, oldest first: text frames parsed, frames of the binary
    /// encoding decoded (binary broadcast frames are skipped).
    std::vector<boost::json::object> objects() const
    {
        std::vector<boost::json::object> out;
        for (const SharedFrame &frame : frames) {
            const bool binaryEncoded = frame->kind == Frame::Kind::Binary && isBinaryProtocolFrame(frame->bytes);
            if (frame->kind != Frame::Kind::Text && !binaryEncoded)
                continue;
            boost::json::error_code ec;
            boost::json::value value;
            if (binaryEncoded) {
                if (decodeBinaryProtocolFrame(frame->bytes, value, 128))
                    ec = make_error_code(boost::json::error::syntax);
            } else {
                value = boost::json::parse(frame->bytes, ec);
            }
            if (ec || !value.is_object()) {
                qWarning("server sent a frame that is not a JSON object: %s", frame->bytes.c_str());
                out.emplace_back(); // an empty object fails every expectation on it
                continue;
            }
            out.push_back(std::move(value.get_object()));
        }
        return out;
    }
    /// Returns the frames received so far and forgets them.
    std::vector<boost::json::object> take()
    {
        auto out = objects();
        frames.clear();
        return out;
    }

    std::vector<SharedFrame> frames;
    std::optional<std::uint16_t> closeCode;
    std::string closeReason;
    int closeCalls = 0;
    std::string attachedSessionId; ///< as told by Session::attached()
    std::string attachedUserId;
    struct Refusal {
        int code = 0;
        std::string reason;
    };
    std::vector<Refusal> refusals; ///< as told by Session::refused(), oldest first
};

inline std::string str(const boost::json::value &value)
{
    return value.is_string() ? std::string(value.get_string()) : std::string("<not a string>");
}
inline std::string str(const boost::json::object &object, std::string_view key)
{
    const auto *value = object.if_contains(key);
    return value ? str(*value) : std::string("<missing>");
}
inline std::int64_t num(const boost::json::object &object, std::string_view key)
{
    const auto *value = object.if_contains(key);
    if (!value)
        return -999'999;
    if (value->is_int64())
        return value->get_int64();
    if (value->is_uint64())
        return static_cast<std::int64_t>(value->get_uint64());
    return -999'998;
}
inline std::string op(const boost::json::object &object)
{
    return str(object, "op");
}

struct Client {
    ServerProtocol::ConnectionHandle handle = 0;
    std::shared_ptr<RecordingSession> session;
};

/// One Hub, one ServerProtocol, virtual time.
struct Harness {
    explicit Harness(ServerProtocolOptions options = {}, HubOptions hubOptions = {})
        : hub(timer, hubOptions), protocol(hub, timer, options)
    {
    }

    Client open(ConnectionInfo info = {})
    {
        Client client;
        client.session = std::make_shared<RecordingSession>();
        client.handle = protocol.open(client.session, std::move(info));
        return client;
    }
    void send(const Client &client, std::string_view text) { protocol.receive(client.handle, text, false); }
    void sendBinary(const Client &client, std::string_view bytes) { protocol.receive(client.handle, bytes, true); }

    /// Opens and completes the handshake; the welcome frame is consumed. Empty session on failure.
    Client connect(std::string_view token = {})
    {
        Client client = open();
        std::string frame = R"({"op":"connect","version":1)";
        if (!token.empty())
            frame += R"(,"token":")" + std::string(token) + '"';
        frame += '}';
        send(client, frame);
        const auto frames = client.session->take();
        if (frames.size() != 1 || op(frames[0]) != "welcome")
            qWarning("handshake failed");
        return client;
    }

    /// Subscribes and consumes the `subscribed` frame (and the roster frame on presence channels).
    bool subscribe(const Client &client, std::string_view channel)
    {
        send(client, R"({"op":"subscribe","channel":")" + std::string(channel) + "\"}");
        const auto frames = client.session->take();
        return !frames.empty() && op(frames[0]) == "subscribed";
    }

    ManualTimer timer;
    Hub hub;
    ServerProtocol protocol;
};

} // namespace switchboard::testing
