# Cross build for 32-bit Arm Linux (a Raspberry Pi on a 32-bit OS) with Debian's
# gcc-arm-linux-gnueabihf + libc6-dev-armhf-cross:
#   cmake -S . -B build/armhf -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/arm-linux-gnueabihf.cmake
# Debian's armhf baseline is ARMv7-A + VFPv3-D16 without NEON: only the NEON files of
# native/sources.txt get -mfpu=neon, and they run only where HWCAP_NEON is set. Programs link
# statically, so they run under `qemu-arm -cpu cortex-a7` with no sysroot.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(PE_CROSS_PREFIX arm-linux-gnueabihf- CACHE STRING "cross tool prefix")
set(CMAKE_C_COMPILER ${PE_CROSS_PREFIX}gcc)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(PE_LIBM m CACHE STRING "libm by name, so that the static link takes libm.a")
set(CMAKE_FIND_ROOT_PATH /usr/arm-linux-gnueabihf)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-arm)
