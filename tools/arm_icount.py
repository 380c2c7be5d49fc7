#!/usr/bin/env python3
"""Instruction counts of the AArch64 int8 GEMM microkernels, bare metal under QEMU.

Builds native/bench/a64/icount_gemm.c with the kernels of native/sources.txt (each with its own
flags) as a freestanding ELF and runs it with
  qemu-system-aarch64 -M virt -cpu CPU -icount shift=0,align=off,sleep=off
where CNTVCT_EL0 counts instructions (16 a tick). These are instruction counts, not cycles,
and they are deterministic. Prints each path's MACs per instruction on each CPU model.

  python3 tools/arm_icount.py [--cpu cortex-a72 --cpu cortex-a76 --cpu max] [--markdown]

With --models it counts whole models instead (native/bench/a64/icount_model.c): each model is
packed for the Pi's kernels (`pack --target neon --format c`) and linked into a bare-metal ELF
with the core; on `-cpu max` one invoke runs on every path (the layout's scalar twin, NEON, NEON
dot product, i8mm), and once more from TFLite's generic layouts on the scalar kernels. Per path:
instructions per inference, MACs per instruction, the top ops; every path's outputs are compared
with the host's (pyedge on x86, itself bit-exact with TFLite's reference kernels).

The same models also run bare metal on 32-bit Arm (ARMv7-A with NEON, the Pi on a 32-bit OS):
built with arm-linux-gnueabihf-gcc (native/bench/a32/start.S) and run under qemu-system-arm
-M virt -cpu cortex-a7 -icount shift=0, on the scalar and NEON paths.

  python3 tools/arm_icount.py --models [MODEL ...] [--arch aarch64|armv7 ...] [--markdown]
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import numpy as np  # noqa: E402

from pyedge._manifest import include_dirs, sources  # noqa: E402

CC = "aarch64-linux-gnu-gcc"
FLAGS = ["-O3", "-nostdlib", "-static"]  # kernels as CMake Release builds them (hosted: memcpy inlined)
KERNELS = ("qs8_gemm_scalar.c", "qs8_gemm_neon.c", "qs8_gemm_neondot.c", "qs8_gemm_neoni8mm.c")
# the ideal MACs per instruction of each path's inner loop: SMULL (8 MACs) needs its SADALP;
# one SDOT/SUDOT is 16 MACs. The scalar twin has none (GCC -O3 vectorizes it in part).
IDEAL = {"scalar": None, "neon": 4, "neondot": 16, "neoni8mm": 16}


def build(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    inc = [f"-I{d}" for d in include_dirs()]
    files = {p.name: (p, f) for p, f in sources({"all", "hosted", "aarch64"})}
    objs = []
    for name in KERNELS:
        src, flags = files[name]
        objs.append(out / (src.stem + ".o"))
        subprocess.run([CC, *FLAGS, *flags, *inc, "-c", src, "-o", objs[-1]], check=True)
    bench = ROOT / "native" / "bench" / "a64"
    elf = out / "icount_gemm.elf"
    subprocess.run([CC, *FLAGS, "-ffreestanding", *inc, "-T", bench / "link.ld", "-Wl,--no-warn-rwx-segments", bench / "start.S",
                    bench / "icount_gemm.c", *objs, "-lgcc", "-o", elf], check=True)
    return elf


def run(elf: Path, cpu: str) -> list[dict]:
    r = subprocess.run(["qemu-system-aarch64", "-M", "virt", "-cpu", cpu, "-nic", "none", "-nographic",
                        "-icount", "shift=0,align=off,sleep=off", "-semihosting-config", "enable=on,target=native",
                        "-kernel", elf], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise SystemExit(f"{cpu}: exit {r.returncode}\n{r.stdout}{r.stderr}")
    rows = []
    for m in re.finditer(r"^gemm (\S+) rows (\d+) oc (\d+) k (\d+) macs (\d+) instructions (\d+)", r.stdout, re.M):
        name, rows_, oc, k, macs, instr = m.group(1), *map(int, m.groups()[1:])
        rows.append({"cpu": cpu, "kernel": name, "shape": f"{rows_}x{oc}x{k}", "macs": macs, "instructions": instr})
    return rows


MODELS = ["tflm_person_detect", "tflm_micro_speech_quantized", "tflm_mobilenet_v2_quantized_1x3x224x224"]
PATHS = {"scalar": "scalar twin of the packed layout", "neon": "NEON", "neondot": "NEON + dot product",
         "neoni8mm": "NEON + dot + i8mm"}
# Whole models run on both Arm A-profile architectures: (compiler, its flags, manifest tags, QEMU,
# machine CPU, label prefix). ARMv7 takes the core's `all` files and the NEON files Linux builds
# get (`arm,hosted`, -mfpu=neon), not the pthread pool and clock of the other hosted files.
ARCHS = {
    "aarch64": ("aarch64-linux-gnu-gcc", [], {"all", "aarch64"}, "qemu-system-aarch64", "max", "",
                ROOT / "native" / "bench" / "a64" / "start.S"),
    "armv7": ("arm-linux-gnueabihf-gcc", ["-march=armv7-a", "-mfpu=neon", "-mfloat-abi=hard", "-marm"],
              {"all", "arm"}, "qemu-system-arm", "cortex-a7", "ARMv7 (cortex-a7): ",
              ROOT / "native" / "bench" / "a32" / "start.S"),
}


def _arch_sources(arch: str) -> list[tuple[Path, list[str]]]:
    tags = ARCHS[arch][2]
    out = sources(tags)
    if arch == "armv7":
        out += [(p, f) for p, f in sources({"all", "arm", "hosted"}) if "-mfpu=neon" in f]
    return out


def _core_objects(out: Path, arch: str = "aarch64") -> list[Path]:
    """The core for bare-metal AArch64 (every `all` and `aarch64` file, as CMake's Release),
    integer-only (PE_NO_FLOAT_KERNELS: no libm here). Compiled hosted, as the Linux build is, so
    that GCC inlines the small fixed-size memcpy of unaligned loads; freestanding, each would be a
    call to a64_support.h's byte loop, counted against the kernels (1x1 convolutions with few
    input channels took 2.8x their instructions)."""
    inc = [f"-I{d}" for d in include_dirs()]
    objs = []
    out.mkdir(parents=True, exist_ok=True)
    headers = max(h.stat().st_mtime for h in (ROOT / "native").rglob("*.h"))
    cc, aflags = ARCHS[arch][0], ARCHS[arch][1]
    for src, flags in _arch_sources(arch):
        obj = out / (src.stem + ".o")
        if not obj.exists() or obj.stat().st_mtime < max(src.stat().st_mtime, headers):
            subprocess.run([cc, *aflags, "-O3", "-fno-stack-protector", "-DPE_NO_FLOAT_KERNELS", *flags, *inc,
                            "-c", src, "-o", obj],
                           check=True)
        objs.append(obj)
    return objs


def build_model(name: str, out: Path, layouts: str, arch: str = "aarch64") -> tuple[Path, list[np.ndarray], int]:
    """A bare-metal ELF running model `name` (tests/models) packed for the Pi's NEON kernels
    (layouts "auto") or with TFLite's layouts ("generic"); returns it, the inputs and the MACs."""
    import pyedge
    from pyedge.cformat import write_c
    from pyedge.inspector import inspect_model

    raw = (ROOT / "tests" / "models" / f"{name}.tflite").read_bytes()
    blob = pyedge.pack_tflite(raw, target="neon", layouts=layouts)
    d = out / (f"{name}-{layouts}" + ("" if arch == "aarch64" else f"-{arch}"))
    d.mkdir(parents=True, exist_ok=True)
    write_c(blob, d / "model_data.h", "net", source=f"{name}.tflite")
    it = pyedge.Interpreter(model_content=blob)
    it.allocate_tensors()
    rng = np.random.default_rng(0)
    xs = [rng.integers(np.iinfo(x["dtype"]).min, np.iinfo(x["dtype"]).max, size=x["shape"], dtype=x["dtype"],
                       endpoint=True) for x in it.get_input_details()]
    data = b"".join(x.tobytes() for x in xs)
    (d / "input.h").write_text("static const unsigned char pe_bench_input[] = {"
                               + ",".join(str(b) for b in data) + "};\n")
    bench = ROOT / "native" / "bench" / "a64"
    inc = [f"-I{p}" for p in include_dirs()] + [f"-I{d}", f"-I{ROOT / 'native' / 'tests'}"]
    elf = d / "icount_model.elf"
    cc, aflags, start = ARCHS[arch][0], ARCHS[arch][1], ARCHS[arch][6]
    core = out / ("core-int" if arch == "aarch64" else f"core-int-{arch}")
    subprocess.run([cc, *aflags, "-O3", "-ffreestanding", "-nostdlib", "-static", "-fno-stack-protector",
                    "-DPE_NO_FLOAT_KERNELS", *inc,
                    '-DPE_MODEL_HEADER="model_data.h"', "-DPE_MODEL_PREFIX=NET", '-DPE_INPUT_HEADER="input.h"',
                    "-T", bench / "link.ld", "-Wl,--no-warn-rwx-segments", start,
                    bench / "icount_model.c", *_core_objects(core, arch), "-lgcc", "-o", elf], check=True)
    return elf, xs, inspect_model(blob)["totals"]["macs"]


def run_model(elf: Path, cpu: str = "max", arch: str = "aarch64") -> dict:
    """{path: {"instructions", "ops": [...], "out": bytes}} of one run of icount_model.elf."""
    r = subprocess.run([ARCHS[arch][3], "-M", "virt", "-m", "1024", "-cpu", cpu, "-nic", "none",
                        "-nographic", "-icount", "shift=0,align=off,sleep=off",
                        "-semihosting-config", "enable=on,target=native", "-kernel", elf],
                       capture_output=True, text=True, timeout=1200)
    if r.returncode != 0:
        raise SystemExit(f"{elf.name} on {cpu}: exit {r.returncode}\n{r.stdout[-2000:]}{r.stderr}")
    paths: dict[str, dict] = {}
    cur = None
    for line in r.stdout.splitlines():
        f = line.split()
        if f[:1] == ["path"]:
            cur = paths[f[1]] = {"features": int(f[3]), "instructions": int(f[5]), "ops": []}
        elif f[:1] == ["op"] and cur is not None:
            cur["ops"].append(int(f[2]))
        elif f[:1] == ["out"] and cur is not None:
            cur["out"] = bytes.fromhex(f[1] if len(f) > 1 else "")
    return paths


def host_outputs(name: str, xs: list[np.ndarray]) -> bytes:
    import pyedge

    it = pyedge.Interpreter(model_path=str(ROOT / "tests" / "models" / f"{name}.tflite"))
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), xs):
        it.set_tensor(d["index"], x)
    it.invoke()
    return b"".join(it.get_tensor(d["index"]).tobytes() for d in it.get_output_details())


def main_models(names: list[str], markdown: bool, archs: tuple[str, ...] = ("aarch64", "armv7")) -> int:
    from pyedge.inspector import inspect_model

    out = ROOT / "build" / "icount-models"
    status = 0
    if markdown:
        print("| model | MACs | path | instructions | MACs/instruction | scalar / this | top ops (share of instructions) |")
        print("|---|---|---|---|---|---|---|")
    for name, arch in [(n, a) for n in names for a in archs]:
        rows = []
        for layouts in ("generic", "auto"):
            elf, xs, macs = build_model(name, out, layouts, arch)
            want = host_outputs(name, xs)
            import pyedge

            blob = pyedge.pack_tflite((ROOT / "tests" / "models" / f"{name}.tflite").read_bytes(), target="neon",
                                      layouts=layouts)
            ops = inspect_model(blob)["ops"]
            for path, res in run_model(elf, ARCHS[arch][4], arch).items():
                if layouts == "generic" and path != "scalar":
                    continue  # generic layouts: the SIMD rows read packed layouts; the same scalar kernels
                label = ARCHS[arch][5] + ("scalar kernels, TFLite's layouts" if layouts == "generic" else PATHS[path])
                ok = res.get("out") == want
                status |= not ok
                tot = res["instructions"]
                top = sorted(range(len(res["ops"])), key=lambda i: -res["ops"][i])[:3]
                tops = ", ".join(f"{ops[i]['tflite_op']} #{i} {100 * res['ops'][i] / tot:.0f}%" for i in top)
                rows.append((label, tot, macs, tops, ok))
        base = rows[0][1]
        for label, tot, macs, tops, ok in rows:
            flag = "" if ok else " OUTPUT MISMATCH"
            if markdown:
                print(f"| {name} | {macs / 1e6:.1f} M | {label}{flag} | {tot:,} | {macs / tot:.2f} | "
                      f"{base / tot:.1f}x | {tops} |")
            else:
                print(f"{name:42s} {label:34s} {tot:>13,d} instructions {macs / tot:6.2f} MACs/instruction "
                      f"scalar/this {base / tot:4.1f}x  outputs {'= host' if ok else 'DIFFER'}  top: {tops}")
    return status


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpu", action="append", help="QEMU CPU model (repeatable)")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--arch", action="append", choices=sorted(ARCHS),
                    help="with --models: the architectures to count (repeatable; default both)")
    ap.add_argument("--models", nargs="*", metavar="MODEL",
                    help="count whole models (default: " + ", ".join(MODELS) + ")")
    a = ap.parse_args()
    for tool in (CC, "qemu-system-aarch64"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found (tools/test.sh installs gcc-aarch64-linux-gnu and qemu-system-arm)")
    if a.models is not None:
        archs = tuple(a.arch or ["aarch64", "armv7"])
        for arch in archs:
            for tool in (ARCHS[arch][0], ARCHS[arch][3]):
                if shutil.which(tool) is None:
                    raise SystemExit(f"{tool} not found (tools/test.sh installs gcc-aarch64-linux-gnu, "
                                     "gcc-arm-linux-gnueabihf and qemu-system-arm)")
        sys.exit(main_models(a.models or MODELS, a.markdown, archs))
    elf = build(ROOT / "build" / "icount")
    rows = [r for cpu in (a.cpu or ["cortex-a72", "cortex-a76", "max"]) for r in run(elf, cpu)]
    if a.markdown:
        print("| CPU (QEMU) | microkernel | GEMM rows x oc x k | instructions | MACs/instruction | ideal of the path |")
        print("|---|---|---|---|---|---|")
    for r in rows:
        isa = r["kernel"].rsplit("__", 1)[1]
        mpi = r["macs"] / r["instructions"]
        if a.markdown:
            print(f"| {r['cpu']} | `{r['kernel']}` | {r['shape']} | {r['instructions']:,} | {mpi:.2f} | {IDEAL[isa] or '-'} |")
        else:
            print(f"{r['cpu']:11s} {r['kernel']:24s} {r['shape']:10s} {r['instructions']:>10d} instructions"
                  f"  {mpi:5.2f} MACs/instruction (ideal {IDEAL[isa] or '-'})")


if __name__ == "__main__":
    main()
