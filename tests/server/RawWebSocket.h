// RawWebSocket: a hand-driven WebSocket client over QTcpSocket, for what QWebSocket cannot do
// (send invalid UTF-8, stop reading so that the server's writes stall). Header-only, for tests.
#pragma once

#include <QByteArray>
#include <QDeadlineTimer>
#include <QHostAddress>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpSocket>
#include <QtEndian>

#include <algorithm>
#include <optional>

namespace gatewaytest {

/// A hand-driven WebSocket client for bytes QWebSocket refuses to send (invalid UTF-8) and for
/// readers that stall.
class RawWebSocket {
public:
    bool open(quint16 port)
    {
        m_socket.connectToHost(QHostAddress::LocalHost, port);
        if (!m_socket.waitForConnected(5000))
            return false;
        m_socket.write("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
        QDeadlineTimer deadline(5000);
        while (!m_buffer.contains("\r\n\r\n") && !deadline.hasExpired()
               && m_socket.waitForReadyRead(int(deadline.remainingTime())))
            m_buffer += m_socket.readAll();
        const int end = m_buffer.indexOf("\r\n\r\n");
        if (end < 0 || !m_buffer.startsWith("HTTP/1.1 101"))
            return false;
        // RFC 6455 sample key -> sample accept value.
        if (!m_buffer.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))
            return false;
        m_buffer.remove(0, end + 4);
        return true;
    }
    void sendText(const QByteArray &payload)
    {
        QByteArray frame;
        frame.append(char(0x81));
        frame.append(char(0x80 | payload.size())); // tests send < 126 bytes
        const char mask[4] = {0x11, 0x22, 0x33, 0x44};
        frame.append(mask, 4);
        for (int i = 0; i < payload.size(); ++i)
            frame.append(char(payload[i] ^ mask[i % 4]));
        m_socket.write(frame);
    }
    struct Frame {
        quint8 opcode = 0;
        QByteArray payload;
    };
    /// The next whole server frame (unmasked, any length), or nothing on timeout.
    std::optional<Frame> nextFrame(int timeoutMs = 5000)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (true) {
            if (m_buffer.size() >= 2) {
                const quint8 opcode = quint8(m_buffer[0]) & 0x0F;
                qint64 length = quint8(m_buffer[1]) & 0x7F;
                int header = 2;
                if (length == 126 && m_buffer.size() >= 4) {
                    length = qFromBigEndian<quint16>(m_buffer.constData() + 2);
                    header = 4;
                } else if (length == 127 && m_buffer.size() >= 10) {
                    length = qint64(qFromBigEndian<quint64>(m_buffer.constData() + 2));
                    header = 10;
                }
                if (length < 126 || header > 2) {
                    if (m_buffer.size() >= header + length) {
                        Frame frame{opcode, m_buffer.mid(header, int(length))};
                        m_buffer.remove(0, int(header + length));
                        return frame;
                    }
                }
            }
            if (deadline.hasExpired() || !m_socket.waitForReadyRead(int(deadline.remainingTime())))
                return std::nullopt;
            m_buffer += m_socket.readAll();
        }
    }
    /// Reads server frames until a close frame; returns its code (-1 on timeout).
    int waitCloseCode(int timeoutMs = 5000)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (const auto frame = nextFrame(int(std::max<qint64>(deadline.remainingTime(), 0)))) {
            if (frame->opcode == 0x8)
                return frame->payload.size() >= 2 ? qFromBigEndian<quint16>(frame->payload.constData()) : 1005;
        }
        return -1;
    }
    /// Reads server frames until a text frame with this op; returns it (skipping others).
    std::optional<QJsonObject> waitForOp(const QString &op, int timeoutMs = 5000)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (const auto frame = nextFrame(int(std::max<qint64>(deadline.remainingTime(), 0)))) {
            const QJsonObject object = QJsonDocument::fromJson(frame->payload).object();
            if (frame->opcode == 0x1 && object.value("op").toString() == op)
                return object;
        }
        return std::nullopt;
    }
    /// Stops taking bytes from the kernel (Qt buffers at most one byte): the socket's receive
    /// buffer fills, the TCP window closes and the gateway's writes stall, however fast it is.
    void pauseReading() { m_socket.setReadBufferSize(1); }
    void resumeReading() { m_socket.setReadBufferSize(0); }

private:
    QTcpSocket m_socket;
    QByteArray m_buffer;
};

} // namespace gatewaytest
