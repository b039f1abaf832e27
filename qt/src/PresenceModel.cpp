#include "switchboard/qt/PresenceModel.h"

#include "JsonVariant.h"

#include <switchboard/PresenceStore.h>

#include <algorithm>

namespace switchboard::qt {

PresenceModel::PresenceModel(QObject *parent) : QAbstractListModel(parent) {}

int PresenceModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : count();
}

QVariant PresenceModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Row &row = m_rows[static_cast<std::size_t>(index.row())];
    switch (static_cast<Role>(role)) {
    case Role::UserId: return row.userId;
    case Role::Info: return row.info;
    case Role::Connections: return row.connections;
    }
    if (role == Qt::DisplayRole)
        return row.userId;
    return {};
}

QHash<int, QByteArray> PresenceModel::defaultRoleNames()
{
    return {{int(Role::UserId), "userId"}, {int(Role::Info), "info"}, {int(Role::Connections), "connections"}};
}

QHash<int, QByteArray> PresenceModel::roleNames() const
{
    static const QHash<int, QByteArray> names = defaultRoleNames();
    return names;
}

int PresenceModel::count() const
{
    return static_cast<int>(m_rows.size());
}

PresenceModel::Row PresenceModel::toRow(const Member &member)
{
    // The wire roster carries no connection count; a listed member has at least one.
    return Row{detail::toQString(member.userId), detail::jsonTextToVariant(member.info),
               static_cast<int>(std::max<std::size_t>(member.connections, 1))};
}

void PresenceModel::reset(const std::vector<Member> &members)
{
    const int before = count();
    beginResetModel();
    m_rows.clear();
    for (const Member &member : members) {
        Row row = toRow(member);
        if (indexOf(row.userId) < 0)
            m_rows.push_back(std::move(row));
    }
    endResetModel();
    if (count() != before)
        Q_EMIT countChanged();
}

void PresenceModel::add(const Member &member)
{
    Row row = toRow(member);
    const int existing = indexOf(row.userId);
    if (existing >= 0) {
        m_rows[static_cast<std::size_t>(existing)] = std::move(row);
        const QModelIndex idx = index(existing);
        Q_EMIT dataChanged(idx, idx);
        return;
    }
    const int at = count();
    beginInsertRows({}, at, at);
    m_rows.push_back(std::move(row));
    endInsertRows();
    Q_EMIT countChanged();
}

void PresenceModel::remove(const QString &userId)
{
    const int at = indexOf(userId);
    if (at < 0)
        return;
    beginRemoveRows({}, at, at);
    m_rows.erase(m_rows.begin() + at);
    endRemoveRows();
    Q_EMIT countChanged();
}

int PresenceModel::indexOf(const QString &userId) const
{
    const auto it = std::find_if(m_rows.begin(), m_rows.end(), [&](const Row &r) { return r.userId == userId; });
    return it == m_rows.end() ? -1 : static_cast<int>(it - m_rows.begin());
}

QVariantMap PresenceModel::get(int row) const
{
    if (row < 0 || row >= count())
        return {};
    const Row &r = m_rows[static_cast<std::size_t>(row)];
    return {{QStringLiteral("userId"), r.userId}, {QStringLiteral("info"), r.info},
            {QStringLiteral("connections"), r.connections}};
}

} // namespace switchboard::qt
