#include "StreamModel.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonValue>

#include <algorithm>

namespace switchboard::dashboard {

StreamModel::StreamModel(QObject *parent) : QAbstractListModel(parent) {}

int StreamModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : count();
}

int StreamModel::count() const
{
    return static_cast<int>(m_rows.size());
}

QVariant StreamModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Row &row = m_rows[static_cast<std::size_t>(index.row())];
    switch (static_cast<Role>(role)) {
    case Role::Event: return row.event;
    case Role::Payload: return row.payload;
    case Role::PayloadText: return compactJson(row.payload);
    case Role::PrettyText: return prettyJson(row.payload);
    case Role::Offset: return row.offset;
    case Role::Timestamp: return row.timestamp;
    case Role::Sender: return row.sender;
    }
    if (role == Qt::DisplayRole)
        return row.event;
    return {};
}

QHash<int, QByteArray> StreamModel::roleNames() const
{
    return {{int(Role::Event), "event"},         {int(Role::Payload), "payload"},
            {int(Role::PayloadText), "payloadText"}, {int(Role::PrettyText), "prettyText"},
            {int(Role::Offset), "offset"},       {int(Role::Timestamp), "timestamp"},
            {int(Role::Sender), "sender"}};
}

QAbstractItemModel *StreamModel::source() const { return m_source; }

void StreamModel::setSource(QAbstractItemModel *source)
{
    if (source == m_source)
        return;
    disconnect(m_inserted);
    disconnect(m_roles);
    m_source = source;
    beginResetModel();
    m_rows.clear();
    m_recent.clear();
    endResetModel();
    m_seen = 0;
    m_heldBack = 0;
    if (m_source) {
        lookUpRoles();
        m_inserted = connect(m_source, &QAbstractItemModel::rowsInserted, this, &StreamModel::onRowsInserted);
        // Role names may be published late by generic models: look them up again on a reset.
        m_roles = connect(m_source, &QAbstractItemModel::modelReset, this, &StreamModel::lookUpRoles);
        // Rows the source already holds are the start of the stream.
        if (const int rows = m_source->rowCount(); rows > 0)
            onRowsInserted({}, 0, rows - 1);
    }
    Q_EMIT countChanged();
    Q_EMIT seenChanged();
    Q_EMIT sourceChanged();
}

void StreamModel::lookUpRoles()
{
    m_eventRole = m_payloadRole = m_offsetRole = m_timestampRole = m_senderRole = -1;
    if (!m_source)
        return;
    const auto names = m_source->roleNames();
    for (auto it = names.begin(); it != names.end(); ++it) {
        if (it.value() == "event")
            m_eventRole = it.key();
        else if (it.value() == "payload")
            m_payloadRole = it.key();
        else if (it.value() == "offset")
            m_offsetRole = it.key();
        else if (it.value() == "timestamp")
            m_timestampRole = it.key();
        else if (it.value() == "sender")
            m_senderRole = it.key();
    }
}

bool StreamModel::accepts(const QString &event) const
{
    return m_filter.isEmpty() || event.contains(m_filter, Qt::CaseInsensitive);
}

void StreamModel::onRowsInserted(const QModelIndex &parent, int first, int last)
{
    if (parent.isValid() || !m_source || last < first)
        return;
    const int incoming = last - first + 1;
    m_seen += incoming;
    if (m_paused)
        m_heldBack += incoming;
    // Only the newest `capacity` rows of a batch can survive.
    first = std::max(first, last - m_capacity + 1);
    std::vector<Row> accepted;
    for (int r = first; r <= last; ++r) {
        const QModelIndex idx = m_source->index(r, 0);
        Row row{m_source->data(idx, m_eventRole).toString(), m_source->data(idx, m_payloadRole),
                m_source->data(idx, m_offsetRole), m_source->data(idx, m_timestampRole),
                m_source->data(idx, m_senderRole).toString()};
        if (!m_paused && accepts(row.event))
            accepted.push_back(row);
        m_recent.push_back(std::move(row));
    }
    while (static_cast<int>(m_recent.size()) > m_capacity)
        m_recent.pop_front();
    Q_EMIT seenChanged();
    if (accepted.empty())
        return;
    const int n = static_cast<int>(accepted.size());
    trimTo(m_capacity - n);
    const int start = count();
    beginInsertRows({}, start, start + n - 1);
    std::move(accepted.begin(), accepted.end(), std::back_inserter(m_rows));
    endInsertRows();
    Q_EMIT countChanged();
}

void StreamModel::trimTo(int rows)
{
    const int excess = count() - std::max(0, rows);
    if (excess <= 0)
        return;
    beginRemoveRows({}, 0, excess - 1);
    m_rows.erase(m_rows.begin(), m_rows.begin() + excess);
    endRemoveRows();
}

int StreamModel::capacity() const { return m_capacity; }

void StreamModel::setCapacity(int capacity)
{
    capacity = std::max(1, capacity);
    if (capacity == m_capacity)
        return;
    m_capacity = capacity;
    while (static_cast<int>(m_recent.size()) > m_capacity)
        m_recent.pop_front();
    trimTo(m_capacity);
    Q_EMIT countChanged();
    Q_EMIT capacityChanged();
}

bool StreamModel::paused() const { return m_paused; }

void StreamModel::setPaused(bool paused)
{
    if (paused == m_paused)
        return;
    m_paused = paused;
    if (!m_paused) {
        m_heldBack = 0;
        // Continue from the newest messages, including those that arrived while paused.
        beginResetModel();
        m_rows.clear();
        for (const Row &row : m_recent)
            if (accepts(row.event))
                m_rows.push_back(row);
        endResetModel();
        Q_EMIT countChanged();
        Q_EMIT seenChanged();
    }
    Q_EMIT pausedChanged();
}

QString StreamModel::eventFilter() const { return m_filter; }

void StreamModel::setEventFilter(const QString &filter)
{
    const QString trimmed = filter.trimmed();
    if (trimmed == m_filter)
        return;
    m_filter = trimmed;
    if (!m_paused) {
        beginResetModel();
        m_rows.clear();
        for (const Row &row : m_recent)
            if (accepts(row.event))
                m_rows.push_back(row);
        endResetModel();
        Q_EMIT countChanged();
    }
    Q_EMIT eventFilterChanged();
}

qint64 StreamModel::seen() const { return m_seen; }
qint64 StreamModel::heldBack() const { return m_heldBack; }

void StreamModel::clear()
{
    m_recent.clear();
    if (m_rows.empty())
        return;
    beginResetModel();
    m_rows.clear();
    endResetModel();
    Q_EMIT countChanged();
}

QVariantMap StreamModel::get(int row) const
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

namespace {

QString jsonText(const QVariant &value, QJsonDocument::JsonFormat format)
{
    const QJsonValue json = QJsonValue::fromVariant(value);
    if (json.isObject())
        return QString::fromUtf8(QJsonDocument(json.toObject()).toJson(format)).trimmed();
    if (json.isArray())
        return QString::fromUtf8(QJsonDocument(json.toArray()).toJson(format)).trimmed();
    // A scalar: wrap it in an array to get JSON's spelling of it (quotes, escapes, null).
    QString text = QString::fromUtf8(QJsonDocument(QJsonArray{json}).toJson(QJsonDocument::Compact));
    return text.mid(1, text.size() - 2);
}

} // namespace

QString StreamModel::prettyJson(const QVariant &value)
{
    return jsonText(value, QJsonDocument::Indented);
}

QString StreamModel::compactJson(const QVariant &value)
{
    return jsonText(value, QJsonDocument::Compact);
}

} // namespace switchboard::dashboard
