# Cross-compiling Switchboard for ARM64 Linux (Debian's aarch64-linux-gnu toolchain) on an amd64
# Debian host: scripts/install-deps.sh arm64 installs the compiler, qemu-user-static and the
# arm64 multiarch libraries (/usr/lib/aarch64-linux-gnu). See docs/embedded.md.
#
# Libraries and CMake packages come from the arm64 multiarch directories; build-time programs
# (moc, rcc, qmlcachegen, qmltyperegistrar...) are the native ones of the amd64 Qt (QT_HOST_PATH).
# Test programs run under qemu-user (CMAKE_CROSSCOMPILING_EMULATOR): no binfmt_misc needed.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# The arm64 packages live in the host's / (multiarch), beside the cross toolchain's own sysroot.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)  # build tools are native
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config (hiredis, libsystemd) reads the arm64 .pc files only.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")

# Qt 6: the target Qt's packages, the host Qt's tools.
set(QT_HOST_PATH /usr CACHE PATH "Qt host tools prefix (native amd64 Qt 6)")
set(QT_HOST_PATH_CMAKE_DIR /usr/lib/x86_64-linux-gnu/cmake CACHE PATH "CMake packages of the host Qt 6")

# Tests (and any try_run) run under qemu-user. Debian's qemu finds the arm64 loader and libraries
# in / (libc6:arm64 is installed by the multiarch packages), so no -L / QEMU_LD_PREFIX is needed.
find_program(SWITCHBOARD_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64 NO_CMAKE_FIND_ROOT_PATH)
if(SWITCHBOARD_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${SWITCHBOARD_QEMU_AARCH64})
endif()
