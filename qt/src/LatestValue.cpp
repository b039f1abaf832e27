#include "switchboard/qt/LatestValue.h"

namespace switchboard::qt {

LatestValue::LatestValue(QObject *parent) : QObject(parent) {}

LatestValue::~LatestValue() = default;

Client *LatestValue::client() const { return m_client; }
QString LatestValue::channel() const { return m_channel; }
QString LatestValue::field() const { return m_field; }
QString LatestValue::event() const { return m_event; }
QVariant LatestValue::value() const { return m_value; }
QVariant LatestValue::payload() const { return m_payload; }
bool LatestValue::valid() const { return m_valid; }
qint64 LatestValue::offset() const { return m_offset; }
QDateTime LatestValue::time() const { return m_time; }
Channel *LatestValue::subscription() const { return m_subscription; }

void LatestValue::setClient(Client *client)
{
    if (m_client == client)
        return;
    m_client = client;
    Q_EMIT clientChanged();
    resubscribe();
}

void LatestValue::setChannel(const QString &channel)
{
    if (m_channel == channel)
        return;
    m_channel = channel;
    Q_EMIT channelChanged();
    resubscribe();
}

void LatestValue::setField(const QString &field)
{
    if (m_field == field)
        return;
    m_field = field;
    Q_EMIT fieldChanged();
    retake();
}

void LatestValue::setEvent(const QString &event)
{
    if (m_event == event)
        return;
    m_event = event;
    Q_EMIT eventChanged();
    retake();
}

void LatestValue::retake()
{
    clear();
    m_seen = -1;
    take(); // the Channel's newest message, read through the new field or event
}

void LatestValue::classBegin()
{
    m_complete = false;
}

void LatestValue::componentComplete()
{
    m_complete = true;
    resubscribe();
}

void LatestValue::resubscribe()
{
    if (!m_complete) // every property set in QML first, then one subscribe
        return;
    QObject::disconnect(m_latestConnection);
    clear();
    m_seen = -1;
    Channel *subscription = nullptr;
    if (m_client && !m_channel.isEmpty())
        subscription = m_client->subscribe(m_channel, QVariantMap{{QStringLiteral("latest"), true}});
    if (subscription != m_subscription) {
        m_subscription = subscription;
        Q_EMIT subscriptionChanged();
    }
    if (!subscription)
        return;
    m_latestConnection = connect(subscription, &Channel::latestChanged, this, &LatestValue::take);
    take(); // a Channel the Client already held may have a message
}

void LatestValue::take()
{
    if (!m_subscription || m_subscription->received() == 0 || m_subscription->received() == m_seen)
        return;
    m_seen = m_subscription->received();
    if (!m_event.isEmpty() && m_subscription->latestEvent() != m_event)
        return;
    const QVariant payload = m_subscription->latest();
    QVariant value = payload;
    if (!m_field.isEmpty()) {
        for (const QString &part : m_field.split(QLatin1Char('.'))) {
            const QVariantMap object = value.toMap();
            const auto it = object.find(part);
            if (value.metaType() != QMetaType::fromType<QVariantMap>() || it == object.end())
                return; // not a value of this field
            value = *it;
        }
    }
    m_payload = payload;
    m_value = value;
    m_offset = m_subscription->latestOffset();
    m_time = m_subscription->latestTime();
    m_valid = true;
    Q_EMIT valueChanged();
}

void LatestValue::clear()
{
    if (!m_valid)
        return;
    m_valid = false;
    m_value.clear();
    m_payload.clear();
    m_offset = 0;
    m_time = QDateTime();
    Q_EMIT valueChanged();
}

} // namespace switchboard::qt
