#pragma once
// dieWithTest(): a child process a test starts dies with the test, even when the test crashes,
// times out or is killed with SIGKILL (ctest's timeout), so no gateway or tool outlives it.
//
// Linux only: the child asks the kernel for SIGKILL when its parent dies (PR_SET_PDEATHSIG)
// between fork and exec; it then checks that the parent is still the one that forked it, since
// a parent that died before the prctl would never deliver the signal. The death signal follows
// the thread that started the process: start children from the test's main thread.

#include <QProcess>

#include <csignal>
#include <sys/prctl.h>
#include <unistd.h>

namespace testsupport {

inline void dieWithTest(QProcess &process)
{
    const pid_t parent = ::getpid();
    process.setChildProcessModifier([parent] {
        // Runs in the forked child before exec: async-signal-safe calls only.
        if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent)
            ::_exit(127);
    });
}

} // namespace testsupport
