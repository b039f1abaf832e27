#pragma once
// ServerContext: what every connection of one gateway shares. Owned by Gateway, outlives every
// session (sessions stop before it is destroyed).

#include "CoreHost.h"
#include "IoShards.h"
#include "Metrics.h"
#include "TcpConnections.h"

#include "switchboard/asio/GatewayConfig.h"
#include "switchboard/asio/TokenVerifier.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace switchboard::asio {

class SseSession;

struct ServerContext {
    ServerContext(const GatewayConfig &c, boost::asio::io_context &io, CoreHost &h, Metrics &m,
                  const TokenVerifier &t, std::string key, std::filesystem::path staticFiles, TcpConnections &connections)
        : config(c), ioc(io), core(h), metrics(m), tokens(t), apiKey(std::move(key)), staticDir(std::move(staticFiles))
        , tcp(connections)
    {
    }

    const GatewayConfig &config;
    boost::asio::io_context &ioc;
    CoreHost &core;
    Metrics &metrics;
    const TokenVerifier &tokens;
    std::string apiKey;
    std::filesystem::path staticDir; ///< empty: no static files
    boost::asio::ssl::context *tls = nullptr;
    /// Every accepted socket holds a TcpSlot. Outlives the io_context (so does `metrics`): slots
    /// held by handlers the io_context destroys last are still released safely.
    TcpConnections &tcp;

    std::atomic<bool> shuttingDown{false};

    /// The io threads' io_contexts; every connection lives on one (IoShards.h). `ioc` is the
    /// first of them. Set by the gateway before it listens.
    IoShards *shards = nullptr;

    /// The executor of a new connection: its shard's io_context, run by one thread, so the
    /// connection's handlers never run concurrently.
    IoExecutor connectionExecutor() const { return shards->next().ioc.get_executor(); }

    /// Counts a WebSocket or SSE connection against maxConnections. False: refuse it.
    bool tryAddConnection()
    {
        std::size_t n = m_connections.load();
        do {
            if (n >= config.maxConnections || shuttingDown.load())
                return false;
        } while (!m_connections.compare_exchange_weak(n, n + 1));
        return true;
    }
    /// The connection ended; at shutdown the last one calls the drained callback.
    void removeConnection()
    {
        if (m_connections.fetch_sub(1) == 1 && shuttingDown.load()) {
            std::function<void()> drained;
            {
                std::lock_guard lock(m_mutex);
                drained = m_onDrained;
            }
            if (drained)
                drained();
        }
    }
    std::size_t connections() const { return m_connections.load(); }
    void setOnDrained(std::function<void()> f)
    {
        std::lock_guard lock(m_mutex);
        m_onDrained = std::move(f);
    }

    /// SSE streams are Hub sessions outside the ServerProtocol: tracked here to close them at shutdown.
    void addSse(const std::shared_ptr<SseSession> &s)
    {
        std::lock_guard lock(m_mutex);
        m_sse.emplace(s.get(), s);
    }
    void removeSse(const SseSession *s)
    {
        std::lock_guard lock(m_mutex);
        m_sse.erase(s);
    }
    std::vector<std::shared_ptr<SseSession>> sseSessions()
    {
        std::lock_guard lock(m_mutex);
        std::vector<std::shared_ptr<SseSession>> out;
        for (auto &[p, weak] : m_sse) {
            if (auto s = weak.lock())
                out.push_back(std::move(s));
        }
        return out;
    }

private:
    std::atomic<std::size_t> m_connections{0};
    std::mutex m_mutex;
    std::function<void()> m_onDrained;
    std::unordered_map<const SseSession *, std::weak_ptr<SseSession>> m_sse;
};

} // namespace switchboard::asio
