#pragma once
// WebSocketSession: one WebSocket connection after the upgrade. Implements core Session: the Hub
// and ServerProtocol queue shared frames in its Outbox; the session writes everything queued
// as one socket write (frame headers built here, small frames copied into a cork buffer, large
// ones gathered by reference). Client bytes go through the shared websocket::FrameReader; each
// complete message goes to ServerProtocol::receive, each ping and pong to
// ServerProtocol::receiveControl (the connection's rate limit; a ping is answered only when it
// admits it).
//
// Control replies are bounded: at most one pong waits at a time (a later ping's payload replaces
// an unsent one, RFC 6455 5.5.3) and waiting control bytes count against the outbox byte limit,
// so a client that pings and never reads cannot grow the session's memory.
//
// Plain TCP: after start() the session owns its socket's descriptor itself, registered once with
// its io thread's ReadinessPoller (no Asio reactor state or pending wait per connection); it reads
// until the kernel has nothing more and writes until the kernel refuses, and is called again when
// that changes. TLS sessions read and write through Asio's SSL stream.
//
// Liveness (one deadline per session, in its io thread's LivenessSweep): a connection silent for
// the ping interval gets a ping; one that sent nothing (no frame, no pong) within the idle
// timeout is closed 3002; one with bytes pending that made no write progress within the write
// timeout is aborted. Each fires up to the sweep's resolution late.
//
// permessage-deflate (when negotiated): a frame marked Frame::compress goes out with RSV1 and the
// frame's shared compressed bytes (built once, by the first deflate session that writes it, on
// its strand); compressed client messages are inflated by the FrameReader. No zlib state is kept
// per session (websocket/PerMessageDeflate.h).

#include "AnyStream.h"
#include "CompactText.h"
#include "CorkBuffer.h"
#include "PeerText.h"
#include "ReadinessPoller.h"
#include "ServerContext.h"
#include "SessionMutex.h"

#include <switchboard/Outbox.h>
#include <switchboard/ServerProtocol.h>
#include <switchboard/Session.h>
#include <switchboard/websocket/Codec.h>
#include <switchboard/websocket/FrameReader.h>
#include <switchboard/websocket/PerMessageDeflate.h>

#include <array>
#include <memory>
#include <optional>
#include <mutex>
#include <string>
#include <vector>

namespace switchboard::asio {

namespace ws = switchboard::websocket;

/// A WebSocket on the Pusher endpoint `/app/{key}?protocol=N` (docs/pusher.md): its messages go
/// to PusherProtocol instead of ServerProtocol.
struct PusherTarget {
    std::string appKey;
    std::optional<std::string> protocol; ///< the `protocol` query parameter; absent: nullopt
};

/// Thread safety: send() and close() may be called from any thread (the core mutex holder);
/// they only queue under the session's own mutex and have a flush run on the connection's thread
/// (its shard's io thread, IoShards.h), in a FlushRounds round. Everything else runs there.
///
/// Memory: every idle connection holds one of these (docs/benchmarks.md, "Where an idle
/// connection's memory goes"), so what only some connections or some moments need is behind a
/// pointer (TLS, a write the kernel holds back, control frames), what only start() needs is
/// passed to it, the gateway's context is reached through the shard, and one base serves both
/// the readiness poller and the liveness sweep (IoThreadClient.h).
class WebSocketSession final : public Session,
                               public std::enable_shared_from_this<WebSocketSession>,
                               public IoThreadClient {
public:
    /// `stream` has completed the HTTP upgrade, on an io_context of `context.shards`.
    /// The connection has been counted by ServerContext::tryAddConnection(). `deflateWindowBits`:
    /// 0 without permessage-deflate, else the negotiated compressor window.
    /// `slot`: the connection's TCP slot, released when the session is destroyed (after its socket).
    /// `peer`: the client's address as the accept gave it (no `getpeername` per connection).
    WebSocketSession(ServerContext &context, AnyStream stream, TcpSlot slot,
                     const boost::asio::ip::tcp::endpoint &peer, int deflateWindowBits = 0);
    ~WebSocketSession() override;

    /// Registers with the ServerProtocol and starts reading. Call once, on the strand, right after
    /// construction. `leftover`: bytes read past the upgrade request. `info` (the upgrade request's
    /// headers for the connect authenticator) goes to ServerProtocol::open, with the peer's
    /// address filled in. With `pusher`, the connection speaks the Pusher protocol
    /// (PusherProtocol::open decides on its key and version). None of them is kept.
    void start(std::string leftover, ConnectionInfo info = {}, std::optional<PusherTarget> pusher = std::nullopt);

    /// How long the session waits for the peer's close frame after writing its own.
    static std::chrono::milliseconds closeWait(const GatewayConfig &config);

    SendOutcome send(const SharedFrame &frame) override;
    void close(DisconnectCode code, std::string_view reason) override;
    void attached(std::string_view sessionId, std::string_view userId) override;
    /// Logs the refusal (log::refusal: peer, user, reason), rate-limited per error code.
    void refused(Error code, std::string_view reason) override;

private:
    friend class FlushRounds; // runs flush() for the sessions of a round
    struct WriteBuffers;
    void scheduleFlushLocked();
    /// Has flush() run soon on the session's thread: in its shard's open FlushRounds round, or
    /// posted when the rounds are the io thread's alone and another thread calls.
    void postFlush();
    void flush();
    /// Ends the batch in flight: `threadBatch` is the io thread's buffers when flush() wrote the
    /// batch whole without waiting, null when it was m_write's.
    void onWritten(const boost::system::error_code &ec, WriteBuffers *threadBatch = nullptr);
    /// Drops the first `n` written bytes from `buffers`; true when nothing is left to write.
    static bool consumeWritten(std::vector<boost::asio::const_buffer> &buffers, std::size_t n);
    /// TLS: the next read from the SSL stream.
    void readMore();
    /// Plain TCP, after start(): registers the socket with the io thread's ReadinessPoller.
    void watchSocket();
    void ready(std::uint32_t events) override; // IoThreadClient, from the ReadinessPoller
    /// Plain TCP: reads until the kernel has nothing more (a few chunks at a time, then after
    /// the io thread's other work), or the session ends. `peerEnded`: the readiness said the
    /// peer ended its side too, so a short read is not all: read on until recv() reports the end
    /// (edge-triggered readiness will not announce it again).
    void readSocket(bool peerEnded);
    /// Plain TCP: writes `buffers` until done or the kernel refuses the rest, dropping what was
    /// written from them; returns the bytes written. `ec`: would_block when the kernel refused,
    /// or the error that ends the connection.
    std::size_t writeSocket(std::vector<boost::asio::const_buffer> &buffers, boost::system::error_code &ec);
    /// Plain TCP: the socket has room again for the batch in flight.
    void continueWrite();
    /// Closes the socket (shut down both ways); a plain socket leaves the ReadinessPoller first.
    void closeSocket();
    void onData(std::uint8_t *data, std::size_t size);
    // What the FrameReader found in the client's bytes (ws::FrameHandler's calls, through a
    // handler onData() makes on the stack: no fifth vtable pointer in every session).
    struct FrameEvents;
    bool onMessage(std::string_view payload, bool binary);
    bool onPing(std::string_view payload);
    bool onPong(std::string_view payload);
    void onClose(std::uint16_t code, std::string_view reason);
    void onViolation(ws::CloseCode code, std::string_view reason);
    void fail(DisconnectCode code, std::string_view reason);
    /// Queues the answer to a ping, replacing an unsent one.
    void queuePong(std::string_view payload);
    void closeLocked(DisconnectCode code, std::string_view reason);
    /// Bytes of the pong and close frame waiting for a write. Call with m_mutex held.
    std::size_t controlBytesLocked() const;
    struct ControlFrames;
    /// m_control, allocated if it was not. Call with m_mutex held.
    ControlFrames &controlLocked();
    /// The closing (strand): after our close frame was queued, input is ignored except the
    /// peer's close frame, which completes the closing handshake.
    bool closing();
    void finish();
    /// Sets the session's deadline in the sweep: the earliest of the idle, ping, write and close
    /// deadlines.
    void armLiveness();
    void livenessDue() override; // IoThreadClient, from the LivenessSweep
    /// TLS: writes the rest of the batch in flight (m_write) one write_some at a time, so
    /// progress is seen.
    void writeSome();
    /// One write: its frames (kept alive until written), the headers, copied small frames and
    /// control frames (the cork), the buffers over them, and the bytes written so far. A
    /// session's own (m_write) also holds when the write last made progress: its write deadline.
    struct WriteBuffers {
        std::vector<SharedFrame> frames;
        CorkBuffer cork;
        std::vector<boost::asio::const_buffer> buffers;
        std::size_t written = 0;
        std::chrono::steady_clock::time_point lastProgress; ///< while m_waitingForWrite
    };
    /// The io thread's, where plain TCP sessions build their batches.
    static WriteBuffers &threadWriteBuffers();
    /// Plain TCP, batch written at once: one huge batch does not stay with the io thread.
    static void trimThreadWriteBuffers(WriteBuffers &local);

    // The members every delivery touches come first, together: a fan-out over thousands of
    // sessions reads about six cache lines of each, not a dozen spread over 1.2 KB
    // (docs/benchmarks.md, "Where the time goes at 1 message in flight").
    int m_fd = -1;                ///< plain TCP: the socket, owned here from construction until closed
    SessionMutex m_mutex;         ///< guards the members so marked below
    TcpSlot m_slot;               ///< declared before m_tls: released after the socket closed
    IoShards::Shard &m_shard;     ///< the io_context of the connection, its rounds and its gateway's context
    ServerContext &ctx() const { return *m_shard.context; }
    /// A TLS connection's stream, which owns the socket, and the buffer its reads fill.
    struct Tls {
        explicit Tls(std::unique_ptr<AnyStream::TlsStream> s) : stream(std::move(s)) {}
        std::unique_ptr<AnyStream::TlsStream> stream;
        std::array<char, 16 * 1024> readBuffer; ///< not initialized: a read fills what it hands over
    };
    /// TLS only. A plain TCP connection keeps no Asio socket (nor a read buffer: it reads into the
    /// io thread's).
    std::unique_ptr<Tls> m_tls;
    std::uint8_t m_deflateWindowBits = 0; ///< 0: permessage-deflate not negotiated, else 8-15 (read by every flush)

    // Guarded by m_mutex (touched by send/close from the core holder's thread).
    bool m_pongPending = false;
    bool m_pingPending = false;   ///< a server ping waiting for the next write
    bool m_writing = false;       ///< a flush is posted or a write is in flight
    bool m_closeQueued = false;   ///< a close frame is in m_closeFrame or written: no more frames
    bool m_finishedFlag = false;
    std::uint16_t m_endCode = 0;  ///< the first close, ours or the peer's: reported to the protocol

    // Strand only.
    bool m_closeInBatch = false;
    bool m_closeWritten = false;
    bool m_peerClosed = false;
    bool m_finished = false;
    bool m_waitingForWrite = false;       ///< the kernel refused bytes: an async write is pending
    bool m_isPusher = false;              ///< a Pusher protocol connection (PusherProtocol, not ServerProtocol)
    PeerAddress m_peer;                   ///< for log lines (any thread, set at construction)

    // Guarded by m_mutex.
    Outbox m_outbox;

    // Strand only.
    /// The write in flight. Plain TCP builds each batch in the io thread's buffers and takes
    /// them here only while the kernel holds back part of it; TLS sessions keep their own.
    std::unique_ptr<WriteBuffers> m_write;

    // Guarded by m_mutex.
    /// What a pong or the end of the connection needs: allocated on first use, not kept by every
    /// idle connection.
    struct ControlFrames {
        std::string pongPayload; ///< payload of the pong waiting for the next write
        std::string closeFrame;  ///< the encoded close frame, until a flush takes it
        std::string endReason;   ///< with m_endCode
    };
    std::unique_ptr<ControlFrames> m_control;
    CompactText m_user;           ///< set by attached(), for log lines

    // Strand only, from here on.
    ServerProtocol::ConnectionHandle m_handle = 0;
    ws::FrameReader m_reader;
    std::chrono::steady_clock::time_point m_lastReceived;  ///< any byte from the client
    /// When the last liveness probe went out: a ping while the connection is open; once our
    /// close frame is written (m_closeWritten; no pings after that), that write, from which the
    /// close deadline runs (closeDeadline()).
    std::chrono::steady_clock::time_point m_lastProbeSent;
    /// Our close frame is written: the connection ends at this time if the peer's close has not
    /// come. time_point::max() before.
    std::chrono::steady_clock::time_point closeDeadline(const GatewayConfig &config) const;
};

} // namespace switchboard::asio
