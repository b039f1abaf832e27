#pragma once
// WebSocketConformance: what RFC 6455 requires of a server, one case per requirement, written
// once and run against every Switchboard gateway (tests/server/tst_websocketconformance.cpp for
// switchboard-gateway; the Qt gateway's runner hosts QtWebSocketGateway in-process).
//
// Each case opens its own TCP connection with a raw QTcpSocket, performs (or breaks) the opening
// handshake, sends crafted frames and checks the server's answer: a message, a pong, an HTTP
// status, or the close code. Every wait is bounded and runs the caller's event loop (QTest's
// qWaitFor), so a server living in the same thread keeps working while a case waits. Nothing
// here knows which gateway it talks to: a case only needs an Endpoint.
//
// Every frame read from the server is also checked against what a server must send (5.1, 5.2,
// 5.5): unmasked, no RSV bits, minimal length encoding, control frames final and at most 125
// bytes, a close code the server may send. A case fails when any server frame breaks those rules.
//
// The Switchboard protocol is used only to see that a message arrived: `{"op":"connect",
// "version":1}` is answered with `welcome` (anonymous connect must be allowed by the server
// under test), `{"op":"ping","ackId":N}` with `pong`.
//
// Not thread-safe; run cases on the thread whose event loop serves an in-process server.

#include <QByteArray>
#include <QDeadlineTimer>
#include <QHostAddress>
#include <QJsonDocument>
#include <QJsonObject>
#include <QString>
#include <QTcpSocket>
#include <QTest>
#include <QtEndian>

#include <functional>
#include <optional>
#include <vector>

namespace wsconformance {

/// Where the server under test listens, and the one limit the oversize cases need.
struct Endpoint {
    QString host = QStringLiteral("127.0.0.1");
    quint16 port = 0;
    QByteArray path = "/ws";
    /// The server's largest accepted message (larger: close 1009). The 64-bit length case needs
    /// at least 65 536 + 1 024 and is skipped below that.
    qint64 maxMessageBytes = 64 * 1024;
};

struct Result {
    bool passed = false;
    QString message; ///< why it failed (or why it was skipped)
    bool skipped = false;

    static Result pass() { return {true, {}, false}; }
    static Result fail(const QString &why) { return {false, why, false}; }
    static Result skip(const QString &why) { return {true, why, true}; }
};

/// One requirement: `name` is unique (a QtTest data row), `rfc` names the section.
struct Case {
    QByteArray name;
    const char *rfc;
    std::function<Result(const Endpoint &)> run;
};

namespace detail {

enum Opcode : quint8 { Continuation = 0x0, Text = 0x1, Binary = 0x2, Close = 0x8, Ping = 0x9, Pong = 0xA };

constexpr int kWaitMs = 3000;        ///< for an expected answer
constexpr int kQuietMs = 300;        ///< to see that nothing (more) arrives

/// RFC 6455 1.3 sample: this key must be answered with this accept value.
inline const QByteArray kSampleKey = "dGhlIHNhbXBsZSBub25jZQ==";
inline const QByteArray kSampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// A client frame. Everything a test may want to break is a field.
struct FrameSpec {
    quint8 opcode = Text;
    QByteArray payload;
    bool fin = true;
    bool masked = true;
    quint8 rsv = 0;                          ///< bits 0x70 of the first byte
    std::optional<quint64> announcedLength;  ///< header length other than payload.size()
};

inline QByteArray encode(const FrameSpec &f)
{
    QByteArray out;
    out.append(char((f.fin ? 0x80 : 0x00) | (f.rsv & 0x70) | (f.opcode & 0x0F)));
    const quint64 length = f.announcedLength.value_or(quint64(f.payload.size()));
    const char maskBit = f.masked ? char(0x80) : char(0);
    if (length < 126) {
        out.append(char(maskBit | char(length)));
    } else if (length <= 0xFFFF) {
        out.append(char(maskBit | 126));
        out.append(char(length >> 8));
        out.append(char(length & 0xFF));
    } else {
        out.append(char(maskBit | 127));
        for (int shift = 56; shift >= 0; shift -= 8)
            out.append(char((length >> shift) & 0xFF));
    }
    if (!f.masked)
        return out + f.payload;
    const char mask[4] = {char(0x37), char(0xFA), char(0x21), char(0x3D)};
    out.append(mask, 4);
    const qsizetype start = out.size();
    out.append(f.payload);
    for (qsizetype i = 0; i < f.payload.size(); ++i)
        out[start + i] = char(out[start + i] ^ mask[i % 4]);
    return out;
}

inline QByteArray frame(quint8 opcode, const QByteArray &payload, bool fin = true)
{
    return encode({opcode, payload, fin});
}

inline QByteArray closePayload(quint16 code, const QByteArray &reason = {})
{
    QByteArray out(2, '\0');
    qToBigEndian(code, out.data());
    return out + reason;
}

inline QByteArray connectMessage() { return R"({"op":"connect","version":1})"; }
inline QByteArray pingMessage(int ackId) { return QByteArray(R"({"op":"ping","ackId":)") + QByteArray::number(ackId) + '}'; }

/// Codes a server may put in a close frame (RFC 6455 7.4.1, 7.4.2 and the IANA registry).
inline bool sendableCloseCode(quint16 code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

struct ServerFrame {
    quint8 opcode = 0;
    bool fin = true;
    bool rsv1 = false; ///< compressed (only once permessage-deflate was negotiated)
    QByteArray payload;
    quint16 closeCode() const { return payload.size() >= 2 ? qFromBigEndian<quint16>(payload.constData()) : 1005; }
    QJsonObject json() const { return QJsonDocument::fromJson(payload).object(); }
};

struct HttpResponse {
    int status = 0;
    QList<QPair<QByteArray, QByteArray>> headers;
    QByteArray header(const QByteArray &name) const
    {
        for (const auto &[key, value] : headers) {
            if (key.compare(name, Qt::CaseInsensitive) == 0)
                return value;
        }
        return {};
    }
};

/// A raw WebSocket client: writes exactly the bytes a case crafts, reads and checks server frames.
class RawClient {
public:
    explicit RawClient(const Endpoint &endpoint) : m_endpoint(endpoint) {}

    /// Opens TCP. False (with error()) when the server cannot be reached.
    bool connectTcp()
    {
        m_socket.connectToHost(m_endpoint.host, m_endpoint.port);
        if (!QTest::qWaitFor([&] { return m_socket.state() == QAbstractSocket::ConnectedState
                                          || m_socket.state() == QAbstractSocket::UnconnectedState; },
                             kWaitMs)
            || m_socket.state() != QAbstractSocket::ConnectedState) {
            m_error = QStringLiteral("cannot connect to %1:%2").arg(m_endpoint.host).arg(m_endpoint.port);
            return false;
        }
        return true;
    }

    /// The opening handshake request; `headers` replaces the default WebSocket headers.
    QByteArray request(const QByteArray &method = "GET", std::optional<QByteArray> headers = std::nullopt) const
    {
        QByteArray defaults = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + kSampleKey
                            + "\r\nSec-WebSocket-Version: 13\r\n";
        if (!m_extensionOffer.isEmpty())
            defaults += "Sec-WebSocket-Extensions: " + m_extensionOffer + "\r\n";
        return method + ' ' + m_endpoint.path + " HTTP/1.1\r\nHost: " + m_endpoint.host.toLatin1() + ':'
             + QByteArray::number(m_endpoint.port) + "\r\n" + headers.value_or(defaults) + "\r\n";
    }

    /// Sends `bytes` and reads one HTTP response head. status 0: none arrived in time.
    HttpResponse sendRequest(const QByteArray &bytes)
    {
        write(bytes);
        HttpResponse response;
        qsizetype end = -1;
        const QDeadlineTimer deadline(kWaitMs);
        while ((end = m_buffer.indexOf("\r\n\r\n")) < 0) {
            if (!waitForData(deadline))
                return response;
        }
        const QList<QByteArray> lines = m_buffer.left(end).split('\n');
        m_buffer.remove(0, end + 4);
        const QList<QByteArray> statusLine = lines.value(0).trimmed().split(' ');
        if (statusLine.size() < 2 || !statusLine[0].startsWith("HTTP/1."))
            return response;
        response.status = statusLine[1].toInt();
        for (qsizetype i = 1; i < lines.size(); ++i) {
            const qsizetype colon = lines[i].indexOf(':');
            if (colon > 0)
                response.headers.append({lines[i].left(colon).trimmed(), lines[i].mid(colon + 1).trimmed()});
        }
        return response;
    }

    /// TCP + a valid handshake (with `after` in the same write). False (with error()) otherwise.
    bool open(const QByteArray &after = {})
    {
        if (!connectTcp())
            return false;
        const HttpResponse response = sendRequest(request() + after);
        if (response.status != 101) {
            m_error = QStringLiteral("handshake answered %1, not 101").arg(response.status);
            return false;
        }
        if (response.header("Sec-WebSocket-Accept") != kSampleAccept) {
            m_error = QStringLiteral("wrong Sec-WebSocket-Accept '%1'").arg(QString::fromLatin1(response.header("Sec-WebSocket-Accept")));
            return false;
        }
        if (response.header("Upgrade").compare("websocket", Qt::CaseInsensitive) != 0
            || !response.header("Connection").toLower().contains("upgrade")) {
            m_error = QStringLiteral("101 without 'Upgrade: websocket' and 'Connection: Upgrade'");
            return false;
        }
        m_extensions = response.header("Sec-WebSocket-Extensions");
        // RSV1 is allowed on data frames once permessage-deflate is agreed (RFC 7692 6).
        m_deflate = m_extensions.startsWith("permessage-deflate");
        return true;
    }

    /// Offers `value` in Sec-WebSocket-Extensions with the next open().
    void offerExtensions(const QByteArray &value) { m_extensionOffer = value; }
    /// The Sec-WebSocket-Extensions of the 101 response (empty: none agreed).
    QByteArray extensions() const { return m_extensions; }

    void write(const QByteArray &bytes)
    {
        m_socket.write(bytes);
        m_socket.flush();
    }
    void send(const FrameSpec &spec) { write(encode(spec)); }
    void send(quint8 opcode, const QByteArray &payload, bool fin = true) { write(frame(opcode, payload, fin)); }

    /// The next server frame, checked against the server framing rules. nullopt: timeout or TCP
    /// closed (see error()).
    std::optional<ServerFrame> readFrame(int timeoutMs = kWaitMs)
    {
        const QDeadlineTimer deadline(timeoutMs);
        while (true) {
            if (std::optional<ServerFrame> f = takeFrame())
                return f;
            if (!m_error.isEmpty() && m_framingError)
                return std::nullopt;
            if (!waitForData(deadline)) {
                m_error = m_socket.state() == QAbstractSocket::ConnectedState
                    ? QStringLiteral("no frame from the server within %1 ms").arg(timeoutMs)
                    : QStringLiteral("the server closed TCP without a close frame");
                return std::nullopt;
            }
        }
    }

    /// Reads frames until one satisfies `match` (pongs and other messages are skipped). A close
    /// frame ends the wait: nullopt, error() says so.
    std::optional<ServerFrame> readUntil(const std::function<bool(const ServerFrame &)> &match, int timeoutMs = kWaitMs)
    {
        const QDeadlineTimer deadline(timeoutMs);
        while (std::optional<ServerFrame> f = readFrame(int(qMax<qint64>(deadline.remainingTime(), 0)))) {
            if (match(*f))
                return f;
            if (f->opcode == Close) {
                m_error = QStringLiteral("the server closed with %1 (%2)").arg(f->closeCode()).arg(QString::fromUtf8(f->payload.mid(2)));
                return std::nullopt;
            }
        }
        return std::nullopt;
    }

    /// The next text message whose JSON `op` is `op`.
    std::optional<QJsonObject> readMessage(const QString &op, int timeoutMs = kWaitMs)
    {
        const auto f = readUntil([&](const ServerFrame &f) { return f.opcode == Text && f.json().value("op").toString() == op; }, timeoutMs);
        return f ? std::optional<QJsonObject>(f->json()) : std::nullopt;
    }

    /// Reads until the server's close frame and answers it (completing the closing handshake).
    /// Returns its code; -1 when none came (error() says why).
    int readCloseCode(int timeoutMs = kWaitMs)
    {
        const auto f = readUntil([](const ServerFrame &f) { return f.opcode == Close; }, timeoutMs);
        if (!f)
            return -1;
        if (m_closeFrameSeen++ == 0 && !m_sentClose)
            send(Close, f->payload.left(2));
        return f->closeCode();
    }

    /// True when the server closes TCP within `timeoutMs` (data still arriving is read and
    /// checked: nothing but frames may follow).
    bool waitTcpClosed(int timeoutMs = kWaitMs)
    {
        const QDeadlineTimer deadline(timeoutMs);
        while (m_socket.state() == QAbstractSocket::ConnectedState && !deadline.hasExpired())
            (void)QTest::qWaitFor([&] { return m_socket.state() != QAbstractSocket::ConnectedState; }, int(qMax<qint64>(deadline.remainingTime(), 1)));
        m_buffer += m_socket.readAll();
        return m_socket.state() != QAbstractSocket::ConnectedState;
    }

    /// Frames that arrived after the server's close frame (must be none: 5.5.1).
    int framesAfterClose() const { return m_framesAfterClose; }
    void noteClientClose() { m_sentClose = true; }
    QString error() const { return m_error; }
    bool framingError() const { return m_framingError; }
    QTcpSocket &socket() { return m_socket; }

private:
    /// Waits for more bytes into m_buffer. False at the deadline or when TCP is gone with
    /// nothing more to read.
    bool waitForData(const QDeadlineTimer &deadline)
    {
        const qsizetype before = m_buffer.size();
        m_buffer += m_socket.readAll();
        if (m_buffer.size() > before)
            return true;
        if (m_socket.state() != QAbstractSocket::ConnectedState || deadline.hasExpired())
            return false;
        (void)QTest::qWaitFor([&] { return m_socket.bytesAvailable() > 0 || m_socket.state() != QAbstractSocket::ConnectedState; },
                        int(qMax<qint64>(deadline.remainingTime(), 1)));
        m_buffer += m_socket.readAll();
        return m_buffer.size() > before;
    }

    /// One whole frame from m_buffer, or nullopt (incomplete, or a framing error in m_error).
    std::optional<ServerFrame> takeFrame()
    {
        if (m_buffer.size() < 2)
            return std::nullopt;
        const auto b0 = quint8(m_buffer[0]);
        const auto b1 = quint8(m_buffer[1]);
        ServerFrame f;
        f.fin = (b0 & 0x80) != 0;
        f.opcode = b0 & 0x0F;
        quint64 length = b1 & 0x7F;
        qsizetype header = 2;
        if (length == 126) {
            if (m_buffer.size() < 4)
                return std::nullopt;
            length = qFromBigEndian<quint16>(m_buffer.constData() + 2);
            header = 4;
            if (length < 126)
                return framing("a server frame used a 16-bit length for fewer than 126 bytes (5.2: minimal encoding)");
        } else if (length == 127) {
            if (m_buffer.size() < 10)
                return std::nullopt;
            length = qFromBigEndian<quint64>(m_buffer.constData() + 2);
            header = 10;
            if (length <= 0xFFFF || (length >> 63))
                return framing("a server frame used a 64-bit length it must not (5.2)");
        }
        if (b1 & 0x80)
            return framing("a server frame is masked (5.1: a server MUST NOT mask)");
        f.rsv1 = (b0 & 0x40) != 0;
        if (b0 & (m_deflate ? 0x30 : 0x70))
            return framing("a server frame has RSV bits set without a negotiated extension (5.2)");
        if (f.rsv1 && f.opcode != Text && f.opcode != Binary)
            return framing("RSV1 on a frame that does not start a message (RFC 7692 6)");
        if ((f.opcode > Binary && f.opcode < Close) || f.opcode > Pong)
            return framing(QStringLiteral("a server frame has the reserved opcode %1 (5.2)").arg(f.opcode));
        if ((f.opcode & 0x8) && (!f.fin || length > 125))
            return framing("a server control frame is fragmented or longer than 125 bytes (5.5)");
        if (quint64(m_buffer.size() - header) < length)
            return std::nullopt;
        f.payload = m_buffer.mid(header, qsizetype(length));
        m_buffer.remove(0, header + qsizetype(length));
        if (m_closeReceived)
            ++m_framesAfterClose;
        if (f.opcode == Close) {
            m_closeReceived = true;
            if (f.payload.size() == 1)
                return framing("the server's close frame has a one-byte body (5.5.1)");
            if (f.payload.size() >= 2 && !sendableCloseCode(f.closeCode()))
                return framing(QStringLiteral("the server sent the close code %1, which no endpoint may send (7.4)").arg(f.closeCode()));
        }
        return f;
    }

    std::optional<ServerFrame> framing(const QString &what)
    {
        m_error = what;
        m_framingError = true;
        m_buffer.clear();
        return std::nullopt;
    }

    Endpoint m_endpoint;
    QTcpSocket m_socket;
    QByteArray m_buffer;
    QString m_error;
    bool m_framingError = false;
    QByteArray m_extensionOffer;
    QByteArray m_extensions;
    bool m_deflate = false;
    bool m_closeReceived = false;
    bool m_sentClose = false;
    int m_closeFrameSeen = 0;
    int m_framesAfterClose = 0;
};

// ---- case building blocks --------------------------------------------------------------------

/// Opens, sends `bytes`, expects the server to close with `code`.
inline Result expectClose(const Endpoint &e, const QByteArray &bytes, int code, const char *why)
{
    RawClient c(e);
    if (!c.open())
        return Result::fail(c.error());
    c.write(bytes);
    const int got = c.readCloseCode();
    if (got != code)
        return Result::fail(QStringLiteral("%1: expected close %2, got %3%4").arg(QLatin1String(why)).arg(code).arg(got)
                                .arg(c.error().isEmpty() ? QString() : QStringLiteral(" (") + c.error() + ')'));
    if (c.framingError())
        return Result::fail(c.error());
    return Result::pass();
}

/// Opens, sends `bytes` (which must carry a connect message), expects `welcome`.
inline Result expectWelcome(const Endpoint &e, const QByteArray &bytes, const char *why, bool inHandshakePacket = false)
{
    RawClient c(e);
    if (!c.open(inHandshakePacket ? bytes : QByteArray()))
        return Result::fail(c.error());
    if (!inHandshakePacket)
        c.write(bytes);
    if (!c.readMessage(QStringLiteral("welcome")))
        return Result::fail(QStringLiteral("%1: no welcome (%2)").arg(QLatin1String(why), c.error()));
    return Result::pass();
}

/// Sends a close frame with `payload`; expects a close frame in reply whose code is the one sent
/// (or 1000), and the server to close TCP afterwards.
inline Result expectCloseReply(const Endpoint &e, const QByteArray &payload)
{
    RawClient c(e);
    if (!c.open())
        return Result::fail(c.error());
    c.noteClientClose();
    c.send(Close, payload);
    const int got = c.readCloseCode();
    const int sent = payload.size() >= 2 ? qFromBigEndian<quint16>(payload.constData()) : 1000;
    if (got < 0)
        return Result::fail(QStringLiteral("no close frame in reply (5.5.1: MUST answer a close): ") + c.error());
    if (got != sent && got != 1000 && got != 1005)
        return Result::fail(QStringLiteral("the reply to close %1 carries %2").arg(sent).arg(got));
    if (!c.waitTcpClosed())
        return Result::fail("the server did not close TCP after the closing handshake (7.1.1)");
    return Result::pass();
}

/// Sends a handshake request; expects a status in [low, high] and, when given, a header.
inline Result expectStatus(const Endpoint &e, const QByteArray &request, int low, int high, const char *why,
                           const QByteArray &header = {}, const QByteArray &value = {})
{
    RawClient c(e);
    if (!c.connectTcp())
        return Result::fail(c.error());
    const HttpResponse r = c.sendRequest(request);
    if (r.status < low || r.status > high)
        return Result::fail(QStringLiteral("%1: expected HTTP %2-%3, got %4").arg(QLatin1String(why)).arg(low).arg(high).arg(r.status));
    if (!header.isEmpty() && r.header(header).trimmed() != value)
        return Result::fail(QStringLiteral("%1: expected '%2: %3', got '%4'").arg(QLatin1String(why), QString::fromLatin1(header),
                                                                                  QString::fromLatin1(value), QString::fromLatin1(r.header(header))));
    return Result::pass();
}

/// `message` split into `parts` text/continuation frames (the split may cut a code point).
inline QByteArray fragments(const QByteArray &message, const QList<qsizetype> &cuts)
{
    QByteArray out;
    qsizetype start = 0;
    for (qsizetype i = 0; i <= cuts.size(); ++i) {
        const qsizetype end = i < cuts.size() ? cuts[i] : message.size();
        out += frame(i == 0 ? Text : Continuation, message.mid(start, end - start), i == cuts.size());
        start = end;
    }
    return out;
}

} // namespace detail

// ---- the cases -------------------------------------------------------------------------------

/// Close codes a client must not send (7.4.1, 7.4.2, IANA registry): each must get close 1002.
inline QList<quint16> invalidCloseCodes() { return {0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535}; }
/// Close codes a client may send: each must be answered with a close frame, not 1002.
inline QList<quint16> validCloseCodes() { return {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999}; }

/// Every case, in RFC order. Names are stable: runners use them as data rows (and QEXPECT_FAIL).
inline std::vector<Case> cases()
{
    using namespace detail;
    std::vector<Case> all;
    auto add = [&](QByteArray name, const char *rfc, std::function<Result(const Endpoint &)> run) {
        all.push_back({std::move(name), rfc, std::move(run)});
    };

    // -- 4.2: the opening handshake ------------------------------------------------------------
    add("handshake: valid request gets 101 and the accept key", "4.2.2", [](const Endpoint &e) {
        RawClient c(e);
        return c.open() ? Result::pass() : Result::fail(c.error());
    });
    add("handshake: missing Sec-WebSocket-Key gets 4xx", "4.2.1", [](const Endpoint &e) {
        RawClient c(e);
        return expectStatus(e, c.request("GET", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"),
                            400, 499, "no key");
    });
    add("handshake: Sec-WebSocket-Key not 16 bytes gets 400", "4.2.1", [](const Endpoint &e) {
        RawClient c(e);
        return expectStatus(e, c.request("GET", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: c2hvcnQ=\r\n"
                                                "Sec-WebSocket-Version: 13\r\n"),
                            400, 400, "8-byte key");
    });
    add("handshake: Sec-WebSocket-Version 8 gets 426 with Sec-WebSocket-Version: 13", "4.2.2", [](const Endpoint &e) {
        RawClient c(e);
        return expectStatus(e, c.request("GET", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + kSampleKey
                                                + "\r\nSec-WebSocket-Version: 8\r\n"),
                            426, 426, "version 8", "Sec-WebSocket-Version", "13");
    });
    add("handshake: missing Sec-WebSocket-Version gets 4xx", "4.2.1", [](const Endpoint &e) {
        RawClient c(e);
        return expectStatus(e, c.request("GET", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + kSampleKey + "\r\n"),
                            400, 499, "no version");
    });
    add("handshake: an upgrade that is not a GET gets an error status", "4.2.1", [](const Endpoint &e) {
        RawClient c(e);
        return expectStatus(e, c.request("POST"), 400, 599, "POST upgrade");
    });
    add("handshake: a malformed request gets 400", "4.2.1", [](const Endpoint &e) {
        return expectStatus(e, "GET\x01 /ws HTTP/1.1 nonsense\r\n\r\n", 400, 400, "malformed request line");
    });
    add("handshake: frames in the same packet as the request are processed", "4.2.2", [](const Endpoint &e) {
        return expectWelcome(e, frame(Text, connectMessage()), "connect behind the request", true);
    });

    // -- 5.1, 5.2: framing ----------------------------------------------------------------------
    add("framing: an unmasked client frame gets 1002", "5.1", [](const Endpoint &e) {
        return expectClose(e, encode({Text, connectMessage(), true, false}), 1002, "unmasked");
    });
    for (const int bit : {1, 2, 3}) {
        const quint8 rsv = quint8(0x80 >> bit);
        add("framing: RSV" + QByteArray::number(bit) + " without an extension gets 1002", "5.2", [rsv](const Endpoint &e) {
            return expectClose(e, encode({Text, connectMessage(), true, true, rsv}), 1002, "RSV bit");
        });
    }
    add("framing: reserved data opcode 0x3 gets 1002", "5.2", [](const Endpoint &e) {
        return expectClose(e, frame(0x3, "x"), 1002, "opcode 3");
    });
    add("framing: reserved control opcode 0xB gets 1002", "5.2", [](const Endpoint &e) {
        return expectClose(e, frame(0xB, "x"), 1002, "opcode 11");
    });
    add("framing: a 64-bit length with the high bit set gets 1002", "5.2", [](const Endpoint &e) {
        return expectClose(e, encode({Text, {}, true, true, 0, quint64(1) << 63}), 1002, "length >= 2^63");
    });
    add("framing: a 16-bit length message is received", "5.2", [](const Endpoint &e) {
        QByteArray connect = R"({"op":"connect","version":1,"name":")" + QByteArray(300, 'n') + "\"}";
        return expectWelcome(e, frame(Text, connect), "300-byte connect");
    });
    add("framing: a 64-bit length message is received", "5.2", [](const Endpoint &e) {
        if (e.maxMessageBytes < 65536 + 1024)
            return Result::skip("the server's message limit is below 65 536 + 1 024 bytes");
        QByteArray connect = R"({"op":"connect","version":1,"pad":")" + QByteArray(65536, 'p') + "\"}";
        return expectWelcome(e, frame(Text, connect), "64 KiB connect");
    });
    add("framing: server frames are unmasked, minimal and without RSV bits", "5.1", [](const Endpoint &e) {
        RawClient c(e);
        if (!c.open())
            return Result::fail(c.error());
        c.send(Text, connectMessage());
        if (!c.readMessage("welcome"))
            return Result::fail(c.error());
        c.send(Text, pingMessage(1));
        if (!c.readMessage("pong"))
            return Result::fail(c.error());
        return Result::pass();
    });

    // -- 5.4: fragmentation ---------------------------------------------------------------------
    add("fragmentation: a text message in three fragments is received", "5.4", [](const Endpoint &e) {
        return expectWelcome(e, fragments(connectMessage(), {5, 12}), "fragmented connect");
    });
    add("fragmentation: empty fragments are allowed", "5.4", [](const Endpoint &e) {
        return expectWelcome(e, fragments(connectMessage(), {0, 10, 10}), "connect with empty fragments");
    });
    add("fragmentation: a ping between fragments is answered, the message still received", "5.4", [](const Endpoint &e) {
        RawClient c(e);
        if (!c.open())
            return Result::fail(c.error());
        const QByteArray message = connectMessage();
        c.write(frame(Text, message.left(10), false) + frame(Ping, "between") + frame(Continuation, message.mid(10)));
        // The pong and the welcome may come in either order.
        bool pong = false;
        bool welcome = false;
        while (!(pong && welcome)) {
            const auto f = c.readUntil([](const ServerFrame &f) {
                return (f.opcode == Pong && f.payload == "between") || (f.opcode == Text && f.json().value("op") == "welcome");
            });
            if (!f)
                return Result::fail(QStringLiteral("%1: ").arg(pong ? "the fragmented message was lost" : "no pong for the interleaved ping") + c.error());
            (f->opcode == Pong ? pong : welcome) = true;
        }
        return Result::pass();
    });
    add("fragmentation: a continuation without a message gets 1002", "5.4", [](const Endpoint &e) {
        return expectClose(e, frame(Continuation, connectMessage()), 1002, "lone continuation");
    });
    add("fragmentation: a new message inside a fragmented one gets 1002", "5.4", [](const Endpoint &e) {
        return expectClose(e, frame(Text, "{\"op\":", false) + frame(Text, connectMessage()), 1002, "text inside text");
    });
    add("fragmentation: a fragmented ping gets 1002", "5.4", [](const Endpoint &e) {
        return expectClose(e, frame(Ping, "ab", false) + frame(Continuation, "cd"), 1002, "ping without FIN");
    });

    // -- 5.5: control frames --------------------------------------------------------------------
    add("control: a ping is answered with a pong carrying its payload", "5.5.2", [](const Endpoint &e) {
        RawClient c(e);
        if (!c.open())
            return Result::fail(c.error());
        c.send(Ping, "hello \xE2\x9C\x93");
        const auto pong = c.readUntil([](const ServerFrame &f) { return f.opcode == Pong; });
        if (!pong)
            return Result::fail(QStringLiteral("no pong: ") + c.error());
        return pong->payload == "hello \xE2\x9C\x93" ? Result::pass() : Result::fail("the pong does not echo the ping's payload");
    });
    add("control: a 125-byte ping is answered in full", "5.5.2", [](const Endpoint &e) {
        RawClient c(e);
        if (!c.open())
            return Result::fail(c.error());
        const QByteArray payload(125, '\x07');
        c.send(Ping, payload);
        const auto pong = c.readUntil([](const ServerFrame &f) { return f.opcode == Pong; });
        if (!pong)
            return Result::fail(QStringLiteral("no pong: ") + c.error());
        return pong->payload == payload ? Result::pass() : Result::fail("the pong does not echo the 125-byte payload");
    });
    add("control: a ping longer than 125 bytes gets 1002", "5.5", [](const Endpoint &e) {
        return expectClose(e, frame(Ping, QByteArray(126, 'p')), 1002, "126-byte ping");
    });
    add("control: an unsolicited pong is ignored", "5.5.3", [](const Endpoint &e) {
        return expectWelcome(e, frame(Pong, "unasked") + frame(Text, connectMessage()), "pong then connect");
    });
    add("close: an empty close is answered and TCP closed", "5.5.1", [](const Endpoint &e) {
        return expectCloseReply(e, {});
    });
    add("close: no data frame follows the server's close frame", "5.5.1", [](const Endpoint &e) {
        RawClient c(e);
        if (!c.open())
            return Result::fail(c.error());
        c.send(Text, connectMessage());
        if (!c.readMessage("welcome"))
            return Result::fail(c.error());
        c.noteClientClose();
        c.write(frame(Close, closePayload(1000)) + frame(Text, pingMessage(1)));
        if (c.readCloseCode() < 0)
            return Result::fail(QStringLiteral("no close reply: ") + c.error());
        c.waitTcpClosed();
        (void)c.readFrame(kQuietMs);
        return c.framesAfterClose() == 0 ? Result::pass() : Result::fail("frames arrived after the server's close frame");
    });

    // -- 7.4, 5.5.1: close codes and reasons ----------------------------------------------------
    add("close: a one-byte close body gets 1002", "5.5.1", [](const Endpoint &e) {
        return expectClose(e, frame(Close, "\x03"), 1002, "1-byte close");
    });
    for (const quint16 code : invalidCloseCodes()) {
        add("close: code " + QByteArray::number(code) + " gets 1002", "7.4.1", [code](const Endpoint &e) {
            return expectClose(e, frame(Close, closePayload(code)), 1002, "invalid close code");
        });
    }
    for (const quint16 code : validCloseCodes()) {
        add("close: code " + QByteArray::number(code) + " is answered", "7.4.1", [code](const Endpoint &e) { return expectCloseReply(e, closePayload(code, "bye")); });
    }
    add("close: a reason that is not UTF-8 gets 1002", "5.5.1", [](const Endpoint &e) {
        return expectClose(e, frame(Close, closePayload(1000, "bad \xC3\x28")), 1002, "invalid UTF-8 reason");
    });
    add("close: a UTF-8 reason is answered", "5.5.1", [](const Endpoint &e) {
        return expectCloseReply(e, closePayload(1000, "f\xC3\xA4rdig \xF0\x9F\x91\x8B"));
    });

    // -- 8.1, 5.6: UTF-8 ------------------------------------------------------------------------
    struct BadUtf8 {
        const char *name;
        QByteArray bytes;
    };
    static const BadUtf8 badUtf8[] = {
        {"utf-8: an invalid byte sequence gets 1007", "\xC3\x28"},
        {"utf-8: an overlong encoding gets 1007", "\xC0\xAF"},
        {"utf-8: a UTF-16 surrogate gets 1007", "\xED\xA0\x80"},
        {"utf-8: a code point above U+10FFFF gets 1007", "\xF4\x90\x80\x80"},
        {"utf-8: a lone continuation byte gets 1007", "\x80"},
    };
    for (const BadUtf8 &bad : badUtf8) {
        const QByteArray bytes = bad.bytes;
        add(bad.name, "8.1", [bytes](const Endpoint &e) {
            return expectClose(e, frame(Text, R"({"op":"connect","version":1,"name":")" + bytes + "\"}"), 1007, "invalid UTF-8");
        });
    }
    add("utf-8: invalid bytes in a later fragment get 1007", "8.1", [](const Endpoint &e) {
        return expectClose(e, frame(Text, R"({"op":"connect","name":")", false) + frame(Continuation, "\xFF\xFE", false)
                                  + frame(Continuation, "\"}"),
                           1007, "invalid UTF-8 in a continuation");
    });
    add("utf-8: a message ending inside a code point gets 1007", "8.1", [](const Endpoint &e) {
        return expectClose(e, frame(Text, "\"\xE2\x82", false) + frame(Continuation, "\xAC\xE2"), 1007, "truncated code point");
    });
    add("utf-8: a code point split across fragments is received", "8.1", [](const Endpoint &e) {
        const QByteArray message = R"({"op":"connect","version":1,"name":"€uro"})";
        const qsizetype euro = message.indexOf("\xE2\x82\xAC");
        return expectWelcome(e, fragments(message, {euro + 1, euro + 2}), "euro sign split three ways");
    });

    // -- 10.4: message size ---------------------------------------------------------------------
    add("size: a message over the limit gets 1009", "10.4", [](const Endpoint &e) {
        return expectClose(e, frame(Text, QByteArray(e.maxMessageBytes + 1, 'a')), 1009, "one byte over the limit");
    });
    add("size: a frame announcing 2^40 bytes gets 1009 before its payload", "10.4", [](const Endpoint &e) {
        return expectClose(e, encode({Text, {}, true, true, 0, quint64(1) << 40}), 1009, "huge announced length");
    });
    add("size: fragments adding up to more than the limit get 1009", "10.4", [](const Endpoint &e) {
        const qint64 half = e.maxMessageBytes / 2 + 1;
        return expectClose(e, frame(Text, QByteArray(half, 'a'), false) + frame(Continuation, QByteArray(half, 'a'), false)
                                  + frame(Continuation, "a"),
                           1009, "fragmented message over the limit");
    });

    // -- the Switchboard protocol on top ---------------------------------------------------------
    add("protocol: JSON text starting with a UTF-8 BOM gets error 400", "RFC 8259 8.1", [](const Endpoint &e) {
        RawClient c(e);
        if (!c.open())
            return Result::fail(c.error());
        c.send(Text, connectMessage());
        if (!c.readMessage("welcome"))
            return Result::fail(c.error());
        c.send(Text, "\xEF\xBB\xBF" + pingMessage(7));
        const auto error = c.readMessage("error");
        if (!error)
            return Result::fail(QStringLiteral("no error frame: ") + c.error());
        if (error->value("code").toInt() != 400)
            return Result::fail(QStringLiteral("error code %1, not 400").arg(error->value("code").toInt()));
        c.send(Text, pingMessage(8)); // the connection stays usable
        return c.readMessage("pong") ? Result::pass() : Result::fail(QStringLiteral("closed after the BOM: ") + c.error());
    });
    return all;
}

} // namespace wsconformance
