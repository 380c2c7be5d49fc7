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
cmake -S . -B build/cmake -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/cmake -j "$(nproc)" >/dev/null
(cd build/cmake && ctest --output-on-failure)
.venv/bin/python -m pytest "$@"
