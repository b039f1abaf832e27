#pragma once
// ChannelListModel: a Gateway's channels with subscriber counts and message rates.

#include <QAbstractListModel>
#include <QtQml/qqmlregistration.h>

#include <vector>

namespace switchboard {
struct ChannelStats;
}

namespace switchboard::qt {

/// Rows sorted by channel name. refresh() applies a new snapshot with fine-grained changes
/// (dataChanged for changed rows, one insert or removal per appearing or vanishing channel).
/// Thread safety: GUI thread only.
class ChannelListModel : public QAbstractListModel
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("ChannelListModel is provided by Gateway.channels")
    Q_PROPERTY(int count READ count NOTIFY countChanged)

public:
    enum class Role { Name = Qt::UserRole + 1, Type, Subscribers, MessageRate, Published };
    Q_ENUM(Role)

    explicit ChannelListModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;
    static QHash<int, QByteArray> defaultRoleNames();
    int count() const;

    /// New snapshot; `elapsedMs` since the previous one gives the message rates (per second).
    void refresh(std::vector<ChannelStats> stats, qint64 elapsedMs);
    Q_INVOKABLE QVariantMap get(int row) const;

Q_SIGNALS:
    void countChanged();

private:
    struct Row {
        QString name;
        QString type;
        int subscribers = 0;
        double messageRate = 0;
        quint64 published = 0;
    };
    std::vector<Row> m_rows;
};

} // namespace switchboard::qt
