#include "switchboard/qt/ChannelListModel.h"

#include "JsonVariant.h"

#include <switchboard/Hub.h>

#include <algorithm>

namespace switchboard::qt {

ChannelListModel::ChannelListModel(QObject *parent) : QAbstractListModel(parent) {}

int ChannelListModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : count();
}

int ChannelListModel::count() const
{
    return static_cast<int>(m_rows.size());
}

QVariant ChannelListModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Row &row = m_rows[static_cast<std::size_t>(index.row())];
    switch (static_cast<Role>(role)) {
    case Role::Name: return row.name;
    case Role::Type: return row.type;
    case Role::Subscribers: return row.subscribers;
    case Role::MessageRate: return row.messageRate;
    case Role::Published: return static_cast<qulonglong>(row.published);
    }
    if (role == Qt::DisplayRole)
        return row.name;
    return {};
}

QHash<int, QByteArray> ChannelListModel::defaultRoleNames()
{
    return {{int(Role::Name), "name"}, {int(Role::Type), "type"}, {int(Role::Subscribers), "subscribers"},
            {int(Role::MessageRate), "messageRate"}, {int(Role::Published), "published"}};
}

QHash<int, QByteArray> ChannelListModel::roleNames() const
{
    static const QHash<int, QByteArray> names = defaultRoleNames();
    return names;
}

void ChannelListModel::refresh(std::vector<ChannelStats> stats, qint64 elapsedMs)
{
    std::sort(stats.begin(), stats.end(), [](const ChannelStats &a, const ChannelStats &b) { return a.name < b.name; });
    const int before = count();
    // Merge two sorted sequences: rows (old) and stats (new).
    std::size_t row = 0;
    for (const ChannelStats &s : stats) {
        const QString name = detail::toQString(s.name);
        while (row < m_rows.size() && m_rows[row].name < name) {
            beginRemoveRows({}, static_cast<int>(row), static_cast<int>(row));
            m_rows.erase(m_rows.begin() + static_cast<std::ptrdiff_t>(row));
            endRemoveRows();
        }
        if (row < m_rows.size() && m_rows[row].name == name) {
            Row &r = m_rows[row];
            const double rate = elapsedMs > 0 && s.published >= r.published
                ? double(s.published - r.published) * 1000.0 / double(elapsedMs) : 0.0;
            const int subscribers = static_cast<int>(s.subscribers);
            if (rate != r.messageRate || subscribers != r.subscribers || s.published != r.published) {
                r.messageRate = rate;
                r.subscribers = subscribers;
                r.published = s.published;
                const QModelIndex idx = index(static_cast<int>(row));
                Q_EMIT dataChanged(idx, idx, {int(Role::Subscribers), int(Role::MessageRate), int(Role::Published)});
            }
        } else {
            beginInsertRows({}, static_cast<int>(row), static_cast<int>(row));
            m_rows.insert(m_rows.begin() + static_cast<std::ptrdiff_t>(row),
                          Row{name, detail::toQString(channelTypeName(s.type)), static_cast<int>(s.subscribers), 0.0,
                              s.published});
            endInsertRows();
        }
        ++row;
    }
    if (row < m_rows.size()) {
        beginRemoveRows({}, static_cast<int>(row), count() - 1);
        m_rows.erase(m_rows.begin() + static_cast<std::ptrdiff_t>(row), m_rows.end());
        endRemoveRows();
    }
    if (count() != before)
        Q_EMIT countChanged();
}

QVariantMap ChannelListModel::get(int row) const
{
    if (row < 0 || row >= count())
        return {};
    const Row &r = m_rows[static_cast<std::size_t>(row)];
    return {{QStringLiteral("name"), r.name}, {QStringLiteral("type"), r.type},
            {QStringLiteral("subscribers"), r.subscribers}, {QStringLiteral("messageRate"), r.messageRate},
            {QStringLiteral("published"), static_cast<qulonglong>(r.published)}};
}

} // namespace switchboard::qt
