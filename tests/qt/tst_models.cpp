// MessageModel, PresenceModel and ChannelListModel: contents, batching, bounds, and
// QAbstractItemModelTester on every change.

#include <switchboard/Hub.h>
#include <switchboard/PresenceStore.h>
#include <switchboard/qt/ChannelListModel.h>
#include <switchboard/qt/MessageModel.h>
#include <switchboard/qt/PresenceModel.h>

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTest>

using namespace switchboard;
using namespace switchboard::qt;

class TestModels : public QObject
{
    Q_OBJECT

private:
    static MessageModel::Message message(int n)
    {
        return {QStringLiteral("e%1").arg(n), QVariantMap{{QStringLiteral("n"), n}}, quint64(n), 1000 + n,
                QStringLiteral("s")};
    }

private Q_SLOTS:
    void messageRoles()
    {
        MessageModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.append(message(7));
        QCOMPARE(model.rowCount(), 0); // not before the batch is applied
        QTRY_COMPARE(model.rowCount(), 1);
        const QModelIndex idx = model.index(0);
        QCOMPARE(idx.data(int(MessageModel::Role::Event)).toString(), QStringLiteral("e7"));
        QCOMPARE(idx.data(int(MessageModel::Role::Payload)).toMap().value(QStringLiteral("n")).toInt(), 7);
        QCOMPARE(idx.data(int(MessageModel::Role::Offset)).toULongLong(), 7u);
        QCOMPARE(idx.data(int(MessageModel::Role::Timestamp)).toLongLong(), 1007);
        QCOMPARE(idx.data(int(MessageModel::Role::Sender)).toString(), QStringLiteral("s"));
        QCOMPARE(model.roleNames().value(int(MessageModel::Role::Payload)), QByteArray("payload"));
        QCOMPARE(model.get(0).value(QStringLiteral("event")).toString(), QStringLiteral("e7"));
        QVERIFY(model.get(1).isEmpty());
    }

    void messageBatching_data()
    {
        QTest::addColumn<int>("capacity");
        QTest::addColumn<int>("batch");
        QTest::addColumn<int>("batches");
        QTest::addColumn<int>("expectedRows");
        QTest::addColumn<int>("expectedDropped");
        QTest::newRow("fits") << 100 << 10 << 3 << 30 << 0;
        QTest::newRow("overflow across batches") << 25 << 10 << 3 << 25 << 5;
        QTest::newRow("batch larger than capacity") << 5 << 12 << 1 << 5 << 7;
        QTest::newRow("10000 in one turn") << 1000 << 10000 << 1 << 1000 << 9000;
    }

    void messageBatching()
    {
        QFETCH(int, capacity);
        QFETCH(int, batch);
        QFETCH(int, batches);
        QFETCH(int, expectedRows);
        QFETCH(int, expectedDropped);
        MessageModel model;
        model.setCapacity(capacity);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        int n = 0;
        for (int b = 0; b < batches; ++b) {
            for (int i = 0; i < batch; ++i)
                model.append(message(++n));
            QTRY_COMPARE(model.pendingCount(), 0);
        }
        QCOMPARE(inserted.count(), batches); // one row insertion per event-loop turn
        QCOMPARE(model.rowCount(), expectedRows);
        QCOMPARE(model.dropped(), qint64(expectedDropped));
        // The newest message is last, the oldest kept is n - expectedRows + 1.
        QCOMPARE(model.index(expectedRows - 1).data(int(MessageModel::Role::Offset)).toInt(), n);
        QCOMPARE(model.index(0).data(int(MessageModel::Role::Offset)).toInt(), n - expectedRows + 1);
    }

    void messageCapacityShrinkAndClear()
    {
        MessageModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        for (int i = 1; i <= 10; ++i)
            model.append(message(i));
        model.flush();
        QCOMPARE(model.count(), 10);
        model.setCapacity(4);
        QCOMPARE(model.count(), 4);
        QCOMPARE(model.dropped(), 6);
        QCOMPARE(model.index(0).data(int(MessageModel::Role::Offset)).toInt(), 7);
        model.setCapacity(0); // clamped to 1
        QCOMPARE(model.capacity(), 1);
        model.clear();
        QCOMPARE(model.count(), 0);
    }

    void presence()
    {
        PresenceModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy countSpy(&model, &PresenceModel::countChanged);
        model.reset({Member{"alice", R"({"name":"Alice"})", 2}, Member{"bob", "null", 1}});
        QCOMPARE(model.count(), 2);
        QCOMPARE(model.index(0).data(int(PresenceModel::Role::UserId)).toString(), QStringLiteral("alice"));
        QCOMPARE(model.index(0).data(int(PresenceModel::Role::Info)).toMap().value(QStringLiteral("name")).toString(),
                 QStringLiteral("Alice"));
        QCOMPARE(model.index(0).data(int(PresenceModel::Role::Connections)).toInt(), 2);
        model.add(Member{"carol", "{}", 0});
        QCOMPARE(model.count(), 3);
        model.add(Member{"carol", R"({"name":"C"})", 1}); // same user: updated, not duplicated
        QCOMPARE(model.count(), 3);
        QCOMPARE(model.get(2).value(QStringLiteral("info")).toMap().value(QStringLiteral("name")).toString(),
                 QStringLiteral("C"));
        model.remove(QStringLiteral("alice"));
        QCOMPARE(model.count(), 2);
        QCOMPARE(model.indexOf(QStringLiteral("alice")), -1);
        QCOMPARE(model.indexOf(QStringLiteral("carol")), 1);
        model.remove(QStringLiteral("nobody"));
        QCOMPARE(model.count(), 2);
        QCOMPARE(countSpy.count(), 3);
    }

    void channelList()
    {
        ChannelListModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.refresh({ChannelStats{"b", ChannelType::Public, 2, 10}, ChannelStats{"a", ChannelType::Private, 1, 0}}, 0);
        QCOMPARE(model.count(), 2);
        QCOMPARE(model.index(0).data(int(ChannelListModel::Role::Name)).toString(), QStringLiteral("a"));
        QCOMPARE(model.index(0).data(int(ChannelListModel::Role::Type)).toString(), QStringLiteral("private"));
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        // One second later: b published 50 more, a vanished, c appeared.
        model.refresh({ChannelStats{"c", ChannelType::Presence, 3, 0}, ChannelStats{"b", ChannelType::Public, 4, 60}}, 1000);
        QCOMPARE(model.count(), 2);
        QCOMPARE(model.get(0).value(QStringLiteral("name")).toString(), QStringLiteral("b"));
        QCOMPARE(model.get(0).value(QStringLiteral("subscribers")).toInt(), 4);
        QCOMPARE(model.get(0).value(QStringLiteral("messageRate")).toDouble(), 50.0);
        QCOMPARE(model.get(1).value(QStringLiteral("name")).toString(), QStringLiteral("c"));
        QCOMPARE(changed.count(), 1);
        model.refresh({}, 1000);
        QCOMPARE(model.count(), 0);
    }
};

QTEST_GUILESS_MAIN(TestModels)
#include "tst_models.moc"
