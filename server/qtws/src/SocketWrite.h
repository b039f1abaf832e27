#pragma once
// SocketWrite: how the Qt gateway hands bytes to a socket. On plain TCP, when Qt's buffer holds
// nothing, the bytes go straight to the kernel with send(2) on the descriptor: no copy into
// QTcpSocket's ring buffer (whose 32 KB chunk would then stay allocated for the connection's
// life) and no write-notifier toggling. What the kernel does not take, and everything on TLS
// sockets, goes through QTcpSocket::write, so the byte order on the wire never changes.

#include <QTcpSocket>

#include <cstddef>

namespace switchboard::qtws {

/// The descriptor to send(2) on for `socket`, or -1 (TLS sockets, non-POSIX systems, or
/// `direct` off).
int directWriteDescriptor(const QTcpSocket &socket, bool direct);

/// Writes `size` bytes: directly on `fd` (>= 0) while Qt's buffer is empty, the rest through
/// the socket's buffer (flushed at once).
void writeToSocket(QTcpSocket &socket, int fd, const char *data, std::size_t size);

} // namespace switchboard::qtws
