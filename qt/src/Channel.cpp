#include "switchboard/qt/Channel.h"

#include "JsonVariant.h"

#include <switchboard/ChannelName.h>
#include <switchboard/ClientSession.h>

namespace switchboard::qt {

struct Channel::Private {
    ClientChannel *core = nullptr;
    QString name;
    QString type;
    bool subscribed = false;
    bool recovered = false;
    QString lastError;
    QVariant latest;
    QString latestEvent;
    qint64 latestOffset = 0;
    qint64 latestTimeMs = -1;
    qint64 received = 0;
    MessageModel *messages = nullptr;
    PresenceModel *presence = nullptr;
    ListenerHandle stateHandle;
    ListenerHandle presenceHandle;
};

Channel::Channel(ClientChannel &channel, QObject *parent) : QObject(parent), d(std::make_unique<Private>())
{
    d->core = &channel;
    d->name = detail::toQString(channel.name());
    const ChannelType type = channelTypeOf(channel.name());
    d->type = detail::toQString(channelTypeName(type));
    d->messages = new MessageModel(this);
    if (type == ChannelType::Presence) {
        d->presence = new PresenceModel(this);
        d->presence->reset(channel.members());
        d->presenceHandle = channel.onPresenceChanged([this](std::string_view kind, const Member &member) {
            if (kind == "member_added")
                d->presence->add(member);
            else if (kind == "member_removed")
                d->presence->remove(detail::toQString(member.userId));
            else if (d->core)
                d->presence->reset(d->core->members());
        });
    }
    d->stateHandle = channel.onStateChanged([this] { syncState(); });
    syncState();
}

Channel::~Channel() = default;

void Channel::detachCore()
{
    d->stateHandle.reset();
    d->presenceHandle.reset();
    d->core = nullptr;
    if (d->subscribed) {
        d->subscribed = false;
        Q_EMIT subscribedChanged();
    }
}

void Channel::syncState()
{
    if (!d->core)
        return;
    const bool subscribed = d->core->subscribed();
    const bool recovered = d->core->recovered();
    const std::error_code error = d->core->lastError();
    const QString lastError = error ? QString::fromStdString(error.message()) : QString();
    if (recovered != d->recovered) {
        d->recovered = recovered;
        Q_EMIT recoveredChanged();
    }
    if (lastError != d->lastError) {
        d->lastError = lastError;
        Q_EMIT lastErrorChanged();
    }
    if (subscribed != d->subscribed) {
        d->subscribed = subscribed;
        Q_EMIT subscribedChanged();
    }
}

void Channel::deliver(const ClientEvent &event)
{
    QVariant payload = event.binary
        ? QVariant(QByteArray(event.binaryData.data(), static_cast<qsizetype>(event.binaryData.size())))
        : detail::toVariant(event.data);
    const QString eventName = detail::toQString(event.event);
    const QString replyTo = detail::toQString(event.replyTo);
    d->messages->append(MessageModel::Message{eventName, payload, event.offset, event.timestampMs,
                                              detail::toQString(event.sender), replyTo});
    d->latest = payload;
    d->latestEvent = eventName;
    d->latestOffset = static_cast<qint64>(event.offset);
    d->latestTimeMs = event.binary ? -1 : event.timestampMs;
    ++d->received;
    Q_EMIT latestChanged();
    Q_EMIT messageReceived(eventName, payload, replyTo);
}

QString Channel::name() const { return d->name; }
QString Channel::type() const { return d->type; }
bool Channel::subscribed() const { return d->subscribed; }
bool Channel::recovered() const { return d->recovered; }
QString Channel::lastError() const { return d->lastError; }
MessageModel *Channel::messages() const { return d->messages; }
PresenceModel *Channel::presence() const { return d->presence; }
QVariant Channel::latest() const { return d->latest; }
QString Channel::latestEvent() const { return d->latestEvent; }
qint64 Channel::latestOffset() const { return d->latestOffset; }
QDateTime Channel::latestTime() const
{
    return d->latestTimeMs < 0 ? QDateTime() : QDateTime::fromMSecsSinceEpoch(d->latestTimeMs, Qt::UTC);
}
qint64 Channel::received() const { return d->received; }

} // namespace switchboard::qt
