#pragma once
// The samples of a Prometheus text exposition (the gateway's /metrics) that have no labels:
// name -> value. Histogram buckets and other labelled series are skipped.

#include <map>
#include <string>
#include <string_view>

namespace switchboard::bench {

std::map<std::string, double, std::less<>> parseUnlabelledSamples(std::string_view text);

} // namespace switchboard::bench
