#pragma once
// StreamModel: the dashboard's view of one channel's messages (bounded, filtered, pausable).

#include <QAbstractListModel>
#include <QPointer>
#include <QVariant>
#include <QtQml/qqmlregistration.h>

#include <deque>

namespace switchboard::dashboard {

/// Follows a message model (Channel.messages of the `Switchboard` module, or any model with the
/// roles event, payload, offset, timestamp and sender) and keeps its own copy of the newest
/// `capacity` rows whose event name contains `eventFilter` (case-insensitive).
///
/// The work per message is C++ only: the source inserts each batch with one rowsInserted, and this
/// model answers it with at most one removal (overflow) and one insertion, whatever the batch size.
/// While `paused` the rows stay as they are and new messages are counted in `heldBack`; resuming
/// (or changing the filter) rebuilds the rows from the newest `capacity` messages received.
/// Thread safety: GUI thread only.
class StreamModel : public QAbstractListModel
{
    Q_OBJECT
    QML_ELEMENT
    Q_PROPERTY(QAbstractItemModel *source READ source WRITE setSource NOTIFY sourceChanged)
    Q_PROPERTY(int capacity READ capacity WRITE setCapacity NOTIFY capacityChanged)
    Q_PROPERTY(bool paused READ paused WRITE setPaused NOTIFY pausedChanged)
    Q_PROPERTY(QString eventFilter READ eventFilter WRITE setEventFilter NOTIFY eventFilterChanged)
    Q_PROPERTY(int count READ count NOTIFY countChanged)
    Q_PROPERTY(qint64 seen READ seen NOTIFY seenChanged)
    Q_PROPERTY(qint64 heldBack READ heldBack NOTIFY seenChanged)

public:
    enum class Role { Event = Qt::UserRole + 1, Payload, PayloadText, PrettyText, Offset, Timestamp, Sender };
    Q_ENUM(Role)

    explicit StreamModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;

    QAbstractItemModel *source() const;
    /// Starts over (no rows) with the new source; null detaches.
    void setSource(QAbstractItemModel *source);
    int capacity() const;
    void setCapacity(int capacity);   ///< at least 1; shrinking drops the oldest rows
    bool paused() const;
    void setPaused(bool paused);
    QString eventFilter() const;
    /// Applies to messages arriving from now on; the rows shown are filtered again at once.
    void setEventFilter(const QString &filter);
    int count() const;
    /// Rows the source inserted since setSource. A source that drops part of an oversized batch
    /// (MessageModel beyond its capacity) never shows those: count them with the channel.
    qint64 seen() const;
    qint64 heldBack() const;          ///< messages that arrived while paused

    Q_INVOKABLE void clear();
    /// The row as a map of role names to values (empty when out of range).
    Q_INVOKABLE QVariantMap get(int row) const;
    /// `value` as indented JSON text (strings are quoted), for a detail view.
    Q_INVOKABLE static QString prettyJson(const QVariant &value);
    /// `value` as compact one-line JSON text.
    Q_INVOKABLE static QString compactJson(const QVariant &value);

Q_SIGNALS:
    void sourceChanged();
    void capacityChanged();
    void pausedChanged();
    void eventFilterChanged();
    void countChanged();
    void seenChanged();

private:
    struct Row {
        QString event;
        QVariant payload;
        QVariant offset;
        QVariant timestamp;
        QString sender;
    };
    void onRowsInserted(const QModelIndex &parent, int first, int last);
    void lookUpRoles();
    bool accepts(const QString &event) const;
    void trimTo(int rows);

    QPointer<QAbstractItemModel> m_source;
    QMetaObject::Connection m_inserted;
    QMetaObject::Connection m_roles;
    int m_eventRole = -1, m_payloadRole = -1, m_offsetRole = -1, m_timestampRole = -1, m_senderRole = -1;
    std::deque<Row> m_rows;
    std::deque<Row> m_recent;   // the newest `capacity` rows unfiltered, to refilter on demand
    int m_capacity = 500;
    bool m_paused = false;
    QString m_filter;
    qint64 m_seen = 0;
    qint64 m_heldBack = 0;
};

} // namespace switchboard::dashboard
