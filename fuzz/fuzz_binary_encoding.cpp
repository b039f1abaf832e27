// The binary encoding's decoder (switchboard.v1.binary) on arbitrary bytes. Invariants:
//   - it never crashes, and on a refusal the value is null (or, for a number out of range, the
//     frame with nulls in place of the refused numbers);
//   - what it accepts is a value JSON can carry: its serialization is JSON parseJson() accepts;
//   - encoding an object again (encodeBinaryObject) decodes to the same value, and so does the
//     translation of its JSON text (translateToBinary), compared with what that text parses to.
//     (`message` frames are left out of the last check: translateToBinary reads their layout as
//     encodeMessageFrame() writes it, which the server's own frames always are.)
#include "FuzzSupport.h"

#include <switchboard/BinaryEncoding.h>
#include <switchboard/JsonParse.h>

#include <boost/json/serialize.hpp>

using namespace switchboard;
namespace json = boost::json;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const std::string_view bytes = fuzzsupport::text(data, size);
    json::value decoded;
    const std::optional<JsonProblem> problem = decodeBinaryProtocolFrame(bytes, decoded, 32);
    if (problem) {
        FUZZ_CHECK(!problem->message.empty());
        FUZZ_CHECK(decoded.is_null() || problem->kind == JsonProblem::Kind::NumberOutOfRange);
        return 0;
    }
    FUZZ_CHECK(isBinaryProtocolFrame(bytes));
    const std::string text = json::serialize(decoded);
    json::value reparsed;
    FUZZ_CHECK(!parseJson(text, reparsed, JsonParseOptions{64}));
    if (!decoded.is_object()) // tag 0x02 may carry any value; only objects are frames
        return 0;

    json::value again;
    FUZZ_CHECK(!decodeBinaryProtocolFrame(encodeBinaryObject(decoded.get_object()), again, 64));
    FUZZ_CHECK(again == decoded);
    const json::value *op = decoded.get_object().if_contains("op");
    if (op && op->is_string() && op->get_string() == "message")
        return 0;
    const std::optional<std::string> translated = translateToBinary(text);
    FUZZ_CHECK(translated);
    json::value fromText;
    FUZZ_CHECK(!decodeBinaryProtocolFrame(*translated, fromText, 64));
    FUZZ_CHECK(fromText == reparsed);
    return 0;
}
