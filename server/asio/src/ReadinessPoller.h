#pragma once
// ReadinessPoller: the readiness of an io thread's plain TCP WebSocket connections, from one
// epoll set of its own.
//
// Each connection registers its socket once, edge-triggered for input and output, and is told
// when the socket became readable or writable. Asio's reactor would keep per socket a 168-byte
// descriptor state, and per pending read a wait operation, and re-arm the socket's registration
// with an epoll_ctl for every wait; here a socket costs one entry (24 bytes) and no system call
// besides the reads and writes themselves. The epoll set itself is one descriptor in the io
// thread's io_context, so the io thread sleeps in one place and runs everything else (timers,
// posts, TLS and HTTP sockets) as before. Connections read until the kernel has nothing more
// (edge-triggered: the next event comes with new bytes) and write until it refuses (the next
// event comes when there is room again).
//
// Thread safety: none; everything runs on the io thread of the poller's io_context, like the
// connections it serves (IoShards.h).

#include "IoThreadClient.h"
#include "IoTypes.h"

#include <boost/asio/posix/basic_stream_descriptor.hpp>
#include <boost/system/error_code.hpp>

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

namespace switchboard::asio {

class ReadinessPoller {
public:
    /// What the poller serves: a connection on the poller's io thread (ready()).
    using Client = IoThreadClient;

    explicit ReadinessPoller(boost::asio::io_context &ioc);
    ReadinessPoller(const ReadinessPoller &) = delete;
    ReadinessPoller &operator=(const ReadinessPoller &) = delete;
    ~ReadinessPoller();

    /// Registers the non-blocking socket `fd` of `client`, held weakly: a client destroyed
    /// without remove() gets no call (its socket is closed by then, which ends the registration
    /// in the kernel), but its slot (24 bytes) is not reused until the poller goes; sessions
    /// remove themselves when they close, so that happens only while the gateway stops. A
    /// socket that is readable or writable already reports so at once.
    void add(int fd, const std::shared_ptr<Client> &client, boost::system::error_code &ec);
    /// Unregisters `fd` of `client`: no more calls, even for events already collected. Call
    /// before closing the socket; no effect on a client not registered.
    void remove(int fd, Client &client);
    /// As remove(), for a socket the caller closes right after: closing the descriptor ends its
    /// registration in the kernel (its only reference: nothing duplicates a connection's
    /// descriptor), so this makes no system call. The events already collected for it find
    /// another generation, as after remove().
    void removeClosing(Client &client);

    /// Clients registered.
    std::size_t size() const { return m_entries.size() - m_free.size(); }
    /// Rounds of events handled so far.
    std::uint64_t rounds() const { return m_rounds; }

private:
    struct Entry {
        std::weak_ptr<Client> client;
        std::uint32_t generation = 0; ///< bumped when the slot is freed: stale events miss it
    };
    void arm();
    void dispatch();

    boost::asio::posix::basic_stream_descriptor<IoExecutor> m_descriptor; ///< the epoll set, in the io_context
    std::deque<Entry> m_entries; ///< grows by blocks: no doubled capacity held for thousands of connections
    std::vector<std::uint32_t> m_free; ///< slots of m_entries to reuse
    std::uint64_t m_rounds = 0;
    bool m_armed = false;
};

} // namespace switchboard::asio
