// Emscripten builds compile Boost.JSON into core from its headers (no prebuilt libboost_json).
#include <boost/json/src.hpp>
