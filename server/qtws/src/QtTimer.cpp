#include "switchboard/qtws/QtTimer.h"

#include <QDateTime>
#include <QObject>
#include <QTimerEvent>

#include <unordered_map>

namespace switchboard::qtws {

// One QObject receives every timer event: cheaper than a QTimer object per core timer.
class QtTimer::Driver final : public QObject {
public:
    struct Entry {
        TimerId id;
        std::function<void()> callback;
    };

    TimerId start(std::chrono::milliseconds delay, std::function<void()> callback)
    {
        const TimerId id = ++lastId;
        const int qtId = startTimer(std::max<std::chrono::milliseconds>(delay, std::chrono::milliseconds(0)),
                                    Qt::PreciseTimer);
        if (qtId == 0)
            return id; // no event loop thread: Qt refused; the id stays valid and never fires
        byQtId.emplace(qtId, Entry{id, std::move(callback)});
        byId.emplace(id, qtId);
        return id;
    }

    void cancel(TimerId id)
    {
        const auto it = byId.find(id);
        if (it == byId.end())
            return;
        killTimer(it->second);
        byQtId.erase(it->second);
        byId.erase(it);
    }

    void timerEvent(QTimerEvent *event) override
    {
        const int qtId = event->timerId();
        killTimer(qtId);
        auto it = byQtId.find(qtId);
        if (it == byQtId.end())
            return;
        // Move the callback out first: it may start or cancel timers, rehashing the maps.
        Entry entry = std::move(it->second);
        byQtId.erase(it);
        byId.erase(entry.id);
        entry.callback();
    }

    std::unordered_map<int, Entry> byQtId;
    std::unordered_map<TimerId, int> byId;
    TimerId lastId = 0;
    QElapsedTimer clock;
};

QtTimer::QtTimer() : d(std::make_unique<Driver>())
{
    d->clock.start();
}

QtTimer::~QtTimer() = default;

TimerId QtTimer::start(std::chrono::milliseconds delay, std::function<void()> callback)
{
    return d->start(delay, std::move(callback));
}

void QtTimer::cancel(TimerId id)
{
    d->cancel(id);
}

std::chrono::milliseconds QtTimer::now() const
{
    return std::chrono::milliseconds(d->clock.elapsed());
}

std::chrono::microseconds QtTimer::nowPrecise() const
{
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::nanoseconds(d->clock.nsecsElapsed()));
}

std::int64_t QtTimer::wallClockMs() const
{
    return QDateTime::currentMSecsSinceEpoch();
}

std::size_t QtTimer::pendingCount() const
{
    return d->byId.size();
}

} // namespace switchboard::qtws
