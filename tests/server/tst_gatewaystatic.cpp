// switchboard-gateway static files: nothing outside the static root (symlinks resolved), no
// dotfiles or dot-directories, and large files streamed in bounded chunks (memory per download
// does not grow with the file). Precompressed variants (FILE.br, FILE.gz) chosen by
// Accept-Encoding, strong ETags with If-None-Match -> 304, and long caching only for names that
// carry a content hash.
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

/// One raw HTTP exchange: status, headers (names lower-cased) and body.
struct RawAnswer {
    int status = -1;
    QMap<QByteArray, QByteArray> headers;
    QByteArray body;
    QByteArray header(const QByteArray &name) const { return headers.value(name.toLower()); }
};

/// Sends `METHOD <target>` with `extraHeaders` (each "Name: value") on a connection the gateway
/// closes after answering, and reads the whole answer (bounded).
RawAnswer rawRequest(quint16 port, const QByteArray &method, const QByteArray &target,
                     const QList<QByteArray> &extraHeaders = {})
{
    RawAnswer out;
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, port);
    if (!socket.waitForConnected(5000))
        return out;
    QByteArray request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    for (const QByteArray &h : extraHeaders)
        request += h + "\r\n";
    socket.write(request + "\r\n");
    QByteArray answer;
    QDeadlineTimer deadline(5000);
    while (socket.state() == QAbstractSocket::ConnectedState && !deadline.hasExpired()) {
        if (socket.waitForReadyRead(int(deadline.remainingTime())))
            answer += socket.readAll();
    }
    answer += socket.readAll();
    const qsizetype end = answer.indexOf("\r\n\r\n");
    if (!answer.startsWith("HTTP/1.1 ") || end < 0)
        return out;
    out.status = answer.mid(9, 3).toInt();
    const QList<QByteArray> lines = answer.left(end).split('\n');
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const qsizetype colon = lines[i].indexOf(':');
        if (colon > 0)
            out.headers.insert(lines[i].left(colon).trimmed().toLower(), lines[i].mid(colon + 1).trimmed());
    }
    out.body = answer.mid(end + 4);
    return out;
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
    void choosesPrecompressedVariant_data();
    void choosesPrecompressedVariant();
    void headAnswersTheVariantsHeaders();
    void etagRevalidation();
    void cacheControlByName_data();
    void cacheControlByName();
    void variantsStayInsideTheRoot();

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

    // Precompressed variants (their bytes need not be real gzip/brotli: the gateway never
    // decodes them) and hashed (immutable) names.
    QVERIFY(QDir().mkpath(m_root.filePath("enc")));
    QVERIFY(writeFile(m_root.filePath("enc/both.js"), "identity bytes of both.js"));
    QVERIFY(writeFile(m_root.filePath("enc/both.js.gz"), "gzip bytes"));
    QVERIFY(writeFile(m_root.filePath("enc/both.js.br"), "br bytes"));
    QVERIFY(writeFile(m_root.filePath("enc/gzonly.wasm"), "identity wasm"));
    QVERIFY(writeFile(m_root.filePath("enc/gzonly.wasm.gz"), "gzip wasm"));
    QVERIFY(writeFile(m_root.filePath("switchboard.3f2a9c1b.js"), "hashed"));
    QVERIFY(writeFile(m_root.filePath("switchboard.3f2a9c1b.js.gz"), "hashed gz"));
    QVERIFY(writeFile(m_root.filePath("app.0123456789abcdef.css"), "hashed css"));
    QVERIFY(writeFile(m_root.filePath("notahash.xyz12345.js"), "not hashed"));
    QVERIFY(writeFile(m_root.filePath("short.abc1.js"), "not hashed"));
    // A variant that leads out of the root, and one that is a dotfile.
    QVERIFY(writeFile(m_root.filePath("enc/escape.js"), "identity escape"));
    QVERIFY(QFile::link(m_outside.filePath("secret.txt"), m_root.filePath("enc/escape.js.gz")));
    QVERIFY(writeFile(m_root.filePath("enc/dotted.js"), "identity dotted"));
    QVERIFY(QFile::link(m_root.filePath(".secret"), m_root.filePath("enc/dotted.js.gz")));
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

void tst_GatewayStatic::choosesPrecompressedVariant_data()
{
    QTest::addColumn<QByteArray>("target");
    QTest::addColumn<QByteArray>("acceptEncoding"); // empty: no header
    QTest::addColumn<QByteArray>("encoding");       // empty: identity
    QTest::addColumn<QByteArray>("body");
    const QByteArray both = "/enc/both.js", gz = "/enc/gzonly.wasm";
    QTest::newRow("no header") << both << QByteArray() << QByteArray() << QByteArray("identity bytes of both.js");
    QTest::newRow("gzip") << both << QByteArray("gzip") << QByteArray("gzip") << QByteArray("gzip bytes");
    QTest::newRow("browser list prefers br") << both << QByteArray("gzip, deflate, br") << QByteArray("br") << QByteArray("br bytes");
    QTest::newRow("q prefers gzip") << both << QByteArray("gzip;q=1, br;q=0.5") << QByteArray("gzip") << QByteArray("gzip bytes");
    QTest::newRow("br refused") << both << QByteArray("br;q=0, gzip") << QByteArray("gzip") << QByteArray("gzip bytes");
    QTest::newRow("gzip q=0") << gz << QByteArray("gzip;q=0") << QByteArray() << QByteArray("identity wasm");
    QTest::newRow("gzip q=0.000") << gz << QByteArray("gzip;q=0.000, identity") << QByteArray() << QByteArray("identity wasm");
    QTest::newRow("identity only") << both << QByteArray("identity") << QByteArray() << QByteArray("identity bytes of both.js");
    QTest::newRow("not offered") << both << QByteArray("deflate") << QByteArray() << QByteArray("identity bytes of both.js");
    QTest::newRow("wildcard") << gz << QByteArray("*") << QByteArray("gzip") << QByteArray("gzip wasm");
    QTest::newRow("wildcard refused") << both << QByteArray("*;q=0, identity") << QByteArray() << QByteArray("identity bytes of both.js");
    QTest::newRow("case and spaces") << gz << QByteArray("GZip ; Q=0.8") << QByteArray("gzip") << QByteArray("gzip wasm");
    QTest::newRow("br absent, gzip chosen") << gz << QByteArray("br, gzip") << QByteArray("gzip") << QByteArray("gzip wasm");
    QTest::newRow("nothing acceptable: identity") << gz << QByteArray("br;q=0, gzip;q=0, identity;q=0") << QByteArray() << QByteArray("identity wasm");
}

void tst_GatewayStatic::choosesPrecompressedVariant()
{
    QFETCH(QByteArray, target);
    QFETCH(QByteArray, acceptEncoding);
    QFETCH(QByteArray, encoding);
    QFETCH(QByteArray, body);
    GatewayProcess g;
    QVERIFY(g.start({"--static", m_root.path()}));
    QList<QByteArray> headers;
    if (!acceptEncoding.isEmpty())
        headers << "Accept-Encoding: " + acceptEncoding;
    const RawAnswer a = rawRequest(g.port(), "GET", target, headers);
    QCOMPARE(a.status, 200);
    QCOMPARE(a.body, body);
    QCOMPARE(a.header("content-encoding"), encoding);
    QCOMPARE(a.header("content-length").toLongLong(), qint64(body.size()));
    // The type is the original's, whatever the encoding; caches keep one copy per encoding.
    QCOMPARE(a.header("content-type"), target.endsWith(".js") ? QByteArray("text/javascript; charset=utf-8")
                                                               : QByteArray("application/wasm"));
    QCOMPARE(a.header("vary"), QByteArray("Accept-Encoding"));
    QVERIFY(a.header("etag").startsWith('"') && a.header("etag").endsWith('"'));
    QNetworkAccessManager nam;
    QCOMPARE(metrics(nam, g).value("switchboard_static_precompressed_total"), encoding.isEmpty() ? 0.0 : 1.0);
}

void tst_GatewayStatic::headAnswersTheVariantsHeaders()
{
    GatewayProcess g;
    QVERIFY(g.start({"--static", m_root.path()}));
    const RawAnswer get = rawRequest(g.port(), "GET", "/enc/both.js", {"Accept-Encoding: gzip"});
    const RawAnswer head = rawRequest(g.port(), "HEAD", "/enc/both.js", {"Accept-Encoding: gzip"});
    QCOMPARE(head.status, 200);
    QVERIFY(head.body.isEmpty());
    QCOMPARE(head.header("content-encoding"), QByteArray("gzip"));
    QCOMPARE(head.header("content-length"), QByteArray::number(qsizetype(strlen("gzip bytes"))));
    QCOMPARE(head.header("etag"), get.header("etag"));
    QCOMPARE(head.header("cache-control"), get.header("cache-control"));
    QCOMPARE(head.header("vary"), QByteArray("Accept-Encoding"));
}

void tst_GatewayStatic::etagRevalidation()
{
    GatewayProcess g;
    QVERIFY(g.start({"--static", m_root.path()}));
    const RawAnswer plain = rawRequest(g.port(), "GET", "/enc/both.js");
    const RawAnswer gz = rawRequest(g.port(), "GET", "/enc/both.js", {"Accept-Encoding: gzip"});
    const RawAnswer br = rawRequest(g.port(), "GET", "/enc/both.js", {"Accept-Encoding: br"});
    const QByteArray etag = plain.header("etag");
    QVERIFY(!etag.isEmpty() && !etag.startsWith("W/"));
    QVERIFY2(gz.header("etag") != etag && br.header("etag") != etag && gz.header("etag") != br.header("etag"),
             "one strong ETag per encoding");
    QCOMPARE(rawRequest(g.port(), "GET", "/enc/both.js").header("etag"), etag); // stable

    const RawAnswer same = rawRequest(g.port(), "GET", "/enc/both.js", {"If-None-Match: " + etag});
    QCOMPARE(same.status, 304);
    QVERIFY(same.body.isEmpty());
    QCOMPARE(same.header("etag"), etag);
    QCOMPARE(same.header("cache-control"), QByteArray("no-cache"));
    QCOMPARE(same.header("vary"), QByteArray("Accept-Encoding"));
    QCOMPARE(rawRequest(g.port(), "GET", "/enc/both.js", {"If-None-Match: \"other\", " + gz.header("etag")}).status,
             200); // gzip's tag does not match the identity answer
    QCOMPARE(rawRequest(g.port(), "GET", "/enc/both.js", {"Accept-Encoding: gzip", "If-None-Match: \"other\", " + gz.header("etag")}).status, 304);
    QCOMPARE(rawRequest(g.port(), "GET", "/enc/both.js", {"If-None-Match: W/" + etag}).status, 304); // weak comparison
    QCOMPARE(rawRequest(g.port(), "GET", "/enc/both.js", {"If-None-Match: *"}).status, 304);
    QCOMPARE(rawRequest(g.port(), "HEAD", "/enc/both.js", {"If-None-Match: " + etag}).status, 304);
    QCOMPARE(rawRequest(g.port(), "GET", "/enc/both.js", {"If-None-Match: \"stale\""}).status, 200);

    // A changed file gets a new tag: the old one no longer matches.
    QVERIFY(writeFile(m_root.filePath("enc/both.js"), "identity bytes of both.js, version 2"));
    const RawAnswer changed = rawRequest(g.port(), "GET", "/enc/both.js", {"If-None-Match: " + etag});
    QCOMPARE(changed.status, 200);
    QVERIFY(changed.header("etag") != etag);
    QVERIFY(writeFile(m_root.filePath("enc/both.js"), "identity bytes of both.js"));
    QNetworkAccessManager nam;
    QCOMPARE(metrics(nam, g).value("switchboard_static_not_modified_total"), 5.0);
}

void tst_GatewayStatic::cacheControlByName_data()
{
    QTest::addColumn<QByteArray>("target");
    QTest::addColumn<bool>("immutable");
    QTest::newRow("/") << QByteArray("/") << false;
    QTest::newRow("index.html") << QByteArray("/index.html") << false;
    QTest::newRow("plain name") << QByteArray("/enc/both.js") << false;
    QTest::newRow("hashed js") << QByteArray("/switchboard.3f2a9c1b.js") << true;
    QTest::newRow("hashed css, 16 digits") << QByteArray("/app.0123456789abcdef.css") << true;
    QTest::newRow("not hex") << QByteArray("/notahash.xyz12345.js") << false;
    QTest::newRow("too short") << QByteArray("/short.abc1.js") << false;
}

void tst_GatewayStatic::cacheControlByName()
{
    QFETCH(QByteArray, target);
    QFETCH(bool, immutable);
    GatewayProcess g;
    QVERIFY(g.start({"--static", m_root.path()}));
    for (const QByteArray &accept : {QByteArray("identity"), QByteArray("gzip")}) {
        const RawAnswer a = rawRequest(g.port(), "GET", target, {"Accept-Encoding: " + accept});
        QCOMPARE(a.status, 200);
        QCOMPARE(a.header("cache-control"),
                 immutable ? QByteArray("public, max-age=31536000, immutable") : QByteArray("no-cache"));
    }
}

void tst_GatewayStatic::variantsStayInsideTheRoot()
{
    GatewayProcess g;
    QVERIFY(g.start({"--static", m_root.path()}));
    // A .gz next to the file that leads outside the root, or to a dotfile, is never sent: the
    // original is, and the attempt is counted and logged.
    const RawAnswer escape = rawRequest(g.port(), "GET", "/enc/escape.js", {"Accept-Encoding: gzip"});
    QCOMPARE(escape.status, 200);
    QCOMPARE(escape.body, QByteArray("identity escape"));
    QCOMPARE(escape.header("content-encoding"), QByteArray());
    const RawAnswer dotted = rawRequest(g.port(), "GET", "/enc/dotted.js", {"Accept-Encoding: gzip"});
    QCOMPARE(dotted.status, 200);
    QCOMPARE(dotted.body, QByteArray("identity dotted"));
    QNetworkAccessManager nam;
    QCOMPARE(metrics(nam, g).value("switchboard_static_refused_total"), 2.0);
    // Asking for the .gz names themselves goes through the same checks.
    QCOMPARE(rawRequest(g.port(), "GET", "/enc/escape.js.gz").status, 404);
    QCOMPARE(rawRequest(g.port(), "GET", "/enc/%2E%2E/%2E%2E/secret.txt.gz", {"Accept-Encoding: gzip"}).status, 404);
    QCOMPARE(rawRequest(g.port(), "GET", "/.secret.gz", {"Accept-Encoding: gzip"}).status, 404);
    QCOMPARE(metrics(nam, g).value("switchboard_static_refused_total"), 5.0);
}

QTEST_GUILESS_MAIN(tst_GatewayStatic)
#include "tst_gatewaystatic.moc"
