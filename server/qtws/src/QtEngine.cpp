#include "switchboard/qtws/QtEngine.h"

#include "RefusalLog.h"

#include <switchboard/MemoryBroker.h>
#include <switchboard/MemoryPresenceStore.h>

#ifdef SWITCHBOARD_HAVE_REDIS
#include "QtRedisEventLoop.h"

#include <switchboard/redis/RedisShards.h>
#endif

namespace switchboard::qtws {

struct QtEngine::Private {
    // Destroyed bottom-up: a broker frees its Redis connections (and their notifiers) itself.
    std::unique_ptr<MemoryBroker> memoryBroker;
#ifdef SWITCHBOARD_HAVE_REDIS
    // Broker and presence on one or several Redis shards (rosters span nodes).
    std::unique_ptr<redis::RedisShards> redis;
#endif
    std::unique_ptr<PresenceStore> memoryPresence;
    PresenceStore *presence = nullptr;
    Broker *broker = nullptr;
    QString description;
};

QtEngine::QtEngine() : d(std::make_unique<Private>()) {}
QtEngine::~QtEngine() = default;

std::unique_ptr<QtEngine> QtEngine::create(Timer &timer, const QtEngineOptions &options, QString *error)
{
    const auto fail = [error](const QString &reason) {
        if (error)
            *error = reason;
        return std::unique_ptr<QtEngine>();
    };
    std::unique_ptr<QtEngine> engine(new QtEngine);
    Private &d = *engine->d;
    if (options.engine.isEmpty() || options.engine == QLatin1String("memory")) {
        MemoryBrokerOptions o;
        o.history = options.history;
        o.idempotency = options.idempotency;
        o.log = [](std::string_view message) { qCWarning(lcQtGateway, "broker: %.*s", int(message.size()), message.data()); };
        d.memoryBroker = std::make_unique<MemoryBroker>(timer, std::move(o));
        d.broker = d.memoryBroker.get();
        d.description = QStringLiteral("memory");
    } else if (options.engine.startsWith(QLatin1String("redis://")) || options.engine.startsWith(QLatin1String("rediss://"))) {
#ifdef SWITCHBOARD_HAVE_REDIS
        redis::RedisShardsOptions o;
        std::string problem;
        if (!redis::RedisUrl::parseList(options.engine.toStdString(), o.urls, problem))
            return fail(QStringLiteral("engine: ") + QString::fromStdString(problem));
        bool tls = false;
        for (const redis::RedisUrl &url : o.urls)
            tls = tls || url.tls;
        if (tls) // hiredis 0.14 has no TLS and the Qt gateway has no TLS tunnel (switchboard-gateway has)
            return fail(QStringLiteral("engine: rediss:// (TLS) is supported by switchboard-gateway only; the Qt gateway needs redis://"));
        if (options.enginePrefix.isEmpty())
            return fail(QStringLiteral("enginePrefix: must not be empty"));
        o.prefix = options.enginePrefix.toStdString();
        o.history = options.history;
        o.idempotencyWindow = options.idempotency.window;
        o.eventLoop = qtRedisEventLoop();
        o.backoffMax = options.reconnectMax;
        o.connectTimeout = options.connectTimeout;
        o.nodeTtl = options.nodeTtl;
        o.log = [](std::string_view message) { qCWarning(lcQtGateway, "engine: %.*s", int(message.size()), message.data()); };
        QStringList urls;
        for (const redis::RedisUrl &url : o.urls)
            urls << QString::fromStdString(url.display());
        d.description = QStringLiteral("%1, key prefix '%2'").arg(urls.join(QLatin1Char(',')), options.enginePrefix);
        d.redis = std::make_unique<redis::RedisShards>(timer, std::move(o));
        d.broker = &d.redis->broker();
        d.presence = &d.redis->presence();
#else
        (void)timer;
        return fail(QStringLiteral("engine %1: this build has no Redis engine (hiredis was not found when Switchboard was built)")
                        .arg(options.engine));
#endif
    } else {
        return fail(QStringLiteral("engine %1: expected \"memory\" or redis://HOST:PORT[/DB]").arg(options.engine));
    }
    if (!d.presence) {
        d.memoryPresence = std::make_unique<MemoryPresenceStore>();
        d.presence = d.memoryPresence.get();
    }
    return engine;
}

Broker &QtEngine::broker() { return *d->broker; }
PresenceStore &QtEngine::presence() { return *d->presence; }

void QtEngine::start()
{
#ifdef SWITCHBOARD_HAVE_REDIS
    if (d->redis) {
        qCInfo(lcQtGateway, "engine: Redis at %s", qPrintable(d->description));
        d->redis->start();
    }
#endif
}

bool QtEngine::isRedis() const
{
#ifdef SWITCHBOARD_HAVE_REDIS
    return d->redis != nullptr;
#else
    return false;
#endif
}

bool QtEngine::available() const
{
#ifdef SWITCHBOARD_HAVE_REDIS
    if (d->redis)
        return d->redis->available();
#endif
    return true;
}

QString QtEngine::description() const { return d->description; }

std::vector<std::string> QtEngine::channelsWithHistory() const
{
    return d->memoryBroker ? d->memoryBroker->channelsWithHistory() : std::vector<std::string>{};
}

QtEngineCounters QtEngine::counters() const
{
    QtEngineCounters out;
#ifdef SWITCHBOARD_HAVE_REDIS
    if (d->redis) {
        static_assert(sizeof(QtEngineCounters) == sizeof(redis::RedisBrokerCounters),
                      "QtEngineCounters mirrors RedisBrokerCounters: copy a field added there below");
        const redis::RedisBrokerCounters c = d->redis->brokerCounters(); // summed over the shards
        out.errors = c.errors;
        out.reconnects = c.reconnects;
        out.refused = c.refused;
        out.received = c.received;
        out.receivedRemote = c.receivedRemote;
        out.recovered = c.recovered;
        out.gaps = c.gaps;
        out.listening = c.listening;
        out.duplicates = c.duplicates;
    }
#endif
    return out;
}

bool QtEngine::redisSupported()
{
#ifdef SWITCHBOARD_HAVE_REDIS
    return true;
#else
    return false;
#endif
}

} // namespace switchboard::qtws
