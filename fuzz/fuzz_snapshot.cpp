// MemoryBroker history snapshot loading. Invariants: a rejected snapshot leaves the broker
// without any stream; an accepted one saves to a snapshot that loads again with the same
// streams and publications, and the saved text is a JSON object.
#include "FuzzSupport.h"

#include <switchboard/MemoryBroker.h>

#include <boost/json.hpp>

#include <sstream>
#include <string>

using namespace switchboard;

namespace {

MemoryBrokerOptions options()
{
    MemoryBrokerOptions o;
    o.history.rules = {HistoryRule{"", 16, std::chrono::hours(1)}, HistoryRule{"short", 2, std::chrono::seconds(1)},
                       HistoryRule{"none", 0, {}}};
    o.history.maxStreams = 64;
    return o;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    ManualTimer timer;
    MemoryBroker broker(timer, options());
    // Something to replace: a load always starts from a broker holding a stream.
    broker.publish(Publication{"held", "e", "1"}, {});
    std::istringstream in(std::string(fuzzsupport::text(data, size)));
    std::error_code error;
    const SnapshotStats loaded = broker.loadSnapshot(in, error);
    if (error) {
        FUZZ_CHECK(error.category() == snapshotErrorCategory());
        FUZZ_CHECK(broker.streamCount() == 0);
        return 0;
    }
    FUZZ_CHECK(broker.streamCount() == loaded.streams);

    std::ostringstream saved;
    const SnapshotStats written = broker.saveSnapshot(saved);
    FUZZ_CHECK(written.streams == loaded.streams);
    boost::json::error_code ec;
    const boost::json::value document = boost::json::parse(saved.str(), ec);
    FUZZ_CHECK(!ec && document.is_object());

    MemoryBroker second(timer, options());
    std::istringstream again(saved.str());
    const SnapshotStats reloaded = second.loadSnapshot(again, error);
    FUZZ_CHECK(!error);
    FUZZ_CHECK(reloaded.streams == written.streams && reloaded.publications == written.publications);
    FUZZ_CHECK(reloaded.expiredPublications == 0 && reloaded.droppedStreams == 0);
    return 0;
}
