#pragma once
// RawWebSocketPeer: a hand-driven WebSocket client over a QTcpSocket for gateway tests. It sends
// exactly the bytes a test asks for (unmasked frames, half requests, fragments cut inside a code
// point) and parses what the server answers. Lives on the test's thread: every wait runs the
// event loop (QTest::qWaitFor), so a gateway on the same thread keeps working.

#include <QByteArray>
#include <QHostAddress>
#include <QRandomGenerator>
#include <QTcpSocket>
#include <QTest>

#include <cstdint>
#include <optional>

namespace testsupport {

struct ServerFrame {
    bool fin = true;
    int opcode = 0;
    QByteArray payload;
    /// Close frames: the status code (1005 when the body is empty).
    int closeCode() const
    {
        if (payload.size() < 2)
            return 1005;
        return (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]);
    }
};

class RawWebSocketPeer {
public:
    enum Opcode { Continuation = 0x0, Text = 0x1, Binary = 0x2, Close = 0x8, Ping = 0x9, Pong = 0xA };

    QTcpSocket socket;
    QByteArray received; ///< bytes read and not yet parsed

    bool connectTo(quint16 port, int timeoutMs = 5000)
    {
        socket.connectToHost(QHostAddress(QHostAddress::LocalHost), port);
        return QTest::qWaitFor([&] { return socket.state() == QAbstractSocket::ConnectedState; }, timeoutMs);
    }

    static QByteArray upgradeRequest(const QByteArray &version = "13", const QByteArray &extraHeaders = {})
    {
        return "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: "
            + version + "\r\n" + extraHeaders + "\r\n";
    }

    /// Connects, sends the upgrade request followed by `after` in the same write, and waits for
    /// the 101 answer. False when the server answered anything else.
    bool open(quint16 port, const QByteArray &after = {})
    {
        if (!connectTo(port))
            return false;
        socket.write(upgradeRequest() + after);
        const QByteArray head = httpResponseHead();
        return head.startsWith("HTTP/1.1 101 ")
            && head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n");
    }

    /// Waits for an HTTP response header block and returns it (status line and headers); what
    /// follows stays in `received`. Empty on timeout or when the connection ended first.
    QByteArray httpResponseHead(int timeoutMs = 5000)
    {
        qsizetype end = -1;
        (void)QTest::qWaitFor([&] {
            pump();
            end = received.indexOf("\r\n\r\n");
            return end >= 0 || socket.state() == QAbstractSocket::UnconnectedState;
        }, timeoutMs);
        if (end < 0)
            return {};
        const QByteArray head = received.left(end + 4);
        received.remove(0, end + 4);
        return head;
    }

    static QByteArray frame(int opcode, const QByteArray &payload, bool fin = true, bool masked = true)
    {
        QByteArray out;
        out.append(char((fin ? 0x80 : 0) | opcode));
        const char maskBit = masked ? char(0x80) : char(0);
        const auto size = static_cast<quint64>(payload.size());
        if (size < 126) {
            out.append(char(maskBit | char(size)));
        } else if (size <= 0xFFFF) {
            out.append(char(maskBit | 126));
            out.append(char(size >> 8));
            out.append(char(size & 0xFF));
        } else {
            out.append(char(maskBit | 127));
            for (int shift = 56; shift >= 0; shift -= 8)
                out.append(char((size >> shift) & 0xFF));
        }
        if (!masked)
            return out + payload;
        const quint32 key = QRandomGenerator::global()->generate();
        const char mask[4] = {char(key >> 24), char(key >> 16), char(key >> 8), char(key)};
        out.append(mask, 4);
        for (qsizetype i = 0; i < payload.size(); ++i)
            out.append(char(payload[i] ^ mask[i & 3]));
        return out;
    }

    void send(int opcode, const QByteArray &payload, bool fin = true, bool masked = true)
    {
        socket.write(frame(opcode, payload, fin, masked));
    }
    void sendText(const QByteArray &text) { send(Text, text); }

    /// The next server frame, or nothing when none arrived within the timeout.
    std::optional<ServerFrame> nextFrame(int timeoutMs = 5000)
    {
        std::optional<ServerFrame> frame;
        (void)QTest::qWaitFor([&] {
            pump();
            frame = parse();
            return frame.has_value() || socket.state() == QAbstractSocket::UnconnectedState;
        }, timeoutMs);
        if (!frame)
            frame = parse(); // bytes that came with the end of the connection
        return frame;
    }

    /// The next text frame, skipping pings and pongs.
    std::optional<ServerFrame> nextText(int timeoutMs = 5000)
    {
        for (;;) {
            std::optional<ServerFrame> frame = nextFrame(timeoutMs);
            if (!frame || (frame->opcode != Ping && frame->opcode != Pong))
                return frame;
        }
    }

    /// Reads frames until the server's close frame; its code, or -1 when none came.
    int closeCode(int timeoutMs = 5000)
    {
        for (;;) {
            std::optional<ServerFrame> frame = nextFrame(timeoutMs);
            if (!frame)
                return -1;
            if (frame->opcode == Close)
                return frame->closeCode();
        }
    }

    bool waitDisconnected(int timeoutMs = 5000)
    {
        return QTest::qWaitFor([&] {
            pump();
            return socket.state() == QAbstractSocket::UnconnectedState;
        }, timeoutMs);
    }

    void pump() { received.append(socket.readAll()); }

private:
    std::optional<ServerFrame> parse()
    {
        const auto *p = reinterpret_cast<const unsigned char *>(received.constData());
        const auto n = static_cast<std::size_t>(received.size());
        if (n < 2)
            return std::nullopt;
        std::size_t pos = 2;
        std::uint64_t length = p[1] & 0x7F;
        if (length == 126) {
            if (n < 4)
                return std::nullopt;
            length = (std::uint64_t(p[2]) << 8) | p[3];
            pos = 4;
        } else if (length == 127) {
            if (n < 10)
                return std::nullopt;
            length = 0;
            for (int i = 0; i < 8; ++i)
                length = (length << 8) | p[2 + i];
            pos = 10;
        }
        if (n < pos + length)
            return std::nullopt;
        ServerFrame frame;
        frame.fin = (p[0] & 0x80) != 0;
        frame.opcode = p[0] & 0x0F;
        frame.payload = received.mid(static_cast<qsizetype>(pos), static_cast<qsizetype>(length));
        received.remove(0, static_cast<qsizetype>(pos + length));
        return frame;
    }
};

} // namespace testsupport
