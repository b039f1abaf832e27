// The Qt gateway's upgrade request reader (server/qtws/src/UpgradeRequest.cpp: Boost.Beast's HTTP
// parser, no Qt), fed the bytes a client sends before its first frame, and the answer the gateway
// builds from what it read: permessage-deflate and the wire encoding negotiated, then the 101
// response. The first input byte picks the header limit (256-8 K) and the read size (1-64 bytes);
// the rest is the client's bytes. Invariants:
//   - a request is accepted, with the same fields and leftover, however its bytes are cut into
//     reads (read by read against everything at once); refusals agree too, but that a fault may
//     be seen before the header is complete, and a header both too large and malformed may be
//     refused 431 one way and 400 the other
//   - while the reader needs more it holds at most the header limit
//   - a refusal is 400, 426 or 431, and its response is an HTTP response with that status
//   - a completed request has a 16-byte base64 key; the 101 response built for it parses as an
//     HTTP response with status 101 and the same accept key whatever extensions and protocols
//     the client offered
#include "FuzzSupport.h"
#include "UpgradeRequest.h"

#include <switchboard/WireEncoding.h>
#include <switchboard/websocket/Codec.h>
#include <switchboard/websocket/PerMessageDeflate.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string>

using namespace switchboard;
using qtws::UpgradeRequestReader;
namespace http = boost::beast::http;

namespace {

struct Outcome {
    UpgradeRequestReader::Status status = UpgradeRequestReader::Status::NeedMore;
    qtws::UpgradeRequest request;
    int refusalStatus = 0;
    std::string leftover;
};

/// Feeds `bytes` in reads of `chunk` bytes while the reader needs more.
Outcome read(std::string_view bytes, std::size_t chunk, std::size_t limit)
{
    UpgradeRequestReader reader(limit);
    Outcome out;
    while (!bytes.empty() && out.status == UpgradeRequestReader::Status::NeedMore) {
        const std::string_view piece = bytes.substr(0, chunk);
        bytes.remove_prefix(piece.size());
        out.status = reader.feed(piece.data(), piece.size());
        if (out.status == UpgradeRequestReader::Status::NeedMore)
            FUZZ_CHECK(reader.bufferedBytes() <= limit);
    }
    if (out.status == UpgradeRequestReader::Status::Complete) {
        out.request = reader.request();
        out.leftover = reader.takeLeftover();
        out.leftover.append(bytes); // what the client sent after the reads the reader saw
    } else if (out.status == UpgradeRequestReader::Status::Refused) {
        out.refusalStatus = reader.refusalStatus();
        FUZZ_CHECK(out.refusalStatus == 400 || out.refusalStatus == 426 || out.refusalStatus == 431);
        const std::string response = qtws::refusalResponse(out.refusalStatus, reader.refusalReason());
        http::response_parser<http::string_body> parser;
        boost::beast::error_code ec;
        parser.eager(true);
        parser.put(boost::asio::buffer(response), ec);
        FUZZ_CHECK(!ec && parser.is_done());
        FUZZ_CHECK(parser.get().result_int() == static_cast<unsigned>(out.refusalStatus));
    }
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    if (size == 0)
        return 0;
    constexpr std::size_t kLimits[] = {256, 1024, 4096, 8192};
    const std::size_t limit = kLimits[data[0] & 3u];
    const std::size_t chunk = 1 + (data[0] >> 2u); // 1 to 64 bytes per read
    const std::string_view bytes = fuzzsupport::text(data + 1, size - 1);

    const Outcome whole = read(bytes, bytes.size() + 1, limit);
    const Outcome cut = read(bytes, chunk, limit);
    // A request is accepted (and read the same) however it is cut. A fault may be seen before
    // the header is complete (refused at once) or only once it is (still waiting), and a header
    // both too large and malformed may be refused as either.
    using Status = UpgradeRequestReader::Status;
    FUZZ_CHECK((whole.status == Status::Complete) == (cut.status == Status::Complete));
    if (whole.status == Status::Refused && cut.status == Status::Refused)
        FUZZ_CHECK(whole.refusalStatus == cut.refusalStatus || whole.refusalStatus == 431 || cut.refusalStatus == 431);
    if (whole.status != Status::Complete)
        return 0;
    FUZZ_CHECK(whole.request.key == cut.request.key && whole.request.target == cut.request.target);
    FUZZ_CHECK(whole.request.origin == cut.request.origin && whole.request.hasOrigin == cut.request.hasOrigin);
    FUZZ_CHECK(whole.request.extensions == cut.request.extensions);
    FUZZ_CHECK(whole.request.subprotocols == cut.request.subprotocols);
    FUZZ_CHECK(whole.leftover == cut.leftover);
    FUZZ_CHECK(whole.request.key.size() == 24);

    // What the gateway answers (QtWebSocketGateway::Private::upgrade).
    const auto deflate = websocket::negotiateDeflate(whole.request.extensions, websocket::DeflateOptions{});
    const WireEncoding encoding = negotiateWireEncoding(whole.request.subprotocols);
    const std::string response = qtws::switchingProtocolsResponse(
        whole.request.key, deflate ? deflate->response : std::string(),
        encoding == WireEncoding::Binary ? kBinarySubprotocol : std::string_view());
    http::response_parser<http::empty_body> parser;
    parser.skip(true); // a 101 has no body
    boost::beast::error_code ec;
    const std::size_t used = parser.put(boost::asio::buffer(response), ec);
    FUZZ_CHECK(!ec && parser.is_header_done() && used == response.size());
    const auto &answer = parser.get();
    FUZZ_CHECK(answer.result_int() == 101);
    FUZZ_CHECK(answer[http::field::sec_websocket_accept] == websocket::acceptKey(whole.request.key));
    if (deflate) {
        FUZZ_CHECK(deflate->serverWindowBits >= 9 && deflate->serverWindowBits <= 15);
        FUZZ_CHECK(answer[http::field::sec_websocket_extensions] == deflate->response);
    }
    return 0;
}
