// Emscripten builds compile Boost.JSON into core from its headers (no prebuilt libboost_json).
//
// This is boost/json/src.hpp (Boost 1.81) without its number formatting: format.ipp and Ryu's
// d2s.ipp carry about 10 KB of 128-bit power-of-five tables that no compressor can shrink, a
// tenth of the browser bundle. BoostJsonNumbers.cpp defines the three detail::format_* functions
// instead, doubles by the browser's own shortest round-trip conversion (docs/benchmarks.md,
// "Browser client size").
#include <boost/version.hpp>
static_assert(BOOST_VERSION == 108100,
              "the list below mirrors boost/json/src.hpp of Boost 1.81: compare it with this Boost's");

#ifndef BOOST_JSON_SOURCE
#define BOOST_JSON_SOURCE
#endif

#include <boost/json.hpp>

#include <boost/json/detail/config.hpp>

#include <boost/json/impl/array.ipp>
#include <boost/json/impl/error.ipp>
#include <boost/json/impl/kind.ipp>
#include <boost/json/impl/monotonic_resource.ipp>
#include <boost/json/impl/null_resource.ipp>
#include <boost/json/impl/object.ipp>
#include <boost/json/impl/parse.ipp>
#include <boost/json/impl/parser.ipp>
#include <boost/json/impl/pointer.ipp>
#include <boost/json/impl/serialize.ipp>
#include <boost/json/impl/serializer.ipp>
#include <boost/json/impl/static_resource.ipp>
#include <boost/json/impl/stream_parser.ipp>
#include <boost/json/impl/string.ipp>
#include <boost/json/impl/value.ipp>
#include <boost/json/impl/value_stack.ipp>
#include <boost/json/impl/value_ref.ipp>

#include <boost/json/detail/impl/shared_resource.ipp>
#include <boost/json/detail/impl/default_resource.ipp>
#include <boost/json/detail/impl/except.ipp>
#include <boost/json/detail/impl/handler.ipp>
#include <boost/json/detail/impl/stack.ipp>
#include <boost/json/detail/impl/string_impl.ipp>
