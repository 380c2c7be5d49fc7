#!/usr/bin/env python3
"""Instruction counts of the AArch64 int8 GEMM microkernels, bare metal under QEMU.

Builds native/bench/a64/icount_gemm.c with the kernels of native/sources.txt (each with its own
flags) as a freestanding ELF and runs it with
  qemu-system-aarch64 -M virt -cpu CPU -icount shift=0,align=off,sleep=off
where CNTVCT_EL0 counts instructions (16 a tick). These are instruction counts, not cycles,
and they are deterministic. Prints each path's MACs per instruction on each CPU model.

  python3 tools/arm_icount.py [--cpu cortex-a72 --cpu cortex-a76 --cpu max] [--markdown]
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpu", action="append", help="QEMU CPU model (repeatable)")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    for tool in (CC, "qemu-system-aarch64"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found (tools/test.sh installs gcc-aarch64-linux-gnu and qemu-system-arm)")
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
