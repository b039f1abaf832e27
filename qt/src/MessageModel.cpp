#include "switchboard/qt/MessageModel.h"

#include <algorithm>

namespace switchboard::qt {

MessageModel::MessageModel(QObject *parent) : QAbstractListModel(parent) {}

int MessageModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_rows.size());
}

QVariant MessageModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Message &m = m_rows[static_cast<std::size_t>(index.row())];
    switch (static_cast<Role>(role)) {
    case Role::Event: return m.event;
    case Role::Payload: return m.payload;
    case Role::Offset: return static_cast<qulonglong>(m.offset);
    case Role::Timestamp: return static_cast<qlonglong>(m.timestampMs);
    case Role::Sender: return m.sender;
    case Role::ReplyTo: return m.replyTo;
    }
    if (role == Qt::DisplayRole)
        return m.event;
    return {};
}

QHash<int, QByteArray> MessageModel::defaultRoleNames()
{
    return {
        {int(Role::Event), "event"},
        {int(Role::Payload), "payload"},
        {int(Role::Offset), "offset"},
        {int(Role::Timestamp), "timestamp"},
        {int(Role::Sender), "sender"},
        {int(Role::ReplyTo), "replyTo"},
    };
}

QHash<int, QByteArray> MessageModel::roleNames() const
{
    static const QHash<int, QByteArray> names = defaultRoleNames();
    return names;
}

int MessageModel::count() const
{
    return static_cast<int>(m_rows.size());
}

int MessageModel::capacity() const
{
    return m_capacity;
}

void MessageModel::setCapacity(int capacity)
{
    capacity = std::max(1, capacity);
    if (capacity == m_capacity)
        return;
    m_capacity = capacity;
    trimTo(m_capacity);
    Q_EMIT capacityChanged();
}

qint64 MessageModel::dropped() const
{
    return m_dropped;
}

void MessageModel::append(Message message)
{
    m_pending.push_back(std::move(message));
    if (!m_flushScheduled) {
        m_flushScheduled = true;
        QMetaObject::invokeMethod(this, [this] { flush(); }, Qt::QueuedConnection);
    }
}

int MessageModel::pendingCount() const
{
    return static_cast<int>(m_pending.size());
}

void MessageModel::trimTo(int rows)
{
    const int excess = count() - rows;
    if (excess <= 0)
        return;
    beginRemoveRows({}, 0, excess - 1);
    m_rows.erase(m_rows.begin(), m_rows.begin() + excess);
    endRemoveRows();
    m_dropped += excess;
    Q_EMIT countChanged();
    Q_EMIT droppedChanged();
}

void MessageModel::flush()
{
    m_flushScheduled = false;
    if (m_pending.empty())
        return;
    const qint64 droppedBefore = m_dropped;
    auto first = m_pending.begin();
    // A batch larger than the capacity: its oldest part never becomes a row.
    if (static_cast<int>(m_pending.size()) > m_capacity) {
        const auto skip = static_cast<std::ptrdiff_t>(m_pending.size()) - m_capacity;
        m_dropped += skip;
        first += skip;
    }
    const int incoming = static_cast<int>(m_pending.end() - first);
    trimTo(m_capacity - incoming);
    const int start = count();
    beginInsertRows({}, start, start + incoming - 1);
    std::move(first, m_pending.end(), std::back_inserter(m_rows));
    endInsertRows();
    m_pending.clear();
    Q_EMIT countChanged();
    if (m_dropped != droppedBefore)
        Q_EMIT droppedChanged();
}

void MessageModel::clear()
{
    m_pending.clear();
    if (m_rows.empty())
        return;
    beginResetModel();
    m_rows.clear();
    endResetModel();
    Q_EMIT countChanged();
}

QVariantMap MessageModel::get(int row) const
{
    if (row < 0 || row >= count())
        return {};
    QVariantMap map;
    const QModelIndex idx = index(row);
    const auto names = roleNames();
    for (auto it = names.begin(); it != names.end(); ++it)
        map.insert(QString::fromUtf8(it.value()), data(idx, it.key()));
    return map;
}

} // namespace switchboard::qt
