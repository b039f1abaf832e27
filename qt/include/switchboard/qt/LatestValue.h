#pragma once
// LatestValue: the newest value of one channel, for gauges and status fields bound in QML.

#include <switchboard/qt/Channel.h>
#include <switchboard/qt/Client.h>

#include <QDateTime>
#include <QObject>
#include <QPointer>
#include <QQmlParserStatus>
#include <QVariant>
#include <QtQml/qqmlregistration.h>

namespace switchboard::qt {

/// Subscribes `client` to `channel` asking for its newest publication (subscribe option
/// `latest`), so `value` is set as soon as the subscribe is answered, not at the next
/// publication, and follows every message after it (recovered ones included after a reconnect).
///
/// QML:
/// ```qml
/// LatestValue { id: temperature; client: panelClient; channel: "sensors/room-1"; field: "celsius" }
/// Gauge { value: temperature.valid ? temperature.value : 0 }
/// ```
/// - `field`: a member of an object payload, `a.b` for a nested one; empty: the whole payload.
///   A message without it leaves `value` unchanged (it is not a value of this field).
/// - `event`: only messages of this event name count; empty: every event.
/// - The subscription belongs to the Client, like one made by Client::subscribe() (other items
///   may use the same Channel): changing `channel` or destroying the item does not unsubscribe.
///   A channel the Client already holds is used as it is (it was subscribed without `latest`,
///   so `value` waits for the next message, unless the Channel already received one).
/// - The channel needs history for its newest publication to be kept (the gateway's history
///   rules; docs/protocol.md "Latest value").
/// Thread safety: the Client's thread only.
class LatestValue : public QObject, public QQmlParserStatus
{
    Q_OBJECT
    Q_INTERFACES(QQmlParserStatus)
    QML_ELEMENT
    Q_PROPERTY(switchboard::qt::Client *client READ client WRITE setClient NOTIFY clientChanged)
    Q_PROPERTY(QString channel READ channel WRITE setChannel NOTIFY channelChanged)
    Q_PROPERTY(QString field READ field WRITE setField NOTIFY fieldChanged)
    Q_PROPERTY(QString event READ event WRITE setEvent NOTIFY eventChanged)
    Q_PROPERTY(QVariant value READ value NOTIFY valueChanged)
    Q_PROPERTY(QVariant payload READ payload NOTIFY valueChanged)
    Q_PROPERTY(bool valid READ valid NOTIFY valueChanged)
    Q_PROPERTY(qint64 offset READ offset NOTIFY valueChanged)
    Q_PROPERTY(QDateTime time READ time NOTIFY valueChanged)
    Q_PROPERTY(switchboard::qt::Channel *subscription READ subscription NOTIFY subscriptionChanged)

public:
    explicit LatestValue(QObject *parent = nullptr);
    ~LatestValue() override;

    Client *client() const;
    void setClient(Client *client);
    QString channel() const;
    void setChannel(const QString &channel);
    QString field() const;
    void setField(const QString &field);
    QString event() const;
    void setEvent(const QString &event);

    QVariant value() const;   ///< the field of the newest matching message (or its payload)
    QVariant payload() const; ///< the whole payload of that message
    bool valid() const;       ///< a value was received since the channel was set
    qint64 offset() const;    ///< its offset in the channel's stream (0 without history)
    QDateTime time() const;   ///< when it was published
    Channel *subscription() const; ///< the Client's Channel, null until client and channel are set

    void classBegin() override;
    void componentComplete() override;

Q_SIGNALS:
    void clientChanged();
    void channelChanged();
    void fieldChanged();
    void eventChanged();
    void valueChanged();
    void subscriptionChanged();

private:
    void resubscribe();
    void retake();
    void take();
    void clear();

    QPointer<Client> m_client;
    QPointer<Channel> m_subscription;
    QMetaObject::Connection m_latestConnection;
    QString m_channel;
    QString m_field;
    QString m_event;
    QVariant m_value;
    QVariant m_payload;
    qint64 m_offset = 0;
    QDateTime m_time;
    qint64 m_seen = -1; // Channel::received() of the message taken, so one message counts once
    bool m_valid = false;
    bool m_complete = true; // false between classBegin() and componentComplete()
};

} // namespace switchboard::qt
