#!/usr/bin/env bash
# The test command: set up (idempotent), build and run the C unit tests (CMake/ctest), then
# the Python test suite (pyedge against TFLite's reference kernels). Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
cmake -S . -B build/cmake -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/cmake -j "$(nproc)" >/dev/null
(cd build/cmake && ctest --output-on-failure)
.venv/bin/python -m pytest "$@"
