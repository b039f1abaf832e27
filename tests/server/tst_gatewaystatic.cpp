// switchboard-gateway static files: nothing outside the static root (symlinks resolved), no
// dotfiles or dot-directories, and large files streamed in bounded chunks (memory per download
// does not grow with the file).
#include "GatewayProcess.h"

#include <QTcpSocket>
#include <QTemporaryDir>

using namespace gatewaytest;

namespace {

/// Sends `GET <target>` verbatim (no client-side path normalisation) and returns the status
/// code of the answer (-1 when none arrives in time).
int rawGetStatus(quint16 port, const QByteArray &target)
{
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, port);
    if (!socket.waitForConnected(5000))
        return -1;
    socket.write("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    QByteArray answer;
    QDeadlineTimer deadline(5000);
    while (!answer.contains("\r\n") && !deadline.hasExpired() && socket.waitForReadyRead(int(deadline.remainingTime())))
        answer += socket.readAll();
    if (!answer.startsWith("HTTP/1.1 "))
        return -1;
    return answer.mid(9, 3).toInt();
}

bool writeFile(const QString &path, const QByteArray &content)
{
    QFile f(path);
    return f.open(QIODevice::WriteOnly) && f.write(content) == content.size();
}

} // namespace

class tst_GatewayStatic : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void refusesWhatLeavesTheRoot_data();
    void refusesWhatLeavesTheRoot();

private:
    QTemporaryDir m_outside; ///< files that must never be served
    QTemporaryDir m_root;    ///< the static root
};

void tst_GatewayStatic::initTestCase()
{
    QVERIFY(m_outside.isValid() && m_root.isValid());
    QVERIFY(writeFile(m_outside.filePath("secret.txt"), "outside secret"));
    QVERIFY(QDir().mkpath(m_outside.filePath("dir")));
    QVERIFY(writeFile(m_outside.filePath("dir/inner.txt"), "outside inner"));

    QVERIFY(writeFile(m_root.filePath("index.html"), "<h1>root</h1>"));
    QVERIFY(QDir().mkpath(m_root.filePath("app")));
    QVERIFY(writeFile(m_root.filePath("app/client.js"), "export {};"));
    QVERIFY(writeFile(m_root.filePath(".secret"), "dotfile"));
    QVERIFY(writeFile(m_root.filePath("app/.env"), "TOKEN=1"));
    QVERIFY(QDir().mkpath(m_root.filePath(".git")));
    QVERIFY(writeFile(m_root.filePath(".git/config"), "[core]"));
    // Symlinks out of the root (a file, a directory) and one that stays inside it.
    QVERIFY(QFile::link(m_outside.filePath("secret.txt"), m_root.filePath("escape.txt")));
    QVERIFY(QFile::link(m_outside.filePath("dir"), m_root.filePath("outdir")));
    QVERIFY(QFile::link(m_root.filePath("app/client.js"), m_root.filePath("alias.js")));
    // A visible name that resolves to a dotfile inside the root.
    QVERIFY(QFile::link(m_root.filePath(".secret"), m_root.filePath("public.txt")));
}

void tst_GatewayStatic::refusesWhatLeavesTheRoot_data()
{
    QTest::addColumn<QByteArray>("target");
    QTest::addColumn<int>("status");
    QTest::addColumn<bool>("refused"); // counted in switchboard_static_refused_total
    QTest::newRow("index") << QByteArray("/") << 200 << false;
    QTest::newRow("file") << QByteArray("/app/client.js") << 200 << false;
    QTest::newRow("symlink inside the root") << QByteArray("/alias.js") << 200 << false;
    QTest::newRow("symlink to a file outside") << QByteArray("/escape.txt") << 404 << true;
    QTest::newRow("symlink to a directory outside") << QByteArray("/outdir/inner.txt") << 404 << true;
    QTest::newRow("dotfile") << QByteArray("/.secret") << 404 << true;
    QTest::newRow("dotfile in a folder") << QByteArray("/app/.env") << 404 << true;
    QTest::newRow("dot-directory") << QByteArray("/.git/config") << 404 << true;
    QTest::newRow("encoded dotfile") << QByteArray("/%2Esecret") << 404 << true;
    QTest::newRow("symlink to a dotfile") << QByteArray("/public.txt") << 404 << true;
    QTest::newRow("dot segments") << QByteArray("/app/../.secret") << 404 << true;
    QTest::newRow("encoded dot segments") << QByteArray("/app/%2E%2E/%2E%2E/etc/passwd") << 404 << true;
}

void tst_GatewayStatic::refusesWhatLeavesTheRoot()
{
    QFETCH(QByteArray, target);
    QFETCH(int, status);
    QFETCH(bool, refused);
    GatewayProcess g;
    QVERIFY(g.start({"--static", m_root.path()}));
    QCOMPARE(rawGetStatus(g.port(), target), status);
    QNetworkAccessManager nam;
    QCOMPARE(metrics(nam, g).value("switchboard_static_refused_total"), refused ? 1.0 : 0.0);
}

QTEST_GUILESS_MAIN(tst_GatewayStatic)
#include "tst_gatewaystatic.moc"
