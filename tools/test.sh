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
cmake -S . -B build/cmake -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/cmake -j "$(nproc)" >/dev/null
(cd build/cmake && ctest --output-on-failure)
.venv/bin/python -m pytest "$@"
