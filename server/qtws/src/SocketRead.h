#pragma once
// SocketRead: how the Qt gateway takes what a socket has read. QTcpSocket reads from the kernel
// into its ring buffer; read(char *, n) copies out of it and leaves the buffer's 16 KB block
// allocated for the connection's life, one resident page of it per idle connection. Taking the
// buffered bytes as a QByteArray of exactly the first block's size moves that block out instead
// (QIODevice::read(qint64) hands the block over without a copy), and it is freed once the bytes
// are consumed: an idle connection keeps no read block (docs/benchmarks.md, "Qt gateway and
// client"). TCP sockets cannot be unbuffered in Qt, so this is the way to hold no read buffer.

#include <QByteArray>
#include <QTcpSocket>

namespace switchboard::qtws {

/// What `socket` has buffered (empty: nothing). Without a copy when Qt holds it in one block, as
/// it does for every read that fits its block size; the returned array owns it and is writable
/// in place (the frame reader unmasks client frames where they are).
inline QByteArray takeBufferedBytes(QTcpSocket &socket)
{
    const qint64 available = socket.bytesAvailable();
    if (available <= 0)
        return {};
    return socket.read(available);
}

} // namespace switchboard::qtws
