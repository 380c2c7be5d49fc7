#!/usr/bin/env bash
# The test command: set up (idempotent), build and run the C unit tests (CMake/ctest), then
# the Python test suite (pyedge against TFLite's reference kernels). Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
# Cortex-M cross compiler + newlib for tests/test_cformat.py's firmware check (not in setup.sh:
# the quick start stays light). Installed only when missing; without it that test skips, saying why.
if ! echo '#include <string.h>' | arm-none-eabi-gcc -E -x c - >/dev/null 2>&1; then
  echo "test: installing the Cortex-M cross compiler (gcc-arm-none-eabi, libnewlib-arm-none-eabi)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
      --no-install-recommends gcc-arm-none-eabi libnewlib-arm-none-eabi >/dev/null; } \
    || echo "test: WARNING: could not install arm-none-eabi-gcc; the Cortex-M test will skip"
fi
# Arm Linux cross compilers and QEMU for tests/test_cross_arm.py (the C kernel test and the model
# runner under qemu-aarch64/qemu-arm). Installed only when missing; without them that test skips.
if ! { command -v qemu-aarch64 && command -v qemu-arm && command -v qemu-system-aarch64 \
      && echo '#include <string.h>' | aarch64-linux-gnu-gcc -E -x c - \
      && echo '#include <string.h>' | arm-linux-gnueabihf-gcc -E -x c -; } >/dev/null 2>&1; then
  echo "test: installing the Arm Linux cross compilers and QEMU (gcc-aarch64-linux-gnu, gcc-arm-linux-gnueabihf, qemu-user, qemu-system-arm)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
      --no-install-recommends gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf \
      libc6-dev-armhf-cross qemu-user qemu-system-arm >/dev/null; } \
    || echo "test: WARNING: could not install the Arm cross compilers/QEMU; the Arm cross test will skip"
fi
# clang with libFuzzer and the sanitizer runtimes for tests/test_fuzz.py's bounded fuzzing run
# (Debian: clang, and libclang-rt-dev, only recommended by clang, for libclang_rt.fuzzer/asan).
# Installed only when clang cannot link a -fsanitize=fuzzer program; without it that test skips.
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' \
    | clang -x c -fsanitize=fuzzer,address,undefined -o /dev/null - >/dev/null 2>&1; then
  echo "test: installing clang with libFuzzer (clang, libclang-rt-dev)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
      --no-install-recommends clang libclang-rt-dev >/dev/null; } \
    || echo "test: WARNING: could not install clang/libFuzzer; the fuzzing test will skip"
fi
# headless Chromium for tests/test_host_report.py (the HTML profile report rendered in a real
# browser). Installed only when missing; without it that test skips, saying why.
if ! command -v chromium >/dev/null 2>&1; then
  echo "test: installing headless Chromium (chromium)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
      --no-install-recommends chromium >/dev/null; } \
    || echo "test: WARNING: could not install chromium; the HTML report test will skip"
fi
cmake -S . -B build/cmake -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/cmake -j "$(nproc)" >/dev/null
(cd build/cmake && ctest --output-on-failure)
.venv/bin/python -m pytest "$@"
