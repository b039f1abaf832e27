#include "switchboard/qtws/QtEngine.h"

#include "RefusalLog.h"

#include <switchboard/MemoryBroker.h>
#include <switchboard/MemoryPresenceStore.h>

#ifdef SWITCHBOARD_HAVE_REDIS
#include "QtRedisEventLoop.h"

#include <switchboard/redis/RedisBroker.h>
#include <switchboard/redis/RedisPresenceStore.h>
#endif

namespace switchboard::qtws {

struct QtEngine::Private {
    // Destroyed bottom-up: a broker frees its Redis connections (and their notifiers) itself.
    std::unique_ptr<MemoryBroker> memoryBroker;
#ifdef SWITCHBOARD_HAVE_REDIS
    std::unique_ptr<redis::RedisBroker> redisBroker;
#endif
    // Memory, or a RedisPresenceStore when the broker is on Redis (rosters span nodes); freed
    // before the broker.
    std::unique_ptr<PresenceStore> presence;
#ifdef SWITCHBOARD_HAVE_REDIS
    redis::RedisPresenceStore *redisPresence = nullptr;
#endif
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
        o.log = [](std::string_view message) { qCWarning(lcQtGateway, "broker: %.*s", int(message.size()), message.data()); };
        d.memoryBroker = std::make_unique<MemoryBroker>(timer, std::move(o));
        d.broker = d.memoryBroker.get();
        d.description = QStringLiteral("memory");
    } else if (options.engine.startsWith(QLatin1String("redis://")) || options.engine.startsWith(QLatin1String("rediss://"))) {
#ifdef SWITCHBOARD_HAVE_REDIS
        redis::RedisBrokerOptions o;
        std::string problem;
        if (!redis::RedisUrl::parse(options.engine.toStdString(), o.url, problem))
            return fail(QStringLiteral("engine: ") + QString::fromStdString(problem));
        if (options.enginePrefix.isEmpty())
            return fail(QStringLiteral("enginePrefix: must not be empty"));
        o.prefix = options.enginePrefix.toStdString();
        o.history = options.history;
        o.eventLoop = qtRedisEventLoop();
        o.backoffMax = options.reconnectMax;
        o.connectTimeout = options.connectTimeout;
        o.log = [](std::string_view message) { qCWarning(lcQtGateway, "engine: %.*s", int(message.size()), message.data()); };
        d.description = QStringLiteral("%1, key prefix '%2'").arg(QString::fromStdString(o.url.display()), options.enginePrefix);
        redis::RedisPresenceOptions p;
        p.url = o.url;
        p.prefix = o.prefix;
        p.eventLoop = o.eventLoop;
        p.backoffMax = o.backoffMax;
        p.connectTimeout = o.connectTimeout;
        p.log = o.log;
        p.nodeTtl = options.nodeTtl;
        d.redisBroker = std::make_unique<redis::RedisBroker>(timer, std::move(o));
        d.broker = d.redisBroker.get();
        p.nodeId = d.redisBroker->nodeId();
        auto presence = std::make_unique<redis::RedisPresenceStore>(timer, std::move(p));
        d.redisPresence = presence.get();
        d.presence = std::move(presence);
#else
        (void)timer;
        return fail(QStringLiteral("engine %1: this build has no Redis engine (hiredis was not found when Switchboard was built)")
                        .arg(options.engine));
#endif
    } else {
        return fail(QStringLiteral("engine %1: expected \"memory\" or redis://HOST:PORT[/DB]").arg(options.engine));
    }
    if (!d.presence)
        d.presence = std::make_unique<MemoryPresenceStore>();
    return engine;
}

Broker &QtEngine::broker() { return *d->broker; }
PresenceStore &QtEngine::presence() { return *d->presence; }

void QtEngine::start()
{
#ifdef SWITCHBOARD_HAVE_REDIS
    if (d->redisBroker) {
        qCInfo(lcQtGateway, "engine: Redis at %s", qPrintable(d->description));
        d->redisBroker->start();
        d->redisPresence->start();
    }
#endif
}

bool QtEngine::isRedis() const
{
#ifdef SWITCHBOARD_HAVE_REDIS
    return d->redisBroker != nullptr;
#else
    return false;
#endif
}

bool QtEngine::available() const
{
#ifdef SWITCHBOARD_HAVE_REDIS
    if (d->redisBroker)
        return d->redisBroker->available() && d->redisPresence->available();
#endif
    return true;
}

QString QtEngine::description() const { return d->description; }

QtEngineCounters QtEngine::counters() const
{
    QtEngineCounters out;
#ifdef SWITCHBOARD_HAVE_REDIS
    if (d->redisBroker) {
        const redis::RedisBrokerCounters c = d->redisBroker->counters();
        out.errors = c.errors;
        out.reconnects = c.reconnects;
        out.refused = c.refused;
        out.received = c.received;
        out.receivedRemote = c.receivedRemote;
        out.recovered = c.recovered;
        out.gaps = c.gaps;
        out.listening = c.listening;
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
