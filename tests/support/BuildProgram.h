#pragma once
// setBuildProgram(): how a test starts a program of this build (switchboard-gateway, a helper),
// natively or, in a cross build whose tests run under an emulator, behind that emulator.
//
// In the arm64 build (docs/embedded.md) ctest runs each test under qemu-user and sets
// SWITCHBOARD_TEST_EMULATOR (e.g. "qemu-aarch64-static") in its environment. A process under
// qemu-user cannot exec an arm64 binary by itself unless binfmt_misc is registered (it is not in
// containers), so the program is started as `<emulator> <program> <arguments>`. qemu-user runs
// the program inside its own process: QProcess::processId() is the program's pid, signals sent to
// it reach the program, and the parent-death signal of dieWithTest() still kills it.
// Host programs (python3, openssl, redis-server, node) are started as they are: they are native.

#include <QProcess>
#include <QString>
#include <QStringList>

namespace testsupport {

/// The emulator command that runs this build's programs, split into words; empty natively.
inline QStringList buildProgramEmulator()
{
    return QProcess::splitCommand(qEnvironmentVariable("SWITCHBOARD_TEST_EMULATOR"));
}

/// Sets `process` to run `program` (a binary of this build) with `arguments`, behind the
/// emulator when there is one (see above).
inline void setBuildProgram(QProcess &process, const QString &program, const QStringList &arguments = {})
{
    QStringList emulator = buildProgramEmulator();
    if (emulator.isEmpty()) {
        process.setProgram(program);
        process.setArguments(arguments);
        return;
    }
    process.setProgram(emulator.takeFirst());
    process.setArguments(emulator + QStringList{program} + arguments);
}

/// setBuildProgram() and QProcess::start().
inline void startBuildProgram(QProcess &process, const QString &program, const QStringList &arguments = {})
{
    setBuildProgram(process, program, arguments);
    process.start();
}

} // namespace testsupport
