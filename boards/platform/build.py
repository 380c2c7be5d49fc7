#!/usr/bin/env python3
"""Builds bare-metal Cortex-M programs on the platform of boards/platform/ with arm-none-eabi-gcc:
the C core (native/sources.txt's `all` files, plus the `mcu` files of the board's features),
the platform (startup.c, platform.c, syscalls.c) and a program's own sources, linked with the
board's linker script (cortex-m.ld.in filled from the table below). No make and no CMake: one
compiler call per file, objects kept under build/mcu-<board>-<opt>/ and rebuilt when a source
or any header is newer.

    python3 boards/platform/build.py --board mps2-an386 [--opt O2] PROGRAM.c ... -o prog.elf
    qemu-system-arm -M mps2-an386 -cpu cortex-m4 -nographic -semihosting-config enable=on \\
        -kernel prog.elf

Used by tests/test_cross_mcu.py and tools/mcu_icount.py.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = ROOT / "boards" / "platform"
NATIVE = ROOT / "native"
sys.path.insert(0, str(ROOT))
from pyedge._manifest import sources  # noqa: E402

CC = "arm-none-eabi-gcc"
INSTALL_HINT = ("apt-get install -y --no-install-recommends gcc-arm-none-eabi libnewlib-arm-none-eabi "
                "qemu-system-arm (tools/test.sh does this)")


@dataclass(frozen=True)
class Board:
    name: str
    machine: str          # qemu-system-arm -M
    qemu_cpu: str         # qemu-system-arm -cpu
    cflags: tuple         # CPU flags
    tags: tuple           # native/sources.txt targets this board builds besides `all` (ISA files are
                          # `all` and empty where the compiler lacks the feature)
    uart_base: int        # CMSDK APB UART0
    systick_hz: int       # the processor clock SysTick counts
    code: tuple           # (origin, size): code memory (QEMU loads the ELF there)
    ram: tuple            # (origin, size): data, bss, heap, stack
    const: tuple = ()     # (origin, size): constants, the model blob; () = in the code memory
    stack: int = 0x8000


# Memory maps as boards/<name>.toml gives them (AN547: code in the ITCM, constants in the 2 MiB
# SRAM, data in the DTCM); UART base and clocks from QEMU's hw/arm/mps2.c and
# mps2-tz.c (AN547 boots Secure: its UART0 is the Secure alias 0x59303000).
BOARDS = {
    "mps2-an386": Board("mps2-an386", "mps2-an386", "cortex-m4",
                        ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"), (),
                        0x40004000, 25_000_000, (0x00000000, 0x00400000), (0x20000000, 0x00400000)),
    "mps3-an547": Board("mps3-an547", "mps3-an547", "cortex-m55",
                        ("-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard"), (),
                        0x59303000, 32_000_000, (0x00000000, 0x00080000), (0x20000000, 0x00080000),
                        (0x01000000, 0x00200000)),
}
WARN = ["-Wall", "-Wextra", "-std=c99"]
PLATFORM_SOURCES = ["startup.c", "platform.c", "syscalls.c"]


class ToolchainMissing(RuntimeError):
    """arm-none-eabi-gcc, its C library or qemu-system-arm is not installed."""


def missing(need_qemu: bool = True) -> str | None:
    """Why bare-metal builds (and runs) cannot happen here, or None."""
    if shutil.which(CC) is None:
        return f"{CC} not found: {INSTALL_HINT}"
    r = subprocess.run([CC, *BOARDS["mps2-an386"].cflags, "-E", "-x", "c", "-"], input="#include <string.h>\n",
                       capture_output=True, text=True)
    if r.returncode != 0:
        return f"{CC} has no C library (newlib): {INSTALL_HINT}"
    if need_qemu and shutil.which("qemu-system-arm") is None:
        return f"qemu-system-arm not found: {INSTALL_HINT}"
    return None


def includes() -> list[str]:
    return [f"-I{d}" for d in (NATIVE / "include", NATIVE / "src", NATIVE / "kernels", NATIVE / "tests", PLATFORM)]


def board_defines(b: Board) -> list[str]:
    return [f"-DPE_PLAT_UART_BASE=0x{b.uart_base:08x}u", f"-DPE_PLAT_SYSTICK_HZ={b.systick_hz}u",
            f'-DPE_PLAT_BOARD="{b.name}"']


def core_files(b: Board, exclude: tuple[str, ...] = ("native/agent/",)) -> list[tuple[Path, list[str]]]:
    """The core's sources for this board with their own flags: the manifest's `all` files and those
    of the board's tags (each tag alone or in a comma list of the board's tags)."""
    out = [(p, f) for p, f in sources({"all", *b.tags})]
    return [(p, f) for p, f in out if not any(str(p.relative_to(ROOT)).startswith(e) for e in exclude)]


def _newest_header() -> float:
    return max(p.stat().st_mtime for d in (NATIVE, PLATFORM) for p in d.rglob("*.h"))


def _compile(src: Path, obj: Path, flags: list[str], newest: float) -> str:
    if obj.exists() and obj.stat().st_mtime >= max(src.stat().st_mtime, newest):
        return ""
    obj.parent.mkdir(parents=True, exist_ok=True)
    r = subprocess.run([CC, *flags, "-c", str(src), "-o", str(obj)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{src}: compile failed:\n{r.stderr}")
    return r.stderr


def out_dir(board: str, opt: str) -> Path:
    return ROOT / "build" / f"mcu-{board}-{opt}"


def compile_all(board: str, files: list[tuple[Path, list[str]]], opt: str = "O2", extra: list[str] | None = None,
                subdir: str = "obj") -> tuple[list[Path], list[str]]:
    """Compile (src, own flags) for the board; returns (objects, compiler warnings)."""
    b = BOARDS[board]
    flags = [*b.cflags, f"-{opt}", *WARN, "-ffunction-sections", "-fdata-sections", *includes(),
             *board_defines(b), *(extra or [])]
    out = out_dir(board, opt) / subdir
    newest = _newest_header()
    jobs = []
    for src, own in files:
        rel = src.relative_to(ROOT) if src.is_relative_to(ROOT) else Path(src.name)
        jobs.append((src, out / (str(rel.with_suffix("")).replace("/", "__") + ".o"), flags + list(own)))
    with ThreadPoolExecutor(max_workers=2) as pool:
        warns = [w for w in pool.map(lambda j: _compile(j[0], j[1], j[2], newest), jobs) if w.strip()]
    return [j[1] for j in jobs], warns


def linker_script(board: str, opt: str) -> Path:
    b = BOARDS[board]
    text = (PLATFORM / "cortex-m.ld.in").read_text()
    text = text.replace("@CONST_MEMORY@", f"  CONST (r) : ORIGIN = 0x{b.const[0]:08x}, LENGTH = 0x{b.const[1]:08x}"
                        if b.const else "")
    text = text.replace("@CONST_REGION@", "CONST" if b.const else "CODE")
    for k, v in {"CODE_ORIGIN": b.code[0], "CODE_SIZE": b.code[1], "RAM_ORIGIN": b.ram[0],
                 "RAM_SIZE": b.ram[1], "STACK": b.stack}.items():
        text = text.replace(f"@{k}@", f"0x{v:08x}")
    path = out_dir(board, opt) / f"{board}.ld"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


OPS_C = NATIVE / "src" / "ops.c"


def build(board: str, program: list[Path], elf: Path, opt: str = "O2", defines: list[str] | None = None,
          core: list[tuple[Path, list[str]]] | None = None, extra_includes: list[Path] | None = None,
          op_list: Path | None = None, platform_defines: list[str] | None = None) -> tuple[Path, list[str]]:
    """Link program sources + platform + core into `elf`; returns (elf, warnings). `core`
    replaces the core's file list; `op_list` (a header from pyedge pack --op-list) compiles
    native/src/ops.c with only that model's ops and variants, so the link drops the rest;
    `platform_defines` builds the platform's own copy with those -D flags."""
    b = BOARDS[board]
    files = core if core is not None else core_files(b)
    if op_list is not None:
        files = [(p, f) for p, f in files if p != OPS_C]
    core_objs, warns = compile_all(board, files, opt)
    if op_list is not None:
        ops_obj, w = compile_all(board, [(OPS_C, [f'-DPE_OP_LIST="{op_list}"'])], opt,
                                 subdir=f"prog-{elf.parent.name}-{elf.stem}-ops")
        core_objs, warns = core_objs + ops_obj, warns + w
    plat_objs, w2 = compile_all(board, [(PLATFORM / s, []) for s in PLATFORM_SOURCES], opt,
                                extra=platform_defines,
                                subdir="platform" if not platform_defines else f"platform-{elf.parent.name}-{elf.stem}")
    inc = [f"-I{d}" for d in (extra_includes or [])]
    prog_objs, w3 = compile_all(board, [(p, []) for p in program], opt, extra=inc + (defines or []),
                                subdir=f"prog-{elf.parent.name}-{elf.stem}")
    elf.parent.mkdir(parents=True, exist_ok=True)
    link = [CC, *b.cflags, f"-{opt}", "-nostartfiles", "--specs=nano.specs", "-T", str(linker_script(board, opt)),
            "-Wl,--gc-sections", "-Wl,--no-warn-rwx-segments", f"-Wl,-Map={elf.with_suffix('.map')}",
            *map(str, prog_objs + plat_objs + core_objs), "-lm", "-o", str(elf)]
    r = subprocess.run(link, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"link {elf.name} failed:\n{r.stderr}")
    return elf, warns + w2 + w3 + ([r.stderr] if r.stderr.strip() else [])


def qemu_command(board: str, elf: Path, icount: bool = False, loads: list[tuple[Path, int]] | None = None) -> list[str]:
    """The qemu-system-arm command line that runs `elf` with the UART on stdout and semihosting
    (the exit code); `loads` places raw files at addresses; `icount` makes SysTick count
    instructions (-icount shift=0: one instruction per ns of virtual time)."""
    b = BOARDS[board]
    cmd = ["qemu-system-arm", "-M", b.machine, "-cpu", b.qemu_cpu, "-nographic", "-monitor", "none",
           "-serial", "stdio", "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)]
    if icount:
        cmd += ["-icount", "shift=0,align=off,sleep=off"]
    for path, addr in loads or []:
        cmd += ["-device", f"loader,file={path},addr=0x{addr:08x},force-raw=on"]
    return cmd


def symbol_address(elf: Path, name: str) -> int:
    r = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True)
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16)
    raise KeyError(f"{elf.name} has no symbol {name}")


def text_by_origin(map_file: Path) -> dict[str, dict[str, int]]:
    """Bytes of code (.text*) and constants (.rodata*) the link kept, by where they came from:
    `core` (native/src, native/kernels), `platform` (boards/platform), `program` (the program's
    own sources, the model blob among its constants) and `libc` (newlib, libgcc, libm)."""
    out = {k: {"text": 0, "rodata": 0} for k in ("core", "platform", "program", "libc")}
    text = map_file.read_text()
    body = text[text.index("Linker script and memory map"):]
    pending = None
    line_re = re.compile(r"^ (\.(?:text|rodata)\S*)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S.*)$")
    cont_re = re.compile(r"^\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S.*)$")
    for line in body.splitlines():
        m = line_re.match(line)
        if m:
            name, size, origin = m.groups()
        elif pending and (m2 := cont_re.match(line)):
            name, (size, origin) = pending, m2.groups()
        else:
            pending = line.strip() if re.match(r"^ \.(?:text|rodata)\S*$", line) else None
            continue
        pending = None
        kind = "text" if name.startswith(".text") else "rodata"
        if "/native/src/" in origin or "/native/kernels/" in origin or "native__src__" in origin or \
                "native__kernels__" in origin:
            who = "core"
        elif "/platform/" in origin and origin.endswith(".o") and "boards" in origin:
            who = "platform"
        elif origin.endswith(".o") and str(ROOT) in origin:
            who = "program"
        else:
            who = "libc"
        out[who][kind] += int(size, 16)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--board", required=True, choices=sorted(BOARDS))
    p.add_argument("--opt", default="O2", choices=["O0", "O1", "O2", "O3", "Os"])
    p.add_argument("-D", dest="defines", action="append", default=[])
    p.add_argument("-I", dest="includes", action="append", default=[], type=Path)
    p.add_argument("-o", dest="out", required=True, type=Path)
    p.add_argument("program", nargs="+", type=Path)
    a = p.parse_args(argv)
    reason = missing(need_qemu=False)
    if reason:
        print(f"build: {reason}", file=sys.stderr)
        return 3
    _, warns = build(a.board, [x.resolve() for x in a.program], a.out.resolve(), a.opt,
                     [f"-D{d}" for d in a.defines], extra_includes=[i.resolve() for i in a.includes])
    for w in warns:
        print(w, file=sys.stderr)
    return 1 if warns else 0


if __name__ == "__main__":
    sys.exit(main())
