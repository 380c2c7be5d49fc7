"""Build and run the blob-loader fuzzer (native/tests/fuzz_blob.c).

    python tools/fuzz/fuzz.py run [--time 60] [--timeout 10] [--workdir build/fuzz]
    python tools/fuzz/fuzz.py build [--workdir build/fuzz] [--strict]
    python tools/fuzz/fuzz.py replay FILE...        # sanitized replay, gcc or clang, no libFuzzer
    python tools/fuzz/fuzz.py seeds DIR

`run` builds the libFuzzer target with clang (-fsanitize=fuzzer,address,undefined
-fno-sanitize-recover=all) over every native/src/*.c and native/kernels/*.c, writes seed blobs
(tools/fuzz/seeds.py) and fuzzes for a bounded time. Exit status 0: no crash, sanitizer report,
leak or timeout; 1: libFuzzer found one (the reproducer's path and the report tail are printed);
2: the fuzzer could not be built or run.

Known, reported UBSan findings that are not fixed yet can be listed in
tools/fuzz/known_issues.ignorelist (clang's -fsanitize-ignorelist) so a bounded run keeps looking
for new bugs; each has a reproducer in tests/fuzz_crashes/ with an xfail test, so the failure
stays visible. `--strict` builds without the list.

The driver recomputes each input's CRC-32 before pe_model_init (see fuzz_blob.c): a fuzzer
reproducer is therefore NOT a valid blob as stored; `fix_checksum()` makes it one.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path as _P

sys.path.insert(0, str(_P(__file__).resolve().parents[2] / "pyedge"))
import _manifest  # noqa: E402
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NATIVE = ROOT / "native"
DRIVER = NATIVE / "tests" / "fuzz_blob.c"
IGNORELIST = Path(__file__).resolve().parent / "known_issues.ignorelist"
SAN = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
CHECKSUM_OFFSET = 16  # pe_header.checksum
TOTAL_SIZE_OFFSET = 12  # pe_header.total_size
HEADER_SIZE = 128


def core_sources() -> list[Path]:
    """The C core's sources: the same set CMake and the cffi build compile."""
    return _manifest.core_sources()


def _includes() -> list[str]:
    return [f"-I{d}" for d in _manifest.include_dirs()] + [_manifest.SCALAR_ONLY]


def fix_checksum(data: bytes) -> bytes:
    """What the fuzz driver does to each input: recompute the header CRC-32 over total_size bytes
    (when the header is complete and total_size fits the data); other inputs are unchanged."""
    if len(data) < HEADER_SIZE:
        return data
    (total,) = struct.unpack_from("<I", data, TOTAL_SIZE_OFFSET)
    if total < CHECKSUM_OFFSET + 4 or total > len(data):
        return data
    out = bytearray(data)
    struct.pack_into("<I", out, CHECKSUM_OFFSET, 0)
    struct.pack_into("<I", out, CHECKSUM_OFFSET, zlib.crc32(bytes(out[:total])) & 0xFFFFFFFF)
    return bytes(out)


def find_clang() -> str | None:
    """clang from $PYEDGE_FUZZ_CC, else `clang` or a versioned clang on PATH."""
    env = os.environ.get("PYEDGE_FUZZ_CC")
    if env:
        return shutil.which(env)
    for name in ["clang"] + [f"clang-{v}" for v in range(20, 13, -1)]:
        path = shutil.which(name)
        if path:
            return path
    return None


def libfuzzer_status(cc: str | None = None) -> tuple[str | None, str]:
    """(clang path, "") when clang can link a libFuzzer+ASan+UBSan program, else (None, why)."""
    cc = cc or find_clang()
    if cc is None:
        return None, "clang not found (tools/test.sh installs it: apt-get install clang libclang-rt-14-dev)"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "t.c"
        src.write_text("#include <stdint.h>\n#include <stddef.h>\n"
                       "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return 0; }\n")
        r = subprocess.run([cc, "-fsanitize=fuzzer,address,undefined", str(src), "-o", str(Path(tmp) / "t")],
                           capture_output=True, text=True)
        if r.returncode != 0:
            return None, (f"{cc} cannot link -fsanitize=fuzzer,address,undefined (missing compiler-rt, "
                          f"e.g. Debian's libclang-rt-14-dev): {r.stderr.strip()[-300:]}")
    return cc, ""


def _newer(out: Path, inputs: list[Path]) -> bool:
    return out.exists() and all(out.stat().st_mtime >= p.stat().st_mtime for p in inputs)


def build_fuzzer(workdir: Path, cc: str | None = None, known_issues: bool = True) -> Path:
    """Compile the libFuzzer target into WORKDIR (skipped when up to date); returns the binary.
    With known_issues=False, tools/fuzz/known_issues.ignorelist is not applied."""
    cc_path, why = libfuzzer_status(cc)
    if cc_path is None:
        raise RuntimeError(why)
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / ("fuzz_blob" if known_issues else "fuzz_blob_strict")
    headers = list(NATIVE.glob("*/*.h")) + [NATIVE / "ops.def"]
    deps = [DRIVER, *core_sources(), *headers] + ([IGNORELIST] if known_issues else [])
    if _newer(out, deps):
        return out
    cmd = [cc_path, "-std=c99", "-g", "-O1", "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=all",
           "-fno-omit-frame-pointer", *_includes()]
    if known_issues and IGNORELIST.exists():
        cmd.append(f"-fsanitize-ignorelist={IGNORELIST}")
    cmd += [str(DRIVER), *map(str, core_sources()), "-lm", "-o", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"building the fuzzer failed:\n{' '.join(cmd)}\n{r.stderr[-3000:]}")
    return out


def build_replay(workdir: Path, cc: str = "gcc") -> Path:
    """Compile fuzz_blob.c with a main() (FUZZ_STANDALONE_MAIN) under ASan+UBSan with an ordinary
    compiler (gcc by default, no libFuzzer needed): `replay FILE...` runs each file once. No
    ignorelist applies: a reproducer of a known bug still fails here."""
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / f"fuzz_blob_replay_{Path(cc).name}"
    headers = list(NATIVE.glob("*/*.h")) + [NATIVE / "ops.def"]
    if _newer(out, [DRIVER, *core_sources(), *headers]):
        return out
    cmd = [cc, "-std=c99", "-g", "-O1", *SAN, "-DFUZZ_STANDALONE_MAIN", *_includes(), str(DRIVER),
           *map(str, core_sources()), "-lm", "-o", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"building the replay binary failed:\n{' '.join(cmd)}\n{r.stderr[-3000:]}")
    return out


@dataclass
class FuzzResult:
    """Outcome of one bounded libFuzzer run."""

    returncode: int
    execs: int = 0
    exec_per_sec: int = 0
    cov: int = 0
    features: int = 0
    corpus_files: int = 0
    new_units: int = 0
    artifacts: list[Path] = field(default_factory=list)
    log: Path | None = None
    report: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.artifacts

    def summary(self) -> str:
        s = (f"execs {self.execs} ({self.exec_per_sec}/s), cov {self.cov}, ft {self.features}, "
             f"corpus {self.corpus_files} files, new units {self.new_units}, exit {self.returncode}")
        if not self.ok:
            s += "\nFAILED: " + (", ".join(map(str, self.artifacts)) or "no reproducer written") + "\n" + self.report
        return s


def _parse_log(text: str, res: FuzzResult) -> None:
    stat = dict(re.findall(r"^stat::(\w+):\s+(\d+)", text, re.M))
    res.execs = int(stat.get("number_of_executed_units", 0))
    res.exec_per_sec = int(stat.get("average_exec_per_sec", 0))
    res.new_units = int(stat.get("new_units_added", 0))
    lines = re.findall(r"^#\d+\s+\w+\s+cov: (\d+) ft: (\d+)", text, re.M)
    if lines:
        res.cov, res.features = map(int, lines[-1])


def run_fuzzer(binary: Path, workdir: Path, seed_dirs: list[Path], seconds: int = 60, timeout: int = 10,
               rss_limit_mb: int = 2048, seed: int | None = None, extra: list[str] | None = None) -> FuzzResult:
    """Fuzz for `seconds` (libFuzzer -max_total_time) starting from WORKDIR/corpus plus the seed
    directories; reproducers go to WORKDIR/artifacts/. Any crash, sanitizer report, leak, OOM or
    per-input timeout makes the result not ok. `seed` fixes libFuzzer's random seed (-seed)."""
    corpus = workdir / "corpus"
    artifacts = workdir / "artifacts"
    corpus.mkdir(parents=True, exist_ok=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    before = set(artifacts.iterdir())
    log = workdir / "fuzz.log"
    cmd = [str(binary), f"-max_total_time={seconds}", f"-timeout={timeout}", f"-rss_limit_mb={rss_limit_mb}",
           f"-artifact_prefix={artifacts}/", "-print_final_stats=1",
           *([f"-seed={seed}"] if seed is not None else []), *(extra or []), str(corpus),
           *map(str, seed_dirs)]
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:allocator_may_return_null=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    with open(log, "w") as f:
        f.write(" ".join(cmd) + "\n")
        f.flush()
        try:
            rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env,
                                timeout=seconds + 4 * timeout + 120).returncode
        except subprocess.TimeoutExpired:
            rc = -1
    text = log.read_text(errors="replace")
    res = FuzzResult(rc, log=log, artifacts=sorted(set(artifacts.iterdir()) - before))
    res.corpus_files = sum(1 for _ in corpus.iterdir())
    _parse_log(text, res)
    if not res.ok:
        m = re.search(r"^(==\d+==ERROR|.*runtime error:|ALARM: working on the last Unit|==\d+== ERROR: libFuzzer)",
                      text, re.M)
        start = m.start() if m else max(0, len(text) - 4000)
        res.report = text[start:start + 4000]
        if rc == -1:
            res.report = "the fuzzer did not stop by itself\n" + res.report
    return res


def replay(files: list[Path], workdir: Path, cc: str = "gcc") -> subprocess.CompletedProcess:
    """Run files through the sanitized standalone driver (same checksum fix-up as the fuzzer)."""
    binary = build_replay(workdir, cc)
    env = dict(os.environ, UBSAN_OPTIONS="print_stacktrace=1", ASAN_OPTIONS="detect_leaks=1")
    return subprocess.run([str(binary), *map(str, files)], capture_output=True, text=True, env=env, timeout=600)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="fuzz.py", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the libFuzzer target")
    r = sub.add_parser("run", help="build, write seeds and fuzz for a bounded time")
    for p in (b, r):
        p.add_argument("--workdir", type=Path, default=ROOT / "build" / "fuzz")
        p.add_argument("--strict", action="store_true",
                       help="also stop on known, reported issues (without known_issues.ignorelist)")
    r.add_argument("--time", type=int, default=60, help="seconds of fuzzing (-max_total_time)")
    r.add_argument("--timeout", type=int, default=10, help="seconds one input may take (-timeout)")
    r.add_argument("--max-seed-bytes", type=int, default=None, help="leave out bigger seed blobs")
    r.add_argument("--seed", type=int, default=None, help="libFuzzer's random seed (default: random)")
    r.add_argument("libfuzzer_args", nargs="*", help="extra libFuzzer flags (after --)")
    p = sub.add_parser("replay", help="run files through the ASan+UBSan driver without libFuzzer")
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--workdir", type=Path, default=ROOT / "build" / "fuzz")
    p.add_argument("--cc", default="gcc")
    s = sub.add_parser("seeds", help="write the seed blobs into a directory")
    s.add_argument("directory", type=Path)
    a = ap.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        if a.cmd == "build":
            print(build_fuzzer(a.workdir, known_issues=not a.strict))
            return 0
        if a.cmd == "replay":
            cp = replay(a.files, a.workdir, a.cc)
            sys.stdout.write(cp.stdout)
            sys.stderr.write(cp.stderr[-6000:])
            return 0 if cp.returncode == 0 else 1
        import seeds

        if a.cmd == "seeds":
            paths, notes = seeds.write_seeds(a.directory)
            print(f"{len(paths)} seeds in {a.directory}")
            for n in notes:
                print("note:", n)
            return 0
        binary = build_fuzzer(a.workdir, known_issues=not a.strict)
        paths, notes = seeds.write_seeds(a.workdir / "seeds", max_bytes=a.max_seed_bytes)
        print(f"fuzzing {binary} for {a.time} s from {len(paths)} seeds")
        for n in notes:
            print("note:", n)
        res = run_fuzzer(binary, a.workdir, [a.workdir / "seeds"], a.time, a.timeout, seed=a.seed,
                         extra=a.libfuzzer_args)
    except RuntimeError as exc:
        print(f"fuzz.py: {exc}", file=sys.stderr)
        return 2
    print(res.summary())
    print(f"log: {res.log}")
    return 0 if res.ok else 1


if __name__ == "__main__":
    sys.exit(main())
