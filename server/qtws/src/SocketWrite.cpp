#include "SocketWrite.h"

#include <QSslSocket>

#ifdef Q_OS_UNIX
#include <sys/socket.h>
#include <sys/types.h>
#endif

namespace switchboard::qtws {

int directWriteDescriptor(const QTcpSocket &socket, bool direct)
{
#ifdef Q_OS_UNIX
    // TLS sockets encrypt in QSslSocket: they always write through it.
    if (direct && !qobject_cast<const QSslSocket *>(&socket))
        return static_cast<int>(socket.socketDescriptor());
#else
    Q_UNUSED(socket);
    Q_UNUSED(direct);
#endif
    return -1;
}

void writeToSocket(QTcpSocket &socket, int fd, const char *data, std::size_t size)
{
#ifdef Q_OS_UNIX
    // Only when Qt holds no earlier bytes: order is kept.
    if (fd >= 0 && socket.bytesToWrite() == 0) {
        const ssize_t sent = ::send(fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent > 0) {
            data += sent;
            size -= static_cast<std::size_t>(sent);
        }
    }
#else
    Q_UNUSED(fd);
#endif
    if (size > 0) {
        // The rest waits in the socket's buffer (counted by bytesToWrite()); flush() hands what
        // the kernel accepts now instead of at the next write notification.
        socket.write(data, static_cast<qint64>(size));
        socket.flush();
    }
}

} // namespace switchboard::qtws
