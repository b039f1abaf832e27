#pragma once
// PerMessageDeflateConformance: permessage-deflate (RFC 7692) as every Switchboard gateway must
// do it, written once and run against both (tests/server/tst_gatewaydeflate.cpp for
// switchboard-gateway, tests/qt/tst_qtgatewaydeflate.cpp for the Qt gateway). Raw clients
// (WebSocketConformance.h's RawClient) offer the extension, compress what they send with zlib
// and inflate what the server compressed, so every byte on the wire is checked.
//
// The server under test must allow anonymous connect and client publish to a subscribed public
// channel, and its message limit must be Endpoint::maxMessageBytes (at most 256 KiB: the bomb
// inflates to 1 MiB).

#include "WebSocketConformance.h"

#include <zlib.h>

namespace wsconformance {

namespace pmd {

using namespace detail;

/// What a client's compressor sends: raw deflate, sync flush, 00 00 ff ff removed (7.2.1).
inline QByteArray compress(const QByteArray &message)
{
    z_stream s{};
    deflateInit2(&s, Z_BEST_COMPRESSION, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY);
    QByteArray out(qsizetype(deflateBound(&s, uLong(message.size())) + 16), '\0');
    s.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(message.constData()));
    s.avail_in = uInt(message.size());
    s.next_out = reinterpret_cast<Bytef *>(out.data());
    s.avail_out = uInt(out.size());
    ::deflate(&s, Z_SYNC_FLUSH);
    out.resize(out.size() - qsizetype(s.avail_out));
    deflateEnd(&s);
    out.chop(4);
    return out;
}

/// A server's RSV1 payload inflated on its own (the server promised no context takeover); a
/// null QByteArray when it is not a valid deflate stream.
inline QByteArray inflate(QByteArray payload)
{
    payload.append("\x00\x00\xff\xff", 4);
    z_stream s{};
    inflateInit2(&s, -15);
    QByteArray out(4 << 20, '\0');
    s.next_in = reinterpret_cast<Bytef *>(payload.data());
    s.avail_in = uInt(payload.size());
    s.next_out = reinterpret_cast<Bytef *>(out.data());
    s.avail_out = uInt(out.size());
    const int rc = ::inflate(&s, Z_SYNC_FLUSH);
    out.resize(out.size() - qsizetype(s.avail_out));
    inflateEnd(&s);
    return rc == Z_OK || rc == Z_STREAM_END ? out : QByteArray();
}

inline constexpr const char *kBrowserOffer = "permessage-deflate; client_max_window_bits";

/// A text message from the server: inflated when RSV1.
inline QJsonObject json(const ServerFrame &f)
{
    return QJsonDocument::fromJson(f.rsv1 ? inflate(f.payload) : f.payload).object();
}

/// Reads until a text message whose `op` is `op` (compressed or not).
inline std::optional<ServerFrame> readOp(RawClient &c, const QString &op)
{
    return c.readUntil([&](const ServerFrame &f) { return f.opcode == Text && json(f).value("op").toString() == op; });
}

/// Opens with `offer`, connects (compressed when `compressConnect`) and subscribes to `channel`.
inline bool join(RawClient &c, const QByteArray &offer, const QByteArray &channel, QString &error, bool compressConnect = false)
{
    c.offerExtensions(offer);
    if (!c.open()) {
        error = c.error();
        return false;
    }
    if (compressConnect)
        c.send(FrameSpec{Text, compress(connectMessage()), true, true, 0x40});
    else
        c.send(Text, connectMessage());
    if (!readOp(c, "welcome")) {
        error = QStringLiteral("no welcome: ") + c.error();
        return false;
    }
    c.send(Text, R"({"op":"subscribe","channel":")" + channel + R"(","ackId":"s"})");
    if (!readOp(c, "subscribed")) {
        error = QStringLiteral("not subscribed: ") + c.error();
        return false;
    }
    return true;
}

/// A 1 KiB JSON object, the size the benchmarks use.
inline QByteArray kilobyteJson()
{
    QByteArray data = R"({"rows":[)";
    for (int i = 0; data.size() < 1000; ++i)
        data += R"({"symbol":"S)" + QByteArray::number(i) + R"(","bid":101.25,"ask":101.5},)";
    data += "{}]}";
    return data;
}

} // namespace pmd

/// Every case. Names are stable data rows.
inline std::vector<Case> deflateCases()
{
    using namespace detail;
    using namespace pmd;
    std::vector<Case> all;
    auto add = [&](QByteArray name, const char *rfc, std::function<Result(const Endpoint &)> run) {
        all.push_back({std::move(name), rfc, std::move(run)});
    };

    add("negotiation: a browser's offer is accepted without context takeover either way", "7.1", [](const Endpoint &e) {
        RawClient c(e);
        c.offerExtensions(kBrowserOffer);
        if (!c.open())
            return Result::fail(c.error());
        const QByteArray agreed = c.extensions();
        if (!agreed.startsWith("permessage-deflate") || !agreed.contains("server_no_context_takeover")
            || !agreed.contains("client_no_context_takeover"))
            return Result::fail(QStringLiteral("Sec-WebSocket-Extensions: '%1'").arg(QString::fromLatin1(agreed)));
        return Result::pass();
    });
    add("negotiation: an invalid offer is declined, the connection works uncompressed", "5.1", [](const Endpoint &e) {
        RawClient c(e);
        c.offerExtensions("permessage-deflate; server_max_window_bits=99");
        if (!c.open())
            return Result::fail(c.error());
        if (!c.extensions().isEmpty())
            return Result::fail(QStringLiteral("accepted: '%1'").arg(QString::fromLatin1(c.extensions())));
        c.send(Text, connectMessage());
        return c.readMessage("welcome") ? Result::pass() : Result::fail(c.error());
    });
    add("client messages: a compressed and a fragmented compressed message are inflated", "7.2.2", [](const Endpoint &e) {
        RawClient c(e);
        QString error;
        if (!join(c, kBrowserOffer, "deflate-in", error, true))
            return Result::fail(error);
        const QByteArray ping = compress(pingMessage(41));
        c.send(FrameSpec{Text, ping.left(3), false, true, 0x40});
        c.send(Ping, "p");
        c.send(FrameSpec{Continuation, ping.mid(3), true, true, 0});
        const auto pong = readOp(c, "pong");
        if (!pong || json(*pong).value("ackId").toInt() != 41)
            return Result::fail(QStringLiteral("no pong for the fragmented compressed ping: ") + c.error());
        return Result::pass();
    });
    add("publications marked compress go out compressed, the same bytes to every deflate subscriber", "7.2.1", [](const Endpoint &e) {
        RawClient a(e), b(e), plain(e);
        QString error;
        if (!join(a, kBrowserOffer, "deflate-out", error) || !join(b, "permessage-deflate", "deflate-out", error)
            || !join(plain, {}, "deflate-out", error))
            return Result::fail(error);
        const QByteArray data = kilobyteJson();
        a.send(Text, R"({"op":"publish","channel":"deflate-out","event":"tick","compress":true,"data":)" + data + "}");
        auto isTick = [](const ServerFrame &f) { return f.opcode == Text && json(f).value("event").toString() == "tick"; };
        const auto fa = a.readUntil(isTick), fb = b.readUntil(isTick), fp = plain.readUntil(isTick);
        if (!fa || !fb || !fp)
            return Result::fail(QStringLiteral("a subscriber got no message: ") + a.error() + b.error() + plain.error());
        if (!fa->rsv1 || !fb->rsv1)
            return Result::fail("a deflate subscriber got the publication uncompressed");
        if (fp->rsv1)
            return Result::fail("the subscriber without the extension got RSV1");
        if (fa->payload != fb->payload)
            return Result::fail("the deflate subscribers got different compressed bytes");
        if (fa->payload.size() * 2 > fp->payload.size())
            return Result::fail(QStringLiteral("%1 compressed bytes for %2").arg(fa->payload.size()).arg(fp->payload.size()));
        if (inflate(fa->payload) != fp->payload)
            return Result::fail("the compressed message does not inflate to the plain one");
        if (QJsonDocument::fromJson(data).object() != json(*fp).value("data").toObject())
            return Result::fail("the data changed on the way");
        // Unmarked: plain even to deflate subscribers (RSV1 is per message).
        a.send(Text, R"({"op":"publish","channel":"deflate-out","event":"plain","data":)" + data + "}");
        const auto unmarked = b.readUntil([](const ServerFrame &f) { return f.opcode == Text && json(f).value("event").toString() == "plain"; });
        if (!unmarked || unmarked->rsv1)
            return Result::fail(QStringLiteral("an unmarked publication: ") + (unmarked ? "compressed" : b.error()));
        return Result::pass();
    });
    add("a deflate bomb is refused with 1009", "RFC 6455 7.4.1", [](const Endpoint &e) {
        RawClient c(e);
        QString error;
        if (!join(c, kBrowserOffer, "deflate-bomb", error))
            return Result::fail(error);
        // 1 MiB of spaces inside a JSON string is about 1 KiB on the wire, far under the limit.
        const QByteArray bomb = compress(R"({"op":"ping","pad":")" + QByteArray(1 << 20, ' ') + "\"}");
        if (bomb.size() > 4096 || e.maxMessageBytes >= (1 << 20))
            return Result::fail("the bomb does not fit the test's assumptions");
        c.send(FrameSpec{Text, bomb, true, true, 0x40});
        const int code = c.readCloseCode();
        return code == 1009 ? Result::pass() : Result::fail(QStringLiteral("closed with %1 (%2)").arg(code).arg(c.error()));
    });
    add("invalid compressed data is refused with 1007", "7.2.2", [](const Endpoint &e) {
        RawClient c(e);
        QString error;
        if (!join(c, kBrowserOffer, "deflate-corrupt", error))
            return Result::fail(error);
        c.send(FrameSpec{Text, QByteArray("\xff\xff\xff\xff not deflate"), true, true, 0x40});
        const int code = c.readCloseCode();
        return code == 1007 ? Result::pass() : Result::fail(QStringLiteral("closed with %1 (%2)").arg(code).arg(c.error()));
    });
    return all;
}

} // namespace wsconformance
