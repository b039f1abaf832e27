#pragma once
// PresenceModel: the members of a presence channel as a QML list model.

#include <QAbstractListModel>
#include <QVariant>
#include <QtQml/qqmlregistration.h>

#include <vector>

namespace switchboard {
struct Member;
}

namespace switchboard::qt {

/// One row per user (not per connection), in join order. Updated from the channel's
/// presence:subscription_succeeded (reset), member_added (one insert) and member_removed (one
/// removal). Thread safety: GUI thread only.
class PresenceModel : public QAbstractListModel
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("PresenceModel is provided by Channel.presence")
    Q_PROPERTY(int count READ count NOTIFY countChanged)

public:
    enum class Role { UserId = Qt::UserRole + 1, Info, Connections };
    Q_ENUM(Role)

    explicit PresenceModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;
    static QHash<int, QByteArray> defaultRoleNames();
    int count() const;

    void reset(const std::vector<Member> &members);
    void add(const Member &member);      ///< updates the row when the user is already listed
    void remove(const QString &userId);

    Q_INVOKABLE int indexOf(const QString &userId) const;
    Q_INVOKABLE QVariantMap get(int row) const;

Q_SIGNALS:
    void countChanged();

private:
    struct Row {
        QString userId;
        QVariant info;
        int connections = 0;
    };
    static Row toRow(const Member &member);
    std::vector<Row> m_rows;
};

} // namespace switchboard::qt
