#pragma once
// A minimal check harness for the portable test program: no Qt, no threads, prints failures with
// their location and returns a non-zero exit status when any check failed.

#include <cstdio>
#include <sstream>
#include <string>

namespace sb_portable {

struct Totals {
    int passed = 0;
    int failed = 0;
    const char *group = "";
};

inline Totals &totals()
{
    static Totals t;
    return t;
}

inline void report(bool ok, const char *file, int line, const std::string &what)
{
    if (ok) {
        ++totals().passed;
        return;
    }
    ++totals().failed;
    std::printf("FAIL [%s] %s:%d: %s\n", totals().group, file, line, what.c_str());
}

template <typename A, typename B>
void reportEqual(const A &actual, const B &expected, const char *file, int line, const char *expr)
{
    if (actual == expected) {
        ++totals().passed;
        return;
    }
    std::ostringstream out;
    out << expr << " (actual: " << actual << ", expected: " << expected << ")";
    report(false, file, line, out.str());
}

inline int summary()
{
    std::printf("core_portable: %d checks passed, %d failed\n", totals().passed, totals().failed);
    return totals().failed == 0 ? 0 : 1;
}

} // namespace sb_portable

#define SB_CHECK(cond) ::sb_portable::report(static_cast<bool>(cond), __FILE__, __LINE__, #cond)
#define SB_CHECK_MSG(cond, msg) \
    ::sb_portable::report(static_cast<bool>(cond), __FILE__, __LINE__, std::string(#cond) + " [" + (msg) + "]")
#define SB_CHECK_EQ(actual, expected) \
    ::sb_portable::reportEqual((actual), (expected), __FILE__, __LINE__, #actual " == " #expected)
#define SB_RUN(fn)                                                   \
    do {                                                             \
        ::sb_portable::totals().group = #fn;                         \
        const int before = ::sb_portable::totals().failed;           \
        fn();                                                        \
        std::printf("%s %s\n", ::sb_portable::totals().failed == before ? "PASS" : "FAIL", #fn); \
    } while (0)
