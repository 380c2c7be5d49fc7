"""Runs a model bare metal on a QEMU Cortex-M board: packs it as C (`pyedge pack --format c`),
links native/tests/pe_mcu_run_model.c around it with boards/platform/build.py, places the inputs
in the runner's `.noinit` block with QEMU's `-device loader` and parses the UART lines (outputs,
whole-invoke and per-op clock ticks). Used by tests/test_cross_mcu.py and tools/mcu_icount.py.
"""
from __future__ import annotations

import hashlib
import re
import struct
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import build as mcu

ROOT = mcu.ROOT
RUNNER = ROOT / "native" / "tests" / "pe_mcu_run_model.c"
IO_MAGIC = 0x4F494550


@dataclass
class RunResult:
    board: str
    outputs: list[bytes]                     # per invoke: every output's bytes in order
    invoke_ticks: list[int]                  # per invoke, with no per-op hook
    ops: list[tuple[str, str, int]] = field(default_factory=list)  # (op, variant, ticks)
    clock: str = ""
    clock_hz: int = 0
    arena_bytes: int = 0
    blob_bytes: int = 0
    stdout: str = ""
    features: set = field(default_factory=set)  # what the kernels may use

    def instructions(self, ticks: int) -> float:
        """SysTick ticks -> instructions under -icount shift=0 (1 instruction per ns)."""
        return ticks * 1e9 / self.clock_hz


def firmware(board: str, blob: bytes, name: str, opt: str = "O2", core=None, defines=(),
             op_list_of: bytes | None = None) -> tuple[Path, list[str]]:
    """The runner linked around `blob` (a C header from pyedge.cformat), built under
    build/mcu-<board>-<opt>/models/<name>-<hash>/; returns (elf, warnings). With `op_list_of`
    (a blob: `blob` itself, or another for a negative test) the core keeps only that blob's ops
    and layouts (pyedge pack --op-list)."""
    from pyedge.cformat import write_c, write_op_list
    digest = hashlib.sha1(blob + repr((core, defines)).encode() + (b"ops" + op_list_of if op_list_of else b"")
                          ).hexdigest()[:10]
    d = mcu.out_dir(board, opt) / "models" / f"{name}-{digest}"
    d.mkdir(parents=True, exist_ok=True)
    header = d / "model_data.h"
    if not header.exists():
        write_c(blob, header, "model", source=name)
    op_list = None
    if op_list_of is not None:
        op_list = d / "model_ops.h"
        if not op_list.exists():
            write_op_list(op_list_of, op_list, source=name)
    elf = d / "run_model.elf"
    return mcu.build(board, [RUNNER], elf, opt,
                     ['-DPE_MODEL_HEADER="model_data.h"', "-DPE_MODEL_PREFIX=MODEL", *defines],
                     core=core, extra_includes=[d], op_list=op_list)


def io_block(inputs: bytes, invokes: int, features_off: int = 0) -> bytes:
    return struct.pack("<IIII", IO_MAGIC, invokes, len(inputs), features_off) + inputs


def parse(board: str, text: str) -> RunResult:
    res = RunResult(board, [], [], stdout=text)
    m = re.search(r"^clock (\w+) (\d+)$", text, re.M)
    if m:
        res.clock, res.clock_hz = m.group(1), int(m.group(2))
    for key in ("arena", "blob"):
        m = re.search(rf"^{key} (\d+)$", text, re.M)
        if m:
            setattr(res, f"{key}_bytes", int(m.group(1)))
    m = re.search(r"^features:(.*)$", text, re.M)
    if m:
        res.features = set() if "none" in m.group(1) else set(m.group(1).split())
    res.outputs = [bytes.fromhex(h) for h in re.findall(r"^out \d+ ([0-9a-f]*)$", text, re.M)]
    res.invoke_ticks = [int(t) for t in re.findall(r"^invoke \d+ ticks (\d+)$", text, re.M)]
    res.ops = [(op, var, int(t)) for op, var, t in re.findall(r"^op \d+ (\S+) (\S+) ticks (\d+)$", text, re.M)]
    return res


SCALAR_ONLY = 0xFFFFFFFF  # features_off: no SIMD kernel


def run(board: str, elf: Path, inputs: bytes, invokes: int = 1, icount: bool = True, timeout: float = 600,
        features_off: int = 0) -> RunResult:
    """Run the runner `elf` on `inputs` (one set, or one per invoke), with the PE_FEAT_* bits of
    `features_off` not used; raises RuntimeError with the UART text on a non-zero exit."""
    addr = mcu.symbol_address(elf, "pe_mcu_io")
    with tempfile.TemporaryDirectory(prefix="pe_mcu_io_") as tmp:
        io = Path(tmp) / "io.bin"
        io.write_bytes(io_block(inputs, invokes, features_off))
        r = subprocess.run(mcu.qemu_command(board, elf, icount=icount, loads=[(io, addr)]), capture_output=True,
                           text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise RuntimeError(f"{elf} on {board}: exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-2000:]}")
    return parse(board, r.stdout)


HAVE_OP_LIST = True


def link_options(blob: bytes, used_only: bool) -> dict:
    """firmware() keyword arguments: link every op of the core, or only those `blob` uses (its
    op list from the packer, pyedge.cformat.op_list_header)."""
    return {"op_list_of": blob} if used_only else {}
