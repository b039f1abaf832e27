#pragma once
// One client WebSocket connection of the Switchboard benchmark clients (load generator, soak).
//
// The upgrade is a Boost.Beast HTTP request and response; after it the connection reads with a
// readiness wait and non-blocking `read_some` calls into a scratch buffer shared by every
// connection of the io thread, and decodes every frame in the chunk at once. A connection keeps
// only the bytes of a frame split across reads, so 10 000 idle connections cost little memory
// and a busy one costs one system call per socket buffer, not one per message.
//
// Outgoing frames are masked (RFC 6455 client rule) and queued; everything queued while a write
// is in flight leaves in the next single write.
//
// Thread safety: none. A connection lives on one io_context run by one thread; every call and
// every Handler callback happens on that thread. Handler callbacks may send frames and may call
// abort(); they must not destroy the connection.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::bench {

class WsConnection
{
public:
    class Handler
    {
    public:
        virtual ~Handler() = default;
        /// A complete text or binary message; `data` is valid during the call only.
        /// `receivedNs` is the steady-clock time at which the read that carried it returned.
        virtual void onMessage(std::string_view data, bool binary, std::uint64_t receivedNs) = 0;
        /// The connection failed or was closed by the server, or the closing handshake begun by
        /// close() finished (`why` is then "closed"); no callback follows.
        virtual void onClosed(std::string_view why) = 0;
    };

    /// Called once when the upgrade succeeded (`ok`) or failed (`why` says how).
    using UpgradeCallback = std::function<void(bool ok, std::string_view why)>;

    /// `scratch` is the io thread's read buffer; it must outlive the connection.
    WsConnection(boost::asio::io_context &io, std::vector<char> &scratch, std::uint64_t seed);
    ~WsConnection();
    WsConnection(const WsConnection &) = delete;
    WsConnection &operator=(const WsConnection &) = delete;

    void setHandler(Handler *handler) { m_handler = handler; }
    /// User-Agent of the upgrade request (default "switchboard-loadgen").
    void setUserAgent(std::string userAgent) { m_userAgent = std::move(userAgent); }
    /// A subprotocol to offer (Sec-WebSocket-Protocol); the upgrade fails unless the server
    /// answers with it. Empty (default): none offered.
    void setSubprotocol(std::string subprotocol) { m_subprotocol = std::move(subprotocol); }

    /// TCP connect plus HTTP upgrade to `target`. Frames that arrive with the 101 response are
    /// kept until startReading().
    void open(const boost::asio::ip::tcp::endpoint &endpoint, std::string_view hostHeader,
              std::string_view target, UpgradeCallback done);

    /// Starts delivering messages to the handler (after a successful upgrade).
    void startReading();

    /// Queues one text or binary frame; call flush() to send everything queued. Ignored once
    /// close() has been called.
    void appendFrame(std::string_view data, bool binary = false);
    void flush();
    void sendText(std::string_view data)
    {
        appendFrame(data);
        flush();
    }

    /// Bytes queued or being written.
    std::size_t pendingWriteBytes() const { return m_outbox.size() + m_writing.size(); }
    bool isOpen() const { return m_state == State::Open; }

    /// Closes the socket at once with a reset (no TIME_WAIT left behind); no callback follows.
    void abort();

    /// Starts the closing handshake: sends a close frame with `code` and keeps reading (messages
    /// still arrive) until the server has answered with its close frame and closed the TCP
    /// connection; then calls onClosed("closed"). Bound it with a timer of your own and abort()
    /// on expiry.
    void close(std::uint16_t code = 1000);
    bool isClosing() const { return m_state == State::Closing; }

private:
    enum class State { Idle, Upgrading, Open, Closing, Closed };

    // Open, or closing but still reading and writing.
    bool connected() const { return m_state == State::Open || m_state == State::Closing; }
    struct Handshake;

    void finishUpgrade(bool ok, std::string_view why);
    void armRead();
    void onReadable();
    void feed(const char *data, std::size_t size, std::uint64_t receivedNs);
    void handleFrame(const char *frame, std::size_t size, std::uint64_t receivedNs);
    void appendControl(std::uint8_t opcode, std::string_view data);
    void appendRaw(std::uint8_t opcode, std::string_view data);
    void fail(std::string_view why);

    boost::asio::ip::tcp::socket m_socket;
    std::vector<char> &m_scratch;
    std::minstd_rand m_random;
    Handler *m_handler = nullptr;
    std::unique_ptr<Handshake> m_handshake;
    std::string m_userAgent = "switchboard-loadgen";
    std::string m_subprotocol;
    State m_state = State::Idle;
    bool m_reading = false;
    bool m_writeInFlight = false;
    bool m_closeAnswered = false; // the server's close frame arrived after ours
    std::string m_pending;   // bytes of a frame split across reads
    std::string m_fragments; // a fragmented message being assembled
    bool m_fragmentsBinary = false;
    bool m_assembling = false;
    std::string m_outbox;
    std::string m_writing;
};

} // namespace switchboard::bench
