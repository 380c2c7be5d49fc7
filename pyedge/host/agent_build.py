"""Builds the hosted agent program, pyedge-agent (native/platform/agent_posix.c on the C core),
from the build manifest with the system's C compiler; objects are cached under build/agent/."""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .. import _manifest
from ..errors import PyedgeError

PROGRAM = _manifest.NATIVE / "platform" / "agent_posix.c"
FLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]


def default_dir() -> Path:
    return _manifest.ROOT / "build" / "agent"


def _stale(obj: Path, deps: list[Path]) -> bool:
    return not obj.exists() or obj.stat().st_mtime < max(d.stat().st_mtime for d in deps)


def build_agent(out_dir: str | os.PathLike | None = None, cc: str | None = None,
                tags: set[str] | None = None, jobs: int = 2) -> Path:
    """Compile pyedge-agent (for this machine by default; `cc` and `tags` give a cross build,
    e.g. cc="aarch64-linux-gnu-gcc", tags={"all", "hosted", "aarch64"}) and return its path."""
    cc_cmd = shlex.split(cc or os.environ.get("CC") or "cc")
    if shutil.which(cc_cmd[0]) is None:
        raise PyedgeError(f"no C compiler {cc_cmd[0]!r} on PATH to build pyedge-agent")
    out = Path(out_dir) if out_dir else default_dir()
    (out / "obj").mkdir(parents=True, exist_ok=True)
    incs = [f"-I{d}" for d in _manifest.include_dirs()]
    headers = [h for d in _manifest.include_dirs() for h in d.glob("*.h")] + [_manifest.MANIFEST]
    files = _manifest.sources(tags) + [(PROGRAM, [])]
    # without any ISA file in the build, the variant table leaves its SIMD rows out
    extra = [] if any(own for _, own in files) else [_manifest.SCALAR_ONLY]

    def compile_one(item: tuple[Path, list[str]]) -> Path:
        src, own = item
        obj = out / "obj" / (src.stem + ".o")
        if _stale(obj, [src, *headers]):
            r = subprocess.run([*cc_cmd, *FLAGS, *extra, *own, *incs, "-c", str(src), "-o", str(obj)],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise PyedgeError(f"building pyedge-agent: {src.name} failed:\n{r.stderr}")
        return obj

    with ThreadPoolExecutor(max(1, jobs)) as ex:
        objs = list(ex.map(compile_one, files))
    exe = out / "pyedge-agent"
    if _stale(exe, objs):
        r = subprocess.run([*cc_cmd, *map(str, objs), "-o", str(exe), "-lm", "-lpthread"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise PyedgeError(f"linking pyedge-agent failed:\n{r.stderr}")
    return exe


# ---- the Cortex-M firmware agent ---------------------------------------------------------------

FIRMWARE_MAIN = _manifest.ROOT / "boards" / "platform" / "agent_fw.c"
DEFAULT_FW_PAYLOAD = 2048  # two frame buffers of RAM; the QEMU boards set the same


def _mcu_build():
    """boards/platform/build.py as a module (the bare-metal build the kernel tests use)."""
    import importlib.util
    import sys

    name = "pyedge_mcu_build"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _manifest.ROOT / "boards" / "platform" / "build.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


def firmware_defines(board) -> list[str]:
    """The -D flags agent_fw.c is built with for a board (its [connect] table: blob_bytes,
    arena_bytes, max_payload, blob_origin, counter)."""
    c = board.connect
    d = [f'-DPE_FW_BOARD="{board.name}"', f"-DPE_FW_BLOB_BYTES={int(c['blob_bytes'])}u",
         f"-DPE_FW_ARENA_BYTES={int(c['arena_bytes'])}u",
         f"-DPE_FW_MAX_PAYLOAD={int(c.get('max_payload', DEFAULT_FW_PAYLOAD))}u"]
    if "blob_origin" in c:
        d.append(f"-DPE_FW_BLOB_ADDR=0x{int(c['blob_origin']):08x}u")
    if c.get("counter") == "instructions":
        d.append("-DPE_FW_ICOUNT")
    return d


def firmware_missing() -> str | None:
    """Why Cortex-M firmware cannot be built here (None: it can)."""
    return _mcu_build().missing(need_qemu=False)


def _sources_mtime(board) -> float:
    roots = [_manifest.NATIVE, _manifest.ROOT / "boards" / "platform"]
    files = [p for r in roots for p in r.rglob("*") if p.suffix in (".c", ".h", ".txt", ".in", ".py", ".def")]
    files.append(Path(board.path))
    return max(p.stat().st_mtime for p in files)


def firmware_elf(board) -> Path:
    return _manifest.ROOT / str(board.flash.get("firmware", f"build/firmware/{board.name}/pyedge-agent.elf"))


def build_firmware(board, out: str | os.PathLike | None = None, force: bool = False) -> Path:
    """Build the firmware agent for an MCU board (boards/<name>.toml kind "mcu" with a bare-metal
    platform machine) with boards/platform/build.py and return the ELF. Cached: rebuilt only when
    a source of native/ or boards/platform/, the board file or the defines changed."""
    from ..boards import load_board

    b = load_board(board) if isinstance(board, str) else board
    if b.kind != "mcu":
        raise PyedgeError(f"board {b.name} is not a microcontroller (kind {b.kind!r}): no firmware to build")
    mcu = _mcu_build()
    machine = str(b.connect.get("machine", ""))
    if machine not in mcu.BOARDS:
        raise PyedgeError(f"board {b.name}: the bare-metal platform (boards/platform/) has no port to it yet; it runs "
                          f"on {', '.join(sorted(mcu.BOARDS))} (a port is a row of BOARDS in boards/platform/build.py "
                          "and, for a UART other than CMSDK's, its driver in platform.c)")
    for key in ("blob_bytes", "arena_bytes"):
        if key not in b.connect:
            raise PyedgeError(f"board {b.name}: [connect] {key} is missing ({b.path})")
    why = mcu.missing(need_qemu=False)
    if why:
        raise PyedgeError(f"cannot build the firmware agent for {b.name}: {why}")
    elf = Path(out) / "pyedge-agent.elf" if out else firmware_elf(b)
    defines = firmware_defines(b)
    stamp = elf.with_suffix(".defines")
    if (not force and elf.exists() and stamp.exists() and stamp.read_text() == "\n".join(defines)
            and elf.stat().st_mtime >= _sources_mtime(b)):
        return elf
    if not stamp.exists() or stamp.read_text() != "\n".join(defines):  # objects do not know their defines
        shutil.rmtree(mcu.out_dir(machine, "O2") / f"prog-{elf.parent.name}-{elf.stem}", ignore_errors=True)
    core = mcu.core_files(mcu.BOARDS[machine], exclude=())
    try:
        mcu.build(machine, [FIRMWARE_MAIN], elf, "O2", defines, core=core,
                  extra_includes=[_manifest.NATIVE / "agent"])
    except RuntimeError as exc:
        raise PyedgeError(f"building the firmware agent for {b.name} failed: {exc}") from None
    stamp.write_text("\n".join(defines))
    return elf


MODEL_MAIN = _manifest.ROOT / "boards" / "platform" / "model_fw.c"


def elf_sizes(elf: str | os.PathLike) -> dict[str, int]:
    """Bytes of .text (code and constants, the model blob among them), .data and .bss (with
    .noinit: RAM the firmware reserves) of an ELF, as arm-none-eabi-size counts them."""
    r = subprocess.run(["arm-none-eabi-size", "-A", str(elf)], capture_output=True, text=True)
    if r.returncode != 0:
        raise PyedgeError(f"arm-none-eabi-size {elf}: {r.stderr.strip()}")
    sec = {}
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0].startswith(".") and f[1].isdigit():
            sec[f[0]] = int(f[1])
    return {"text": sum(sec.get(s, 0) for s in (".text", ".rodata", ".ARM.exidx")), "code": sec.get(".text", 0),
            "rodata": sec.get(".rodata", 0), "data": sec.get(".data", 0),
            "bss": sec.get(".bss", 0) + sec.get(".noinit", 0)}


def build_standalone(board, model: str | os.PathLike | bytes, out: str | os.PathLike | None = None,
                     runs: int = 1) -> Path:
    """A standalone firmware for an MCU board: `model` packed for the board and compiled in as C
    (pyedge.cformat.write_c), the core cut down to the kernels the model uses (its op list,
    -DPE_OP_LIST), boards/platform/model_fw.c as main. Returns the ELF (OUT/pyedge-model.elf;
    default build/firmware/<board>/<model>/)."""
    from ..boards import load_board
    from ..cformat import write_c, write_op_list
    from .tool import model_blob

    b = load_board(board) if isinstance(board, str) else board
    if b.kind != "mcu":
        raise PyedgeError(f"board {b.name} is not a microcontroller (kind {b.kind!r}): no firmware to build")
    mcu = _mcu_build()
    machine = str(b.connect.get("machine", ""))
    if machine not in mcu.BOARDS:
        raise PyedgeError(f"board {b.name}: the bare-metal platform (boards/platform/) has no port to it yet; it runs "
                          f"on {', '.join(sorted(mcu.BOARDS))} (a port is a row of BOARDS in boards/platform/build.py "
                          "and, for a UART other than CMSDK's, its driver in platform.c)")
    why = mcu.missing(need_qemu=False)
    if why:
        raise PyedgeError(f"cannot build firmware for {b.name}: {why}")
    blob = model_blob(model, b)
    stem = "model" if isinstance(model, (bytes, bytearray)) else Path(model).stem
    d = Path(out) if out else _manifest.ROOT / "build" / "firmware" / b.name / stem
    d.mkdir(parents=True, exist_ok=True)
    source = stem if isinstance(model, (bytes, bytearray)) else str(model)
    header, ops = d / "model_data.h", d / "model_ops.h"
    old = header.read_text() if header.exists() else None
    write_c(blob, header, "model", source=source)
    if old != header.read_text():  # a new or another model here: its objects do not track the header
        shutil.rmtree(mcu.out_dir(machine, "O2") / f"prog-{d.name}-pyedge-model", ignore_errors=True)
        shutil.rmtree(mcu.out_dir(machine, "O2") / f"prog-{d.name}-pyedge-model-ops", ignore_errors=True)
    write_op_list(blob, ops, source=source)
    defines = ['-DPE_MODEL_HEADER="model_data.h"', "-DPE_MODEL_PREFIX=MODEL", f'-DPE_FW_BOARD="{b.name}"',
               f"-DPE_FW_RUNS={int(runs)}"]
    if b.connect.get("counter") == "instructions":
        defines.append("-DPE_FW_ICOUNT")
    elf = d / "pyedge-model.elf"
    try:
        mcu.build(machine, [MODEL_MAIN], elf, "O2", defines, extra_includes=[d], op_list=ops)
    except RuntimeError as exc:
        raise PyedgeError(f"building the firmware for {b.name} failed: {exc}") from None
    return elf
