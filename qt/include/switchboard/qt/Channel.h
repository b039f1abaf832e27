#pragma once
// Channel: one subscription of a Client, as a QObject for C++ and QML.

#include <switchboard/qt/MessageModel.h>
#include <switchboard/qt/PresenceModel.h>

#include <QDateTime>
#include <QObject>
#include <QVariant>
#include <QtQml/qqmlregistration.h>

#include <memory>

namespace switchboard {
class ClientChannel;
struct ClientEvent;
}

namespace switchboard::qt {

/// Created by Client::subscribe() and owned by its Client; deleted (later) by unsubscribe() or
/// with the Client. State mirrors the core ClientChannel: `subscribed` turns false while the
/// client reconnects and true again after the automatic resubscribe; `recovered` tells whether
/// that resubscribe delivered every publication missed meanwhile.
/// Thread safety: the Client's thread only.
class Channel : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("Channels come from Client.subscribe()")
    Q_PROPERTY(QString name READ name CONSTANT)
    Q_PROPERTY(QString type READ type CONSTANT)
    Q_PROPERTY(bool subscribed READ subscribed NOTIFY subscribedChanged)
    Q_PROPERTY(bool recovered READ recovered NOTIFY recoveredChanged)
    Q_PROPERTY(QString lastError READ lastError NOTIFY lastErrorChanged)
    Q_PROPERTY(switchboard::qt::MessageModel *messages READ messages CONSTANT)
    Q_PROPERTY(switchboard::qt::PresenceModel *presence READ presence CONSTANT)
    Q_PROPERTY(QVariant latest READ latest NOTIFY latestChanged)
    Q_PROPERTY(QString latestEvent READ latestEvent NOTIFY latestChanged)
    Q_PROPERTY(qint64 latestOffset READ latestOffset NOTIFY latestChanged)
    Q_PROPERTY(QDateTime latestTime READ latestTime NOTIFY latestChanged)
    Q_PROPERTY(qint64 received READ received NOTIFY latestChanged)

public:
    Channel(ClientChannel &channel, QObject *parent);
    ~Channel() override;

    QString name() const;
    QString type() const;             ///< "public", "private" or "presence"
    bool subscribed() const;
    bool recovered() const;
    QString lastError() const;
    MessageModel *messages() const;
    PresenceModel *presence() const;  ///< null unless this is a presence channel
    /// Payload of the newest message: live, or the channel's newest publication when the
    /// subscribe asked for it (`subscribe(name, {latest: true})`), or a recovered one.
    QVariant latest() const;
    QString latestEvent() const;      ///< event name of that message
    qint64 latestOffset() const;      ///< its offset in the channel's stream (0 without history)
    QDateTime latestTime() const;     ///< when it was published (invalid before the first message)
    qint64 received() const;          ///< messages received since the subscribe

    /// Called by Client for every message of this channel.
    void deliver(const ClientEvent &event);
    /// Called by Client before the core channel goes away.
    void detachCore();

Q_SIGNALS:
    void subscribedChanged();
    void recoveredChanged();
    void lastErrorChanged();
    void latestChanged();
    /// `replyTo`: the token to answer it with (Client::reply()), empty unless the publisher
    /// asked for a reply (Client::publishForReply()).
    void messageReceived(const QString &event, const QVariant &payload, const QString &replyTo);

private:
    void syncState();
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace switchboard::qt
