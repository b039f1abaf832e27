#include "SseSession.h"

#include "Log.h"

#include <switchboard/ChannelName.h>
#include <switchboard/MessageEncoding.h>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include <sstream>

namespace json = boost::json;

namespace switchboard::asio {

namespace {

http::status statusFor(std::error_code error)
{
    switch (static_cast<Error>(error.value())) {
    case Error::Unauthorized: return http::status::unauthorized;
    case Error::Forbidden: return http::status::forbidden;
    case Error::InvalidName: return http::status::unprocessable_entity;
    case Error::BadGateway: return http::status::bad_gateway;                  // subscribe proxy
    case Error::NotConnected: return http::status::service_unavailable;        // busy, engine down
    case Error::AuthorizationTimeout: return http::status::gateway_timeout;
    default: return http::status::bad_request;
    }
}

/// `data` lines of one event: a frame holding newlines (JSON whitespace) spans several lines,
/// which the client joins back with '\n'.
void appendData(std::string &out, std::string_view bytes)
{
    std::size_t pos = 0;
    while (true) {
        const std::size_t nl = bytes.find('\n', pos);
        std::string_view line = bytes.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        out.append("data: ").append(line).push_back('\n');
        if (nl == std::string_view::npos)
            break;
        pos = nl + 1;
    }
}

} // namespace

SseSession::SseSession(ServerContext &context, AnyStream stream, std::string peer, TcpSlot slot)
    : m_ctx(context)
    , m_peer(std::move(peer))
    , m_stream(std::move(stream))
    , m_outbox(OutboxLimits{context.config.outboxFrames, context.config.outboxBytes})
    , m_heartbeat(m_stream.get_executor())
    , m_expiry(m_stream.get_executor())
    , m_slot(std::move(slot))
    , m_writeDeadline(m_stream.get_executor())
{
}

SseSession::~SseSession() = default;

std::map<std::string, StreamPosition> SseSession::parseEventId(std::string_view id)
{
    std::map<std::string, StreamPosition> positions;
    for (const std::string &entry : splitList(id, ' ')) {
        const auto epochColon = entry.rfind(':');
        if (epochColon == std::string::npos || epochColon == 0)
            continue;
        const auto offsetColon = entry.rfind(':', epochColon - 1);
        if (offsetColon == std::string::npos || offsetColon == 0)
            continue;
        const std::string offset = entry.substr(offsetColon + 1, epochColon - offsetColon - 1);
        if (offset.empty() || offset.find_first_not_of("0123456789") != std::string::npos || offset.size() > 19)
            continue;
        positions[entry.substr(0, offsetColon)] = StreamPosition{std::stoull(offset), entry.substr(epochColon + 1)};
    }
    return positions;
}

void SseSession::start(const Request &req, const boost::urls::url_view &url)
{
    std::vector<std::string> channels;
    std::vector<std::string> filters;
    std::string token;
    std::string lastEventId;
    bool latest = false;
    if (const auto it = req.find("Last-Event-ID"); it != req.end())
        lastEventId = std::string(it->value());
    for (const auto &p : url.params()) {
        if (p.key == "channels") {
            for (auto &c : splitList(p.value, ','))
                channels.push_back(std::move(c));
        } else if (p.key == "filter") {
            filters.push_back(p.value);
        } else if (p.key == "token") {
            token = p.value;
        } else if (p.key == "lastEventId" && lastEventId.empty()) {
            lastEventId = p.value;
        } else if (p.key == "latest") {
            if (p.value != "1" && p.value != "true" && p.value != "0" && p.value != "false")
                return refuse(http::status::bad_request, 400, "latest must be 1, true, 0 or false");
            latest = p.value == "1" || p.value == "true";
        }
    }
    if (!filters.empty()) {
        std::string problem;
        auto filter = ContentFilter::parse(std::vector<std::string_view>(filters.begin(), filters.end()), problem);
        if (!filter) {
            m_ctx.metrics.sseInvalidFilters.fetch_add(1, std::memory_order_relaxed);
            log::refusal("invalid filter", m_peer, {}, problem);
            return refuse(http::status::bad_request, 400, "invalid filter: " + problem);
        }
        m_filter = std::make_shared<const ContentFilter>(std::move(*filter));
    }
    if (channels.empty())
        return refuse(http::status::bad_request, 400, "channels=a,b is required");
    if (channels.size() > m_ctx.config.maxChannelsPerSession)
        return refuse(http::status::bad_request, 431, "too many channels");
    for (const auto &c : channels) {
        if (validateChannelName(c))
            return refuse(http::status::unprocessable_entity, 422, "invalid channel name: " + c);
    }
    Principal principal;
    if (!token.empty()) {
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
        TokenCheck check = m_ctx.tokens.verify(token, now);
        if (!check.valid) {
            m_ctx.core.locked([&] { m_ctx.core.hub().countAuthFailure(); });
            return refuse(http::status::unauthorized, 401, "invalid token: " + check.reason);
        }
        principal = std::move(check.principal);
        m_user = principal.userId;
        m_expiresAtMs = check.expiresAtMs;
    }
    if (!m_ctx.tryAddConnection()) {
        m_ctx.metrics.rejectedFull.fetch_add(1, std::memory_order_relaxed);
        return refuse(http::status::service_unavailable, 503, "server full");
    }
    m_counted = true;
    m_ctx.metrics.sseSessions.fetch_add(1);
    auto self = shared_from_this();
    m_ctx.addSse(self);

    const auto resume = parseEventId(lastEventId);
    struct Joining {
        std::size_t remaining = 0;
        std::vector<std::pair<std::string, StreamPosition>> positions;
        std::vector<std::string> replay; // message frames: the recovered publications, or the latest one
        std::error_code error;
        std::string errorChannel;
    };
    auto joining = std::make_shared<Joining>();
    joining->remaining = channels.size();
    m_ctx.core.locked([&] {
        Hub &hub = m_ctx.core.hub();
        m_sessionId = hub.attach(self, principal);
        m_attached = true;
        for (const auto &channel : channels) {
            JoinRequest join;
            join.filter = m_filter;
            if (const auto it = resume.find(channel); it != resume.end())
                join.recover = it->second;
            join.latest = latest; // the Hub ignores it for a channel resumed from Last-Event-ID
            hub.join(m_sessionId, channel, join, [self, joining, channel](JoinResult result) {
                // Under the core lock (the Hub's thread).
                if (result.error && !joining->error) {
                    joining->error = result.error;
                    joining->errorChannel = channel;
                }
                StreamPosition start = result.position;
                if (result.recoveryRequested && !result.missed.empty())
                    start.offset = result.missed.front().offset - 1;
                else if (result.recoveryRequested)
                    start.offset = result.position.offset;
                joining->positions.emplace_back(channel, start);
                for (const auto &p : result.missed)
                    joining->replay.push_back(encodeMessageFrame(p)->bytes);
                if (result.latest)
                    joining->replay.push_back(encodeLatestMessageFrame(*result.latest, result.position.epoch)->bytes);
                if (--joining->remaining == 0)
                    boost::asio::post(self->m_stream.get_executor(), [self, joining] {
                        self->joined(std::move(joining->positions), std::move(joining->replay), joining->error,
                                     joining->errorChannel);
                    });
            });
        }
    });
}

void SseSession::joined(std::vector<std::pair<std::string, StreamPosition>> positions, std::vector<std::string> replay,
                        std::error_code error, std::string_view errorChannel)
{
    if (m_finished)
        return;
    if (error) {
        m_ctx.core.locked([&] { m_ctx.core.hub().detach(m_sessionId); });
        m_attached = false;
        return refuse(statusFor(error), error.value(), "cannot join " + std::string(errorChannel) + ": " + error.message());
    }
    for (auto &[channel, position] : positions)
        m_positions[channel] = position;

    http::response<http::empty_body> res{http::status::ok, 11};
    res.set(http::field::server, "switchboard-gateway");
    res.set(http::field::content_type, "text/event-stream");
    res.set(http::field::cache_control, "no-cache");
    res.set(http::field::connection, "keep-alive");
    res.set("X-Accel-Buffering", "no");
    std::ostringstream header;
    header << res.base();
    m_out = header.str();
    m_out += "retry: 3000\n\n";
    for (const std::string &frame : replay)
        appendEvent(frame);
    {
        std::lock_guard lock(m_mutex);
        m_ready = true;
        m_writing = true; // this write, then flush() takes over
    }
    writeOut([self = shared_from_this()](const boost::system::error_code &ec, std::size_t n) {
        self->m_ctx.metrics.bytesOut.fetch_add(n, std::memory_order_relaxed);
        if (ec)
            return self->finish();
        self->flush();
    });
    watchPeer();
    heartbeat();
    watchExpiry();
}

void SseSession::refuse(http::status status, int code, std::string_view message)
{
    auto res = std::make_shared<Response>(errorResponse(status, code, message));
    res->keep_alive(false);
    http::async_write(m_stream, *res, [self = shared_from_this(), res](const boost::system::error_code &, std::size_t) {
        self->finish();
    });
}

SendOutcome SseSession::send(const SharedFrame &frame)
{
    std::lock_guard lock(m_mutex);
    if (m_closing || m_finishedFlag)
        return SendResult::Closed;
    const SendOutcome result = m_outbox.push(frame);
    if (result != SendResult::Dropped && m_ready)
        scheduleFlushLocked();
    return result;
}

void SseSession::close(DisconnectCode code, std::string_view reason)
{
    std::lock_guard lock(m_mutex);
    if (m_closing || m_finishedFlag)
        return;
    m_closing = true;
    std::string data = "{\"code\":" + std::to_string(static_cast<int>(code)) + ",\"reason\":";
    appendJsonString(data, reason);
    data += ",\"reconnect\":";
    data += shouldReconnect(static_cast<std::uint16_t>(code)) ? "true}" : "false}";
    m_pendingText += "event: disconnect\n";
    appendData(m_pendingText, data);
    m_pendingText += '\n';
    if (m_ready)
        scheduleFlushLocked();
    else if (!m_writing)
        boost::asio::post(m_stream.get_executor(), [self = shared_from_this()] { self->finish(); });
}

void SseSession::scheduleFlushLocked()
{
    if (m_writing)
        return;
    m_writing = true;
    boost::asio::post(m_stream.get_executor(), [self = shared_from_this()] { self->flush(); });
}

void SseSession::flush()
{
    while (!m_finished) {
        std::string text;
        bool closing;
        {
            std::lock_guard lock(m_mutex);
            m_outbox.takeAll(m_batch);
            text.swap(m_pendingText);
            closing = m_closing;
            if (m_batch.empty() && text.empty()) {
                m_writing = false;
                if (!closing)
                    return;
            }
        }
        if (m_batch.empty() && text.empty()) {
            finish(); // the disconnect event is out
            return;
        }
        m_out.clear();
        const std::size_t frames = m_batch.size();
        for (const SharedFrame &frame : m_batch)
            appendEvent(frame->bytes);
        m_batch.clear();
        m_out += text;
        if (m_out.empty())
            continue; // everything was filtered out
        m_ctx.metrics.batchFrames.observe(static_cast<double>(frames ? frames : 1));
        writeOut([self = shared_from_this()](const boost::system::error_code &ec, std::size_t n) {
            auto &metrics = self->m_ctx.metrics;
            metrics.bytesOut.fetch_add(n, std::memory_order_relaxed);
            metrics.writeBatches.fetch_add(1, std::memory_order_relaxed);
            if (self->m_out.capacity() > 64 * 1024)
                std::string().swap(self->m_out);
            if (ec)
                return self->finish();
            self->flush();
        });
        return;
    }
}

template <class Handler>
void SseSession::writeOut(Handler handler)
{
    m_inFlight = true;
    m_lastProgress = std::chrono::steady_clock::now();
    if (m_ctx.config.writeTimeout.count() > 0 && m_writeDeadline.expiry() <= m_lastProgress) {
        m_writeDeadline.expires_at(m_lastProgress + m_ctx.config.writeTimeout);
        watchWriteProgress();
    }
    // The completion condition runs after every write_some: each one stamps progress, so a slow
    // client that keeps reading is never dropped, one that stopped is.
    boost::asio::async_write(
        m_stream, boost::asio::buffer(m_out),
        [self = this](const boost::system::error_code &ec, std::size_t n) {
            self->m_lastProgress = std::chrono::steady_clock::now();
            return boost::asio::transfer_all()(ec, n);
        },
        [self = shared_from_this(), handler = std::move(handler)](const boost::system::error_code &ec, std::size_t n) mutable {
            self->m_inFlight = false;
            handler(ec, n);
        });
}

void SseSession::watchWriteProgress()
{
    m_writeDeadline.async_wait([self = shared_from_this()](const boost::system::error_code &ec) {
        if (ec || self->m_finished || !self->m_inFlight)
            return; // no write under way: the next one re-arms
        const auto stalledUntil = self->m_lastProgress + self->m_ctx.config.writeTimeout;
        if (std::chrono::steady_clock::now() < stalledUntil) {
            self->m_writeDeadline.expires_at(stalledUntil);
            return self->watchWriteProgress();
        }
        self->m_ctx.metrics.sseWriteTimeouts.fetch_add(1, std::memory_order_relaxed);
        log::refusal("write deadline", self->m_peer, self->m_user,
                     "SSE stream made no progress for " + std::to_string(self->m_ctx.config.writeTimeout.count()) + " ms");
        self->finish();
    });
}

void SseSession::appendEvent(const std::string &bytes)
{
    boost::system::error_code ec;
    unsigned char arenaBuffer[2048];
    json::monotonic_resource arena(arenaBuffer, sizeof arenaBuffer);
    const json::value frame = json::parse(bytes, ec, json::storage_ptr(&arena));
    if (ec || !frame.is_object())
        return;
    const auto &o = frame.get_object();
    const auto *op = o.if_contains("op");
    if (!op || !op->is_string())
        return;
    if (op->get_string() == "message") {
        const auto *channel = o.if_contains("channel");
        const auto *offset = o.if_contains("offset");
        if (!channel || !channel->is_string())
            return;
        const std::string channelName(channel->get_string());
        if (offset && offset->is_number()) {
            const auto value = offset->to_number<std::uint64_t>();
            StreamPosition &position = m_positions[channelName];
            if (value > 0 && position.epoch.empty()) {
                // The stream was created after the join: message frames carry no epoch, so ask
                // the history once (synchronous with the memory engine).
                m_ctx.core.locked([&] {
                    HistoryQuery query;
                    query.limit = 1;
                    m_ctx.core.hub().history(channelName, query, [&position](HistoryResult r) { position.epoch = r.top.epoch; });
                });
            }
            if (value > 0)
                position.offset = value;
        }
        std::string id;
        for (const auto &[name, position] : m_positions) {
            if (position.epoch.empty())
                continue; // channel without history: nothing to resume from
            if (!id.empty())
                id += ' ';
            id += name + ':' + std::to_string(position.offset) + ':' + position.epoch;
        }
        if (!id.empty())
            m_out.append("id: ").append(id).push_back('\n');
    } else {
        m_out.append("event: ").append(op->get_string()).push_back('\n');
    }
    appendData(m_out, bytes);
    m_out.push_back('\n');
    m_ctx.metrics.sseEvents.fetch_add(1, std::memory_order_relaxed);
    m_ctx.metrics.framesOut.fetch_add(1, std::memory_order_relaxed);
}

void SseSession::watchPeer()
{
    // The client sends nothing after its request: any completion means it went away.
    m_stream.async_read_some(boost::asio::buffer(m_peerByte),
                             [self = shared_from_this()](const boost::system::error_code &ec, std::size_t) {
                                 if (ec)
                                     return self->finish();
                                 self->watchPeer();
                             });
}

void SseSession::heartbeat()
{
    m_heartbeat.expires_after(m_ctx.config.sseHeartbeat);
    m_heartbeat.async_wait([self = shared_from_this()](const boost::system::error_code &ec) {
        if (ec || self->m_finished)
            return;
        {
            std::lock_guard lock(self->m_mutex);
            if (self->m_closing)
                return;
            self->m_pendingText += ": keepalive\n\n";
            self->scheduleFlushLocked();
        }
        self->heartbeat();
    });
}

void SseSession::watchExpiry()
{
    if (m_expiresAtMs == 0)
        return;
    const auto nowMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch()).count();
    // Like a WebSocket session (ServerProtocol), the stream ends when its token does: the
    // client fetches a fresh token and reconnects with Last-Event-ID.
    m_expiry.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(0, m_expiresAtMs - nowMs)));
    m_expiry.async_wait([self = shared_from_this()](const boost::system::error_code &ec) {
        if (ec || self->m_finished)
            return;
        self->m_ctx.metrics.sseTokenExpirations.fetch_add(1, std::memory_order_relaxed);
        log::refusal("expired token", self->m_peer, self->m_user, "SSE stream closed 3004");
        self->close(DisconnectCode::TokenExpired, "token expired");
    });
}

void SseSession::finish()
{
    if (m_finished)
        return;
    m_finished = true;
    std::vector<SharedFrame> discarded;
    {
        std::lock_guard lock(m_mutex);
        m_finishedFlag = true;
        m_outbox.takeAll(discarded);
    }
    m_heartbeat.cancel();
    m_expiry.cancel();
    m_writeDeadline.cancel();
    m_stream.close();
    if (m_attached) {
        m_attached = false;
        m_ctx.core.locked([&] { m_ctx.core.hub().detach(m_sessionId); });
    }
    m_ctx.removeSse(this);
    if (m_counted) {
        m_counted = false;
        m_ctx.metrics.sseSessions.fetch_sub(1);
        m_ctx.removeConnection();
    }
}

} // namespace switchboard::asio
