#pragma once
// Minimal blocking WebSocket peer on POSIX sockets, for load generation in benchmarks only: it
// keeps the client side cheap (no Qt objects, no UTF-16 conversion) so that the gateway under
// test is what gets measured. Frames it sends are masked with a zero key (valid per RFC 6455).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace bench {

inline int connectTcp(std::uint16_t port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

inline bool writeAll(int fd, std::string_view data)
{
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n <= 0)
            return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

/// Masked (zero key) text frame, payload shorter than 64 KiB.
inline std::string clientTextFrame(std::string_view payload)
{
    std::string frame;
    frame.push_back(static_cast<char>(0x81));
    if (payload.size() < 126) {
        frame.push_back(static_cast<char>(0x80 | payload.size()));
    } else {
        frame.push_back(static_cast<char>(0x80 | 126));
        frame.push_back(static_cast<char>(payload.size() >> 8));
        frame.push_back(static_cast<char>(payload.size() & 0xFF));
    }
    frame.append(4, '\0');
    frame.append(payload);
    return frame;
}

/// Sends the HTTP upgrade and reads the response head. Returns bytes read past the head in `rest`.
inline bool upgrade(int fd, std::uint16_t port, std::string &rest)
{
    const std::string request = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port)
        + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          "Sec-WebSocket-Version: 13\r\n\r\n";
    if (!writeAll(fd, request))
        return false;
    std::string head;
    char buffer[4096];
    while (head.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n <= 0)
            return false;
        head.append(buffer, static_cast<std::size_t>(n));
    }
    const std::size_t end = head.find("\r\n\r\n") + 4;
    rest = head.substr(end);
    return head.compare(0, 12, "HTTP/1.1 101") == 0;
}

/// Counts complete server frames in a byte stream (unmasked frames of any length).
class FrameCounter {
public:
    /// Feeds bytes; returns how many frames completed.
    std::size_t feed(const char *data, std::size_t size)
    {
        std::size_t frames = 0;
        while (size > 0) {
            if (m_skip > 0) {
                const std::size_t n = std::min<std::size_t>(m_skip, size);
                m_skip -= n;
                data += n;
                size -= n;
                if (m_skip == 0)
                    ++frames;
                continue;
            }
            const std::size_t take = std::min(size, sizeof m_head - m_headSize);
            std::memcpy(m_head + m_headSize, data, take);
            const std::size_t have = m_headSize + take;
            std::size_t headLength = 2;
            std::uint64_t length = 0;
            if (have < 2) { m_headSize = have; return frames; }
            const unsigned char l = static_cast<unsigned char>(m_head[1]) & 0x7F;
            if (l == 126) headLength = 4; else if (l == 127) headLength = 10;
            if (have < headLength) { m_headSize = have; return frames; }
            if (l < 126) length = l;
            else if (l == 126) length = (std::uint64_t(static_cast<unsigned char>(m_head[2])) << 8) | static_cast<unsigned char>(m_head[3]);
            else for (int i = 2; i < 10; ++i) length = (length << 8) | static_cast<unsigned char>(m_head[i]);
            const std::size_t consumed = headLength - m_headSize; // bytes of `data` that were header
            data += consumed;
            size -= consumed;
            m_headSize = 0;
            if (length == 0) ++frames; else m_skip = length;
        }
        return frames;
    }

private:
    char m_head[10];
    std::size_t m_headSize = 0;
    std::uint64_t m_skip = 0;
};

} // namespace bench
