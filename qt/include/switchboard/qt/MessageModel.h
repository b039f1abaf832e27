#pragma once
// MessageModel: the messages of one channel as a QML list model.

#include <QAbstractListModel>
#include <QVariant>
#include <QtQml/qqmlregistration.h>

#include <deque>
#include <vector>

namespace switchboard::qt {

/// Newest last, bounded by `capacity` (the oldest rows are removed and counted in `dropped`).
///
/// append() does not touch the view: messages arriving during one event-loop turn are inserted
/// by one beginInsertRows / endInsertRows (and at most one removal of overflowing old rows) at
/// the next turn, so thousands of messages per second do not become thousands of row inserts.
/// Thread safety: GUI thread only.
class MessageModel : public QAbstractListModel
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("MessageModel is provided by Channel.messages")
    Q_PROPERTY(int count READ count NOTIFY countChanged)
    Q_PROPERTY(int capacity READ capacity WRITE setCapacity NOTIFY capacityChanged)
    Q_PROPERTY(qint64 dropped READ dropped NOTIFY droppedChanged)

public:
    enum class Role { Event = Qt::UserRole + 1, Payload, Offset, Timestamp, Sender, ReplyTo };
    Q_ENUM(Role)

    struct Message {
        QString event;
        QVariant payload;
        quint64 offset = 0;
        qint64 timestampMs = 0;
        QString sender;
        QString replyTo; ///< token for Client::reply(); empty unless the publisher asked for a reply
    };

    explicit MessageModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;
    static QHash<int, QByteArray> defaultRoleNames();

    int count() const;
    int capacity() const;
    /// At least 1. Shrinking removes the oldest rows (counted as dropped).
    void setCapacity(int capacity);
    qint64 dropped() const;

    /// Queues a message for the next batch.
    void append(Message message);
    /// Applies the queued batch now (normally done by a queued invocation).
    void flush();
    /// Messages queued and not yet visible as rows.
    int pendingCount() const;

    Q_INVOKABLE void clear();
    /// The row as a map of role names to values (empty when out of range).
    Q_INVOKABLE QVariantMap get(int row) const;

Q_SIGNALS:
    void countChanged();
    void capacityChanged();
    void droppedChanged();

private:
    void trimTo(int rows);

    std::deque<Message> m_rows;
    std::vector<Message> m_pending;
    int m_capacity = 1000;
    qint64 m_dropped = 0;
    bool m_flushScheduled = false;
};

} // namespace switchboard::qt
