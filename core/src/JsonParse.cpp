#include "switchboard/JsonParse.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/value_stack.hpp>

#include <charconv>
#include <cmath>
#include <system_error>

#ifdef __EMSCRIPTEN__
#include "../wasm/BrowserNumbers.h"
#endif

namespace switchboard {

namespace json = boost::json;

namespace {

constexpr std::size_t kQuotedLiteralMax = 40;

/// The value_stack handler Boost.JSON's own parser uses, plus a check of every double: Boost.JSON
/// hands a number over as a double when it is not an int64/uint64 literal, together with its text.
class CheckedHandler {
public:
    static constexpr std::size_t max_object_size = json::object::max_size();
    static constexpr std::size_t max_array_size = json::array::max_size();
    static constexpr std::size_t max_key_size = json::string::max_size();
    static constexpr std::size_t max_string_size = json::string::max_size();

    explicit CheckedHandler(json::storage_ptr storage) : m_stack(std::move(storage)) {}

    json::value_stack &stack() { return m_stack; }
    /// The literal that was refused; empty when none was.
    const std::string &refusedNumber() const { return m_refused; }

    bool on_document_begin(json::error_code &) { return true; }
    bool on_document_end(json::error_code &) { return true; }
    bool on_object_begin(json::error_code &) { return true; }
    bool on_object_end(std::size_t n, json::error_code &)
    {
        m_stack.push_object(n);
        return true;
    }
    bool on_array_begin(json::error_code &) { return true; }
    bool on_array_end(std::size_t n, json::error_code &)
    {
        m_stack.push_array(n);
        return true;
    }
    bool on_key_part(json::string_view s, std::size_t, json::error_code &)
    {
        m_stack.push_chars(s);
        return true;
    }
    bool on_key(json::string_view s, std::size_t, json::error_code &)
    {
        m_stack.push_key(s);
        return true;
    }
    bool on_string_part(json::string_view s, std::size_t, json::error_code &)
    {
        m_stack.push_chars(s);
        return true;
    }
    bool on_string(json::string_view s, std::size_t, json::error_code &)
    {
        m_stack.push_string(s);
        return true;
    }
    bool on_number_part(json::string_view s, json::error_code &)
    {
        // Only when a number spans two writes; one-shot parses hand the whole text to on_double.
        m_numberText.append(s.data(), s.size());
        return true;
    }
    bool on_int64(std::int64_t i, json::string_view, json::error_code &)
    {
        m_numberText.clear();
        m_stack.push_int64(i);
        return true;
    }
    bool on_uint64(std::uint64_t u, json::string_view, json::error_code &)
    {
        m_numberText.clear();
        m_stack.push_uint64(u);
        return true;
    }
    bool on_double(double d, json::string_view s, json::error_code &ec)
    {
        m_numberText.append(s.data(), s.size());
#ifdef __EMSCRIPTEN__
        // The browser converts the literal (correctly rounded). Boost.JSON's `d` is then unused,
        // so its table of powers of ten stays out of the browser client (core/wasm/BrowserNumbers.h).
        d = wasm::parseNumberLiteral(m_numberText);
#else
        d = nearestDouble(m_numberText, d);
#endif
        if (representable(d, m_numberText)) {
            m_stack.push_double(d);
        } else {
            // Keep parsing with a null in its place, so the caller can still read the ackId to
            // answer; the first refused literal names the problem.
            if (m_refused.empty())
                m_refused = m_numberText;
            m_stack.push_null();
        }
        m_numberText.clear();
        return true;
    }
    bool on_bool(bool b, json::error_code &)
    {
        m_stack.push_bool(b);
        return true;
    }
    bool on_null(json::error_code &)
    {
        m_stack.push_null();
        return true;
    }
    bool on_comment_part(json::string_view, json::error_code &) { return true; }
    bool on_comment(json::string_view, json::error_code &) { return true; }

private:
#ifndef __EMSCRIPTEN__
    /// The double nearest to the literal. Boost.JSON's own conversion (`approximate`) is off by one
    /// unit in the last place for about one double in ten as another library prints it (shortest
    /// round-trip text), so a value would reach subscribers changed; std::from_chars rounds
    /// correctly. Out of range, the result is what representable() refuses: infinity for an
    /// overflow, zero for an underflow.
    static double nearestDouble(std::string_view text, double approximate)
    {
        double d = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), d);
        if (error == std::errc::result_out_of_range)
            return std::fabs(approximate) >= 1.0 ? HUGE_VAL : 0.0;
        if (error != std::errc() || end != text.data() + text.size())
            return approximate; // not reached: Boost.JSON hands over only JSON number literals
        return d;
    }
#endif

    /// False when the double does not stand for the literal: an integer literal too large for
    /// 64 bits, an overflow to infinity, or a non-zero literal that became zero.
    static bool representable(double d, std::string_view text)
    {
        if (!std::isfinite(d))
            return false;
        const std::size_t exponent = text.find_first_of("eE");
        const std::string_view mantissa = text.substr(0, exponent);
        if (exponent == std::string_view::npos && mantissa.find('.') == std::string_view::npos)
            return false; // an integer literal Boost.JSON could only hold as a double
        if (d == 0.0)
            return mantissa.find_first_of("123456789") == std::string_view::npos;
        return true;
    }

    json::value_stack m_stack;
    std::string m_numberText;
    std::string m_refused;
};

std::string quoteLiteral(std::string_view literal)
{
    if (literal.size() <= kQuotedLiteralMax)
        return std::string(literal);
    return std::string(literal.substr(0, kQuotedLiteralMax)) + "...";
}

} // namespace

std::optional<JsonProblem> parseJson(std::string_view text, json::value &out, JsonParseOptions options)
{
    json::parse_options parseOptions;
    parseOptions.max_depth = options.maxDepth;
    const json::storage_ptr storage = out.storage();
    json::basic_parser<CheckedHandler> parser(parseOptions, storage);
    parser.handler().stack().reset(storage);
    json::error_code ec;
    const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
    if (!ec && used < text.size())
        ec = json::error::extra_data;
    if (ec) {
        out = json::value(storage);
        if (ec == json::error::exponent_overflow)
            return JsonProblem{JsonProblem::Kind::NumberOutOfRange, "number out of range: exponent too large"};
        if (ec == json::error::too_deep)
            return JsonProblem{JsonProblem::Kind::TooDeep,
                               "nested deeper than " + std::to_string(options.maxDepth) + " levels"};
        return JsonProblem{JsonProblem::Kind::Syntax, "not valid JSON: " + ec.message()};
    }
    out = parser.handler().stack().release();
    if (const std::string &refused = parser.handler().refusedNumber(); !refused.empty())
        return JsonProblem{JsonProblem::Kind::NumberOutOfRange, "number out of range: " + quoteLiteral(refused)};
    return std::nullopt;
}

bool isAcceptedJson(std::string_view text, JsonParseOptions options)
{
    unsigned char buffer[1024];
    json::monotonic_resource arena(buffer, sizeof buffer);
    const json::storage_ptr storage(&arena);
    json::value scratch(storage);
    return !parseJson(text, scratch, options);
}

} // namespace switchboard
