#include "ReadinessPoller.h"

#include <array>
#include <cerrno>
#include <sys/epoll.h>
#include <unistd.h>

namespace switchboard::asio {

namespace {
/// Events taken per round (one epoll_wait).
constexpr int kBatch = 256;

std::uint64_t tokenOf(std::uint32_t slot, std::uint32_t generation)
{
    return (std::uint64_t(generation) << 32) | slot;
}

int newEpollSet()
{
    const int fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0)
        throw boost::system::system_error(boost::system::error_code(errno, boost::system::system_category()),
                                          "epoll_create1");
    return fd;
}
} // namespace

ReadinessPoller::ReadinessPoller(boost::asio::io_context &ioc) : m_descriptor(ioc.get_executor(), newEpollSet())
{
}

ReadinessPoller::~ReadinessPoller() = default; // the descriptor closes the epoll set

void ReadinessPoller::add(int fd, const std::shared_ptr<Client> &client, boost::system::error_code &ec)
{
    ec.clear();
    if (client->m_pollSlot != Client::kNone)
        return;
    std::uint32_t slot;
    if (!m_free.empty()) {
        slot = m_free.back();
        m_free.pop_back();
    } else {
        slot = static_cast<std::uint32_t>(m_entries.size());
        m_entries.emplace_back();
    }
    Entry &entry = m_entries[slot];
    epoll_event event{};
    event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    event.data.u64 = tokenOf(slot, entry.generation);
    if (::epoll_ctl(m_descriptor.native_handle(), EPOLL_CTL_ADD, fd, &event) != 0) {
        ec.assign(errno, boost::system::system_category());
        m_free.push_back(slot);
        return;
    }
    entry.client = client;
    client->m_pollSlot = slot;
    if (!m_armed)
        arm();
}

void ReadinessPoller::remove(int fd, Client &client)
{
    if (client.m_pollSlot == Client::kNone)
        return;
    epoll_event ignored{}; // kernels before 2.6.9 wanted one for EPOLL_CTL_DEL
    ::epoll_ctl(m_descriptor.native_handle(), EPOLL_CTL_DEL, fd, &ignored);
    removeClosing(client);
}

void ReadinessPoller::removeClosing(Client &client)
{
    if (client.m_pollSlot == Client::kNone)
        return;
    const std::uint32_t slot = client.m_pollSlot;
    client.m_pollSlot = Client::kNone;
    Entry &entry = m_entries[slot];
    entry.client.reset();
    ++entry.generation; // events of this round already collected for it find another generation
    m_free.push_back(slot);
}

void ReadinessPoller::arm()
{
    m_armed = true;
    m_descriptor.async_wait(boost::asio::posix::descriptor_base::wait_read, [this](const boost::system::error_code &ec) {
        if (ec) // operation_aborted: the poller is being destroyed
            return;
        m_armed = false;
        dispatch();
        if (!m_armed && size() > 0) // add() arms it again
            arm();
    });
}

void ReadinessPoller::dispatch()
{
    ++m_rounds;
    // One batch per round: what the calls queued (the writes of a flush round, timers) runs
    // before the next batch is taken, and the set reports the rest again at once.
    std::array<epoll_event, kBatch> events;
    int n;
    do
        n = ::epoll_wait(m_descriptor.native_handle(), events.data(), kBatch, 0);
    while (n < 0 && errno == EINTR);
    for (int i = 0; i < n; ++i) {
        const std::uint64_t token = events[i].data.u64;
        const auto slot = static_cast<std::uint32_t>(token);
        if (slot >= m_entries.size() || m_entries[slot].generation != static_cast<std::uint32_t>(token >> 32))
            continue; // removed since the event was collected
        // Held for the call: the client may end itself, and others, while it runs.
        const std::shared_ptr<Client> client = m_entries[slot].client.lock();
        if (client)
            client->ready(events[i].events);
    }
}

} // namespace switchboard::asio
