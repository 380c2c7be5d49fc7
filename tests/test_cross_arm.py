"""Arm Linux under QEMU: the C kernel test (every microkernel against its scalar twin) and the
real models through the model runner, cross-built static for AArch64 and 32-bit ARMv7 (armhf)
with cmake/toolchains/*.cmake and run with qemu-user on Raspberry Pi-class CPUs:

  qemu-aarch64 -cpu cortex-a72   NEON, no dot product (Pi 4): an sdot here raises SIGILL
  qemu-aarch64 -cpu cortex-a76   NEON + dot product (Pi 5)
  qemu-aarch64 -cpu max          + i8mm
  qemu-arm     -cpu cortex-a7    ARMv7 + NEON (a Pi on a 32-bit OS)

The runner's output files must equal the host's outputs for the same blob and inputs, bit for
bit (the host's are checked against TFLite's reference kernels in test_models.py). The programs
are built once per test run under build/cross-<arch> (CMake rebuilds what changed).
tools/test.sh installs the compilers and QEMU; without them these tests skip, saying why.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

import pyedge
from models import model_path

ROOT = Path(__file__).resolve().parent.parent

# arch -> (toolchain file, compiler, qemu)
ARCHES = {
    "aarch64": ("aarch64-linux-gnu.cmake", "aarch64-linux-gnu-gcc", "qemu-aarch64"),
    "armhf": ("arm-linux-gnueabihf.cmake", "arm-linux-gnueabihf-gcc", "qemu-arm"),
}
# (arch, QEMU CPU model, the features pe_cpu_features() must detect there)
CPUS = [
    ("aarch64", "cortex-a72", {"neon"}),
    ("aarch64", "cortex-a76", {"neon", "dotprod"}),
    ("aarch64", "max", {"neon", "dotprod", "i8mm"}),
    ("armhf", "cortex-a7", {"neon"}),
]
# PYEDGE_ISA tiers and the features each leaves on the most capable CPU of the arch
TIERS = {
    "aarch64": [("scalar", set()), ("neon", {"neon"}), ("dotprod", {"neon", "dotprod"})],
    "armhf": [("scalar", set())],
}
# name -> invokes per input set (stateful models run several invokes)
MODELS = {
    "tflm_micro_speech_quantized": 1,
    "tflm_person_detect": 1,
    "tflm_mobilenet_v2_quantized_1x3x224x224": 1,
    "tflm_keyword_scrambled": 3,
    "tflm_trained_lstm_int8": 1,
    "tflm_dtln_noise_suppression": 3,
}
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed, (\d+) skipped$", re.M)


def _missing(arch: str) -> str | None:
    _, cc, qemu = ARCHES[arch]
    if shutil.which("cmake") is None:
        return "cmake not found"
    if shutil.which(cc) is None:
        return f"{cc} not found (tools/test.sh installs it: gcc-aarch64-linux-gnu / gcc-arm-linux-gnueabihf)"
    if shutil.which(qemu) is None:
        return f"{qemu} not found (tools/test.sh installs it: qemu-user)"
    r = subprocess.run([cc, "-E", "-x", "c", "-"], input="#include <string.h>\n", capture_output=True, text=True)
    if r.returncode != 0:
        return f"{cc} has no C library headers (libc6-dev-arm64-cross / libc6-dev-armhf-cross)"
    return None


_built: dict[str, Path] = {}


def cross_build(arch: str) -> Path:
    """build/cross-<arch> with pe_test_kernels and pe_run_model_file, built once per run."""
    reason = _missing(arch)
    if reason:
        pytest.skip(f"Arm cross test ({arch}) skipped: {reason}")
    if arch not in _built:
        toolchain, _, _ = ARCHES[arch]
        out = ROOT / "build" / f"cross-{arch}"
        if not (out / "CMakeCache.txt").exists():
            r = subprocess.run(["cmake", "-S", ROOT, "-B", out, "-DCMAKE_BUILD_TYPE=Release",
                                f"-DCMAKE_TOOLCHAIN_FILE={ROOT / 'cmake' / 'toolchains' / toolchain}"],
                               capture_output=True, text=True)
            assert r.returncode == 0, r.stdout + r.stderr
        r = subprocess.run(["cmake", "--build", out, "-j2", "--target", "pe_test_kernels", "pe_run_model_file"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
        warn = [ln for ln in (r.stdout + r.stderr).splitlines() if "warning:" in ln]
        assert not warn, "cross build warnings:\n" + "\n".join(warn)
        _built[arch] = out
    return _built[arch]


def qemu(arch: str, cpu: str, args: list, isa: str | None = None, **kw) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYEDGE_ISA", "PYEDGE_MAX_ISA", "QEMU_CPU")}
    if isa is not None:
        env["PYEDGE_ISA"] = isa
    return subprocess.run([ARCHES[arch][2], "-cpu", cpu, *map(str, args)], env=env, capture_output=True, **kw)


def features_line(text: str) -> set[str]:
    m = re.search(r"^features:(.*)$", text, re.M)
    assert m, text
    return set() if "none" in m.group(1) else set(m.group(1).split())


def check_kernel_run(r: subprocess.CompletedProcess, want_features: set[str], what: str) -> int:
    out = r.stdout
    assert r.returncode == 0, f"{what}: exit {r.returncode}\n{out[-3000:]}\n{r.stderr[-2000:]}"
    assert features_line(out) == want_features, f"{what}: detected {features_line(out)}, want {want_features}"
    m = SUMMARY.search(out)
    assert m, f"{what}: no summary line\n{out[-2000:]}"
    passed, failed, _ = map(int, m.groups())
    assert failed == 0 and passed > 0, f"{what}: {m.group(0)}"
    return passed


@pytest.mark.parametrize("arch,cpu,features", CPUS, ids=[f"{a}-{c}" for a, c, _ in CPUS])
def test_kernels_under_qemu(arch, cpu, features):
    out = cross_build(arch)
    r = qemu(arch, cpu, [out / "pe_test_kernels"], text=True)
    check_kernel_run(r, features, f"pe_test_kernels on {arch} -cpu {cpu}")
    # the variants needing what this CPU lacks are named as skipped, never run
    skipped = re.findall(r"^skipped (\S+): needs (\S+)", r.stdout, re.M)
    for name, feat in skipped:
        assert feat not in features, f"{name} skipped on {cpu}, which has {feat}"
    for name in re.findall(r"\b(pe_\w+__(?:neondot|neoni8mm))\b", r.stdout):
        feat = "dotprod" if name.endswith("__neondot") else "i8mm"
        if feat not in features:
            assert (name, feat) in skipped, f"{name} not skipped on {cpu}"


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_kernels_isa_tiers_under_qemu(arch):
    """PYEDGE_ISA caps the detected features on Arm as on x86 (each tier on the richest CPU)."""
    out = cross_build(arch)
    cpu = "max" if arch == "aarch64" else "cortex-a7"
    for tier, features in TIERS[arch]:
        r = qemu(arch, cpu, [out / "pe_test_kernels"], isa=tier, text=True)
        check_kernel_run(r, features, f"pe_test_kernels on {arch} -cpu {cpu} PYEDGE_ISA={tier}")


def test_kernel_test_fails_loudly_on_an_illegal_instruction():
    """The dispatch guard is real: a dot-product instruction on cortex-a72 kills the process,
    so a kernel test that ran a dot variant there could not print a passing summary."""
    reason = _missing("aarch64")
    if reason:
        pytest.skip(f"Arm cross test (aarch64) skipped: {reason}")
    src = "int main(void){__asm__ volatile(\"sdot v0.4s, v1.16b, v2.16b\");return 0;}"
    exe = ROOT / "build" / "cross-aarch64" / "sdot_probe"
    exe.parent.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["aarch64-linux-gnu-gcc", "-static", "-march=armv8.2-a+dotprod", "-x", "c", "-", "-o", exe],
                       input=src, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert qemu("aarch64", "cortex-a76", [exe]).returncode == 0
    assert qemu("aarch64", "cortex-a72", [exe]).returncode != 0


_host: dict[tuple[str, str], tuple[bytes, bytes, bytes]] = {}


def host_run(name: str, layouts: str) -> tuple[bytes, bytes, bytes]:
    """(blob, input bytes, the host's output bytes) for one real model packed with `layouts`:
    random inputs, every invoke's outputs in order, as pe_run_model writes them."""
    if (name, layouts) not in _host:
        invokes = MODELS[name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # person_detect's quantized_dimension warning
            blob = pyedge.pack_tflite(model_path(name).read_bytes(), layouts=layouts)
        it = pyedge.Interpreter(model_content=blob)
        it.allocate_tensors()
        rng = np.random.default_rng(7)
        ins, outs = bytearray(), bytearray()
        for _ in range(invokes):
            for d in it.get_input_details():
                info = np.iinfo(d["dtype"])
                x = rng.integers(info.min, info.max, size=tuple(d["shape"]), endpoint=True).astype(d["dtype"])
                it.set_tensor(d["index"], x)
                ins += x.tobytes()
            it.invoke()
            for d in it.get_output_details():
                outs += it.get_tensor(d["index"]).tobytes()
        _host[name, layouts] = (blob, bytes(ins), bytes(outs))
    return _host[name, layouts]


# "generic": TFLite's weight layouts (scalar conv, the generic-layout SIMD variants);
# "packed": every conv/FC in the packed GEMM layout, which the Arm GEMM microkernels read
@pytest.mark.parametrize("layouts", ["generic", "packed"])
@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("arch,cpu,features", CPUS, ids=[f"{a}-{c}" for a, c, _ in CPUS])
def test_models_bit_identical_under_qemu(arch, cpu, features, name, layouts, tmp_path):
    out = cross_build(arch)
    blob, ins, want = host_run(name, layouts)
    (tmp_path / "m.peb").write_bytes(blob)
    (tmp_path / "in.bin").write_bytes(ins)
    r = qemu(arch, cpu, [out / "pe_run_model_file", "-m", tmp_path / "m.peb", "-n", MODELS[name], "-i",
                         tmp_path / "in.bin", "-o", tmp_path / "out.bin", "-v"], text=True, timeout=600)
    assert r.returncode == 0, f"{name} on {arch} -cpu {cpu}: exit {r.returncode}\n{r.stderr[-3000:]}"
    got = (tmp_path / "out.bin").read_bytes()
    assert len(got) == len(want), f"{name} on {arch} -cpu {cpu}: {len(got)} output bytes, host {len(want)}"
    diff = np.flatnonzero(np.frombuffer(got, np.uint8) != np.frombuffer(want, np.uint8))
    variants = sorted(set(re.findall(r"^pe_run_model: op \d+ \w+: (\S+)$", r.stderr, re.M)))
    assert diff.size == 0, (f"{name} on {arch} -cpu {cpu}: {diff.size} output bytes differ from the host's "
                            f"(first at byte {diff[0]}); variants run: {variants}")
    # the kernels that ran are ones this CPU has
    for v in variants:
        if v.endswith("__neondot"):
            assert "dotprod" in features, f"{v} ran on {cpu}"
        if v.endswith("__neoni8mm"):
            assert "i8mm" in features, f"{v} ran on {cpu}"


def test_gemm_instruction_counts_bare_metal():
    """tools/arm_icount.py: the AArch64 GEMM microkernels bare metal under qemu-system-aarch64
    -icount (every path's output equals the scalar twin's, or the program exits non-zero)."""
    reason = _missing("aarch64")
    if reason or shutil.which("qemu-system-aarch64") is None:
        pytest.skip(f"bare-metal AArch64 count skipped: {reason or 'qemu-system-aarch64 not found (qemu-system-arm)'}")
    import sys
    r = subprocess.run([sys.executable, ROOT / "tools" / "arm_icount.py", "--cpu", "max"], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    got = dict(re.findall(r"^max\s+(\S+)\s+\S+\s+\d+ instructions\s+([\d.]+) MACs", r.stdout, re.M))
    assert set(got) == {"gemm_1x16c4__scalar", "gemm_2x16c4__neon", "gemm_4x16c4__neondot",
                        "gemm_4x16c4__neoni8mm"}, r.stdout
    # the dot-product path needs at least 2x fewer instructions than plain NEON (issue target)
    assert float(got["gemm_4x16c4__neondot"]) >= 2 * float(got["gemm_2x16c4__neon"]), r.stdout


def test_whole_model_instruction_counts_bare_metal():
    """tools/arm_icount.py --models: person detection packed for the Pi's kernels, linked into a
    bare-metal ELF and run under qemu-system-aarch64 -cpu max -icount on every AArch64 path, and
    under qemu-system-arm -cpu cortex-a7 on the ARMv7 ones: each path's outputs equal the host's
    bit for bit, and the counts fall as the paths get wider."""
    reason = _missing("aarch64") or _missing("armhf")
    if reason or shutil.which("qemu-system-aarch64") is None or shutil.which("qemu-system-arm") is None:
        pytest.skip(f"bare-metal Arm count skipped: {reason or 'qemu-system-aarch64/-arm not found (qemu-system-arm)'}")
    import sys
    r = subprocess.run([sys.executable, ROOT / "tools" / "arm_icount.py", "--models", "tflm_person_detect"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = re.findall(r"^tflm_person_detect\s+(.+?)\s+([\d,]+) instructions .* outputs (= host|DIFFER)", r.stdout, re.M)
    got = {label: int(n.replace(",", "")) for label, n, _ in rows}
    assert [o for _, _, o in rows] == ["= host"] * 8, r.stdout
    assert (got["scalar kernels, TFLite's layouts"] > got["NEON"] > got["NEON + dot product"]
            >= got["NEON + dot + i8mm"]), got
    v7 = "ARMv7 (cortex-a7): "
    assert got[v7 + "scalar kernels, TFLite's layouts"] > 2 * got[v7 + "NEON"], got
