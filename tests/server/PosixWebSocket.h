#pragma once
// PosixWebSocket: a test WebSocket client on a plain non-blocking POSIX socket. It reads only when
// told to, so unread server frames stay in the kernel (a Qt socket keeps reading in the
// background), which is what a client that never reads looks like to the gateway. Every wait is
// bounded. Also procStatusKb() for a process's memory figures.

#include <QByteArray>
#include <QDeadlineTimer>
#include <QFile>
#include <QString>
#include <QtEndian>

#include <optional>

#include <arpa/inet.h>
#include <cerrno>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace gatewaytest {

/// Kilobytes of a /proc/<pid>/status field (VmRSS, VmHWM); -1 when unreadable.
inline qint64 procStatusKb(qint64 pid, const QByteArray &field)
{
    QFile status(QStringLiteral("/proc/%1/status").arg(pid));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith(field + ':'))
            return line.mid(field.size() + 1).trimmed().split(' ').value(0).toLongLong();
    }
    return -1;
}

/// A WebSocket client on a plain POSIX socket: it reads only when told to, so unread server
/// frames stay in the kernel (a Qt socket would keep reading them in the background).
class PosixWebSocket {
public:
    ~PosixWebSocket()
    {
        if (m_fd >= 0)
            ::close(m_fd);
    }

    /// TCP and the upgrade. `receiveBuffer` > 0 sets SO_RCVBUF first (a small window makes the
    /// gateway's writes stall sooner when this client does not read). `extraHeaders`: more
    /// request header lines, each ending with "\r\n". The response header is kept (response()).
    bool open(quint16 port, int receiveBuffer = 0, const QByteArray &extraHeaders = {}, const QByteArray &path = "/ws")
    {
        m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
        if (m_fd >= 0 && receiveBuffer > 0)
            ::setsockopt(m_fd, SOL_SOCKET, SO_RCVBUF, &receiveBuffer, sizeof receiveBuffer);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (m_fd < 0 || ::connect(m_fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0)
            return false;
        ::fcntl(m_fd, F_SETFL, ::fcntl(m_fd, F_GETFL) | O_NONBLOCK);
        if (!sendAll("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                     + extraHeaders + "\r\n"))
            return false;
        QDeadlineTimer deadline(5000);
        while (!m_in.contains("\r\n\r\n") && readSome(deadline)) {
        }
        const qsizetype end = m_in.indexOf("\r\n\r\n");
        if (end < 0 || !m_in.startsWith("HTTP/1.1 101"))
            return false;
        m_response = m_in.left(end + 4);
        m_in.remove(0, end + 4);
        return true;
    }

    /// The upgrade response's header (status line and fields), after open().
    const QByteArray &response() const { return m_response; }

    /// A masked client frame (mask key 0: allowed, and the payload needs no XOR).
    static QByteArray frame(quint8 opcode, const QByteArray &payload)
    {
        QByteArray out;
        out.append(char(0x80 | opcode));
        if (payload.size() < 126) {
            out.append(char(0x80 | payload.size()));
        } else {
            out.append(char(0x80 | 126)); // tests send < 64 KiB
            out.append(char(payload.size() >> 8));
            out.append(char(payload.size() & 0xFF));
        }
        out.append(4, '\0');
        return out + payload;
    }

    /// Writes everything (bounded). False when the server closed the connection or the deadline
    /// passed.
    bool sendAll(const QByteArray &bytes, int timeoutMs = 5000)
    {
        QDeadlineTimer deadline(timeoutMs);
        qsizetype done = 0;
        while (done < bytes.size()) {
            const ssize_t n = ::send(m_fd, bytes.constData() + done, size_t(bytes.size() - done), MSG_NOSIGNAL);
            if (n > 0) {
                done += n;
                continue;
            }
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                return false; // EPIPE / ECONNRESET: the server is gone
            if (deadline.hasExpired())
                return false;
            pollfd p{m_fd, POLLOUT, 0};
            ::poll(&p, 1, int(qMin<qint64>(deadline.remainingTime(), 50)));
        }
        return true;
    }

    /// Reads what the kernel holds (waiting up to the deadline for more). False at EOF, on error
    /// or at the deadline without new bytes.
    bool readSome(const QDeadlineTimer &deadline)
    {
        char buffer[64 * 1024];
        while (true) {
            const ssize_t n = ::recv(m_fd, buffer, sizeof buffer, 0);
            if (n > 0) {
                m_in.append(buffer, n);
                return true;
            }
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) || deadline.hasExpired())
                return false;
            pollfd p{m_fd, POLLIN, 0};
            ::poll(&p, 1, int(qMax<qint64>(qMin<qint64>(deadline.remainingTime(), 50), 1)));
        }
    }

    struct ServerFrame {
        quint8 opcode;
        QByteArray payload;
    };
    /// The next whole server frame, reading as needed; nullopt at EOF or the deadline.
    std::optional<ServerFrame> next(int timeoutMs = 5000)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (true) {
            if (m_in.size() >= 2) {
                const quint8 opcode = quint8(m_in[0]) & 0x0F;
                qint64 length = quint8(m_in[1]) & 0x7F;
                int header = 2;
                if (length == 126 && m_in.size() >= 4) {
                    length = qFromBigEndian<quint16>(m_in.constData() + 2);
                    header = 4;
                }
                if (length < 126 || header == 4) {
                    if (m_in.size() >= header + length) {
                        ServerFrame f{opcode, m_in.mid(header, length)};
                        m_in.remove(0, header + length);
                        return f;
                    }
                }
            }
            if (!readSome(deadline))
                return std::nullopt;
        }
    }

    /// Ends this side of the connection (TCP FIN, no close frame): what a client does that
    /// writes its last frames and exits.
    void shutdownWrite() { ::shutdown(m_fd, SHUT_WR); }

    /// True when the gateway has closed the connection (EOF or reset), reading and discarding
    /// what is still buffered; waits up to `timeoutMs`.
    bool waitClosed(int timeoutMs)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (true) {
            char buffer[64 * 1024];
            const ssize_t n = ::recv(m_fd, buffer, sizeof buffer, 0);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
                return true;
            if (n > 0)
                continue;
            if (deadline.hasExpired())
                return false;
            pollfd p{m_fd, POLLIN, 0};
            ::poll(&p, 1, int(qMax<qint64>(qMin<qint64>(deadline.remainingTime(), 50), 1)));
        }
    }

private:
    int m_fd = -1;
    QByteArray m_response;
    QByteArray m_in;
};

} // namespace gatewaytest
