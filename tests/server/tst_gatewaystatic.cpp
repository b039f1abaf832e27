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

/// Resident memory of a process in KiB (VmRSS), -1 when unknown.
qint64 residentKiB(qint64 pid)
{
    QFile status(QStringLiteral("/proc/%1/status").arg(pid));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').value(0).toLongLong();
    }
    return -1;
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
    void largeFileStreamsInBoundedMemory();

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

void tst_GatewayStatic::largeFileStreamsInBoundedMemory()
{
    constexpr qint64 kFileBytes = 50 << 20;
    constexpr int kClients = 10;
    {
        QFile big(m_root.filePath("big.bin"));
        QVERIFY(big.open(QIODevice::WriteOnly));
        const QByteArray chunk(1 << 20, 'x');
        for (qint64 written = 0; written < kFileBytes; written += chunk.size())
            QVERIFY(big.write(chunk) == chunk.size());
    }
    GatewayProcess g;
    QVERIFY(g.start({"--static", m_root.path()}));
    QNetworkAccessManager nam;
    QCOMPARE(http(nam, "GET", g.url("/healthz"), {}, false).status, 200);
    const qint64 before = residentKiB(g.pid());
    QVERIFY(before > 0);

    // Clients that ask for the file and then read no more than the start of the answer.
    std::vector<std::unique_ptr<QTcpSocket>> clients;
    for (int i = 0; i < kClients; ++i) {
        auto socket = std::make_unique<QTcpSocket>();
        socket->setReadBufferSize(4096);
        socket->connectToHost(QHostAddress::LocalHost, g.port());
        QVERIFY(socket->waitForConnected(5000));
        socket->write("GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        clients.push_back(std::move(socket));
    }
    // Every download has started (its headers arrived), so the file was opened for each.
    for (auto &socket : clients)
        QTRY_VERIFY_WITH_TIMEOUT(socket->bytesAvailable() > 0, 10000);
    for (auto &socket : clients)
        QVERIFY(socket->peek(12).startsWith("HTTP/1.1 200"));
    const qint64 after = residentKiB(g.pid());
    qInfo("gateway VmRSS: %lld KiB idle, %lld KiB with %d stalled downloads of %lld MiB", before, after, kClients,
          kFileBytes >> 20);
    // Reading whole files would hold 10 x 50 MiB; streamed, each download holds one chunk.
    QVERIFY2(after - before < 32 * 1024, qPrintable(QStringLiteral("grew by %1 KiB").arg(after - before)));
    // The gateway still answers while the downloads stall.
    QCOMPARE(http(nam, "GET", g.url("/healthz"), {}, false).status, 200);

    // A client that reads gets the whole file.
    const auto whole = http(nam, "GET", g.url("/big.bin"), {}, false);
    QCOMPARE(whole.status, 200);
    QCOMPARE(whole.body.size(), kFileBytes);
    QFile::remove(m_root.filePath("big.bin"));
}

QTEST_GUILESS_MAIN(tst_GatewayStatic)
#include "tst_gatewaystatic.moc"
