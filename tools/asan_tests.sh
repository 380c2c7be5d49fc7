#!/usr/bin/env bash
# Opt-in: run Python tests against the C core built with AddressSanitizer + UBSan (gcc).
#   tools/asan_tests.sh                      # the hostile-blob tests and the crash reproducers
#   tools/asan_tests.sh tests/test_models.py # any pytest arguments instead
# Builds the cffi module with PYEDGE_SANITIZE=1 into $PYEDGE_ASAN_BUILD (default build/asan),
# preloads gcc's ASan runtime into Python (leak detection off: CPython itself "leaks"), and stops
# at the first UBSan report (halt_on_error). Exit status: pytest's; a sanitizer report aborts.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x "$PY" ] || { echo "asan_tests: run tools/setup.sh first" >&2; exit 2; }
BUILD=${PYEDGE_ASAN_BUILD:-build/asan}
PYEDGE_SANITIZE=1 "$PY" pyedge/_build.py "$BUILD" >/dev/null
ASAN_LIB=$(gcc -print-file-name=libasan.so)
UBSAN_LIB=$(gcc -print-file-name=libubsan.so)
[ -e "$ASAN_LIB" ] || { echo "asan_tests: gcc has no libasan.so" >&2; exit 2; }
if [ $# -eq 0 ]; then
  set -- tests/test_hostile_blobs.py tests/test_fuzz.py -k "not libfuzzer and not harness" -q
fi
echo "asan_tests: core from $BUILD, LD_PRELOAD=$ASAN_LIB $UBSAN_LIB"
export PYEDGE_BUILD_DIR="$BUILD"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:abort_on_error=1}
LD_PRELOAD="$ASAN_LIB $UBSAN_LIB" exec "$PY" -m pytest -p no:cacheprovider "$@"
