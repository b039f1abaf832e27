// Qt-free checks of core that run natively and under node (wasm-core preset).
#include "switchboard/Error.h"

#include <cstdio>

static int failures = 0;
static int passes = 0;
#define SB_CHECK(cond) do { if (cond) ++passes; else { ++failures; std::printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } } while (0)

int main()
{
    using namespace switchboard;
    SB_CHECK(shouldReconnect(3000));
    SB_CHECK(!shouldReconnect(3501));
    SB_CHECK(make_error_code(Error::Forbidden).message() == "forbidden");
    std::printf("%d passed, %d failed\n", passes, failures);
    return failures == 0 ? 0 : 1;
}
