"""The blob-loader fuzzer (native/tests/fuzz_blob.c, tools/fuzz/) and its crash reproducers.

- test_libfuzzer_bounded_run: builds the libFuzzer target with clang
  (-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all) and fuzzes from real blobs for
  PYEDGE_FUZZ_SECONDS (default 60) seconds with libFuzzer seed PYEDGE_FUZZ_SEED (default 1);
  any crash, sanitizer report, leak or timeout fails,
  naming the reproducer and the report. Skipped, with the reason, where clang cannot link
  libFuzzer (tools/test.sh installs clang and libclang-rt-14-dev, so CI has it).
- test_crash_reproducer: every file in tests/fuzz_crashes/ (inputs the fuzzer or the hostile-blob
  tests once crashed on) gets a clean error or runs cleanly under ASan+UBSan (built with gcc, no
  libFuzzer needed) and in Python from a read-only mapping. A bug reported but not fixed yet is
  listed in KNOWN_BUGS and expected to fail (strict xfail: the fix must remove the entry).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CRASHES = ROOT / "tests" / "fuzz_crashes"
FUZZ_DIR = ROOT / "tools" / "fuzz"

# reproducer file name -> why it still fails (reported, not fixed yet). Keep in step with
# tests/fuzz_crashes/README.md and tools/fuzz/known_issues.ignorelist.
KNOWN_BUGS: dict[str, str] = {}


def _load(name: str):
    if str(FUZZ_DIR) not in sys.path:
        sys.path.insert(0, str(FUZZ_DIR))
    spec = importlib.util.spec_from_file_location(f"pyedge_fuzz_{name}", FUZZ_DIR / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


fuzz = _load("fuzz")
seeds = _load("seeds")


@pytest.fixture(scope="module")
def replay_binary(tmp_path_factory) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("gcc not found (tools/setup.sh installs build-essential)")
    return fuzz.build_replay(tmp_path_factory.mktemp("replay"), "gcc")


def test_fix_checksum_is_the_packers_checksum() -> None:
    """The driver's fix-up (mirrored by fuzz.fix_checksum) turns a damaged blob back into one
    whose checksum the core accepts, and leaves a pristine blob as it is."""
    import zlib

    import pyedge
    from pyedge import blob

    b = pyedge.pack_tflite((ROOT / "tests" / "models" / "tflm_micro_speech_quantized.tflite").read_bytes())
    assert fuzz.fix_checksum(b) == b
    bad = bytearray(b)
    bad[blob.HEADER.size + 3] ^= 0x10
    fixed = fuzz.fix_checksum(bytes(bad))
    assert fixed != bytes(bad) and fixed[blob.HEADER.size + 3] == bad[blob.HEADER.size + 3]
    zeroed = bytearray(fixed)
    zeroed[16:20] = b"\0\0\0\0"
    assert int.from_bytes(fixed[16:20], "little") == zlib.crc32(bytes(zeroed))
    with pytest.raises(pyedge.BlobError, match="PE_ERR_CHECKSUM"):
        pyedge.Interpreter(model_content=bytes(bad))
    try:
        pyedge.Interpreter(model_content=fixed)
    except pyedge.BlobError as e:  # a later check may refuse the damage; the checksum may not
        assert e.status != "PE_ERR_CHECKSUM"
    assert fuzz.fix_checksum(b[:100]) == b[:100]  # no complete header: left alone
    assert fuzz.fix_checksum(b[:-16]) == b[:-16]  # total_size past the data: left alone


def test_seeds_cover_the_real_models_and_every_op(tmp_path, replay_binary: Path) -> None:
    """Seeds: every supported real model, and single-op blobs so every kernel is reached; all of
    them run cleanly through the sanitized driver."""
    paths, notes = seeds.write_seeds(tmp_path, max_bytes=1 << 20)  # mobilenet is fuzzed, not replayed here
    names = {p.stem for p in paths}
    for m in ("tflm_micro_speech_quantized", "tflm_person_detect", "tflm_keyword_scrambled",
              "tflm_trained_lstm_int8"):
        assert m in names, notes
    from pyedge import blob
    from pyedge._native import op_names

    covered = set()
    for p in paths:
        covered |= {o["code"] for o in blob.read_blob(p.read_bytes()).ops}
    missing = sorted(op_names()[c] for c in set(op_names()) - covered)
    assert not missing, f"no seed blob runs {missing}; add single-op seeds in tools/fuzz/seeds.py"
    r = subprocess.run([str(replay_binary), *map(str, paths)], capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, UBSAN_OPTIONS="print_stacktrace=1"))
    assert r.returncode == 0, r.stderr[-4000:]
    assert r.stdout.count("ran ") == len(paths)


def _python_outcome(path: Path) -> subprocess.CompletedProcess:
    """Load and run a blob from a read-only mapping in a child Python (a crash must not take the
    test run down); prints the outcome."""
    code = textwrap.dedent(f"""
        import numpy as np, pyedge
        try:
            it = pyedge.Interpreter(model_path={str(path)!r})
        except pyedge.BlobError as e:
            assert e.status.startswith("PE_ERR_"), e
            print("rejected", e.status); raise SystemExit(0)
        if it.arena_size > 64 << 20:
            print("loaded"); raise SystemExit(0)
        it.allocate_tensors()
        rng = np.random.default_rng(0)
        for d in it.get_input_details():
            if d["dtype"] is None:
                continue
            x = np.frombuffer(rng.bytes(int(np.prod(d["shape"])) * np.dtype(d["dtype"]).itemsize), d["dtype"])
            try:
                it.set_tensor(d["index"], x.reshape(d["shape"]))
            except ValueError as e:
                print("input not settable:", e)
        try:
            it.invoke(); it.invoke()
            print("ran")
        except pyedge.InvokeError as e:
            assert e.status.startswith("PE_ERR_"), e
            print("invoke failed", e.status)
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("path", sorted(CRASHES.glob("*.peb")), ids=lambda p: p.stem)
def test_crash_reproducer(path: Path, replay_binary: Path, request) -> None:
    if path.name in KNOWN_BUGS:
        request.node.add_marker(pytest.mark.xfail(
            reason=KNOWN_BUGS[path.name] + " (once fixed, remove it from KNOWN_BUGS, "
            "tools/fuzz/known_issues.ignorelist and tests/fuzz_crashes/README.md)", strict=True))
    assert path.stat().st_size < 20_000, "keep reproducers small (minimize with -minimize_crash=1)"
    r = subprocess.run([str(replay_binary), str(path)], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, UBSAN_OPTIONS="print_stacktrace=1", ASAN_OPTIONS="detect_leaks=1"))
    assert r.returncode == 0, f"{path} under ASan+UBSan:\n{r.stderr[-4000:]}"
    data = path.read_bytes()
    assert fuzz.fix_checksum(data) == data, "store reproducers resealed (fuzz.fix_checksum), as the driver ran them"
    py = _python_outcome(path)
    assert py.returncode == 0, f"{path} in Python (exit {py.returncode}):\n{py.stdout}{py.stderr[-3000:]}"
    assert py.stdout.split()[0] in ("rejected", "loaded", "ran", "invoke", "input"), py.stdout


def test_reproducers_are_listed_in_the_readme() -> None:
    readme = (CRASHES / "README.md").read_text()
    for p in CRASHES.glob("*.peb"):
        assert p.name in readme, f"describe {p.name} in tests/fuzz_crashes/README.md"
    for name in KNOWN_BUGS:
        assert (CRASHES / name).exists(), name


# ---- libFuzzer ---------------------------------------------------------------------------------

def _libfuzzer() -> str:
    cc, why = fuzz.libfuzzer_status()
    if cc is None:
        pytest.skip(why)
    return cc


def test_harness_reports_a_crash(tmp_path) -> None:
    """run_fuzzer fails, with the reproducer and the sanitizer report, on a target that has a bug:
    so a green bounded run means the fuzzer found nothing, not that failures went unseen."""
    cc = _libfuzzer()
    src = tmp_path / "bug.c"
    src.write_text(textwrap.dedent("""
        #include <stdint.h>
        #include <stdlib.h>
        #include <string.h>
        int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
          if (n >= 4 && memcmp(d, "PEB1", 4) == 0) {
            char *p = malloc(4);
            p[n] = 1; /* heap overflow for every input past 3 bytes */
            free(p);
          }
          return 0;
        }
    """))
    binary = tmp_path / "bug"
    subprocess.run([cc, "-g", "-fsanitize=fuzzer,address,undefined", str(src), "-o", str(binary)], check=True)
    seed_dir = tmp_path / "seeds"
    seed_dir.mkdir()
    (seed_dir / "s").write_bytes(b"PEB1" + b"\0" * 60)
    res = fuzz.run_fuzzer(binary, tmp_path / "work", [seed_dir], seconds=20, timeout=5)
    assert not res.ok and res.returncode != 0
    assert res.artifacts and res.artifacts[0].read_bytes().startswith(b"PEB1")
    assert "AddressSanitizer: heap-buffer-overflow" in res.report
    assert str(res.artifacts[0]) in res.summary()


def test_libfuzzer_bounded_run(tmp_path) -> None:
    """Fuzz the blob loader for a bounded time from real blobs: nothing may crash."""
    seconds = int(os.environ.get("PYEDGE_FUZZ_SECONDS", "60"))
    if seconds <= 0:
        pytest.skip("PYEDGE_FUZZ_SECONDS=0")
    cc = _libfuzzer()
    binary = fuzz.build_fuzzer(ROOT / "build" / "fuzz", cc)
    paths, notes = seeds.write_seeds(tmp_path / "seeds")
    assert len(paths) >= 10, notes
    seed = int(os.environ.get("PYEDGE_FUZZ_SEED", "1"))  # fixed by default: CI runs are repeatable
    res = fuzz.run_fuzzer(binary, tmp_path, [tmp_path / "seeds"], seconds=seconds, timeout=10, seed=seed)
    print(f"\nfuzz_blob, {seconds} s, -seed={seed}: {res.summary()}")
    assert res.ok, f"the fuzzer found a bug (log {res.log}):\n{res.summary()}"
    assert res.execs > 100 and res.cov > 0, res.summary()
