# Cross build for 64-bit Arm Linux (Raspberry Pi 3/4/5 on a 64-bit OS) with Debian's
# gcc-aarch64-linux-gnu + libc6-dev-arm64-cross:
#   cmake -S . -B build/aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
# Programs link statically, so they run under `qemu-aarch64 -cpu cortex-a72` with no sysroot.
# The baseline is ARMv8-A (NEON); the dot-product and i8mm files get their own -march from
# native/sources.txt and run only where pe_cpu_features() finds those features.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(PE_CROSS_PREFIX aarch64-linux-gnu- CACHE STRING "cross tool prefix")
set(CMAKE_C_COMPILER ${PE_CROSS_PREFIX}gcc)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(PE_LIBM m CACHE STRING "libm by name, so that the static link takes libm.a")
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)
