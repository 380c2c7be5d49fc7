"""Board definitions: one TOML file per board in `boards/` (data, not code).

A board file says what a device is (ISA, CPU, FPU), how much RAM and flash it has, how to build
for it (toolchain triplet and flags), and, for later issues, how to reach and flash it. The
packer records a board (or a bare ISA) as the blob's target; `pyedge inspect --board` checks a
model's arena and blob against the board's memory.

File format (sizes in bytes; see boards/mps2-an386.toml for a complete example):

    name = "mps2-an386"              # must equal the file name
    description = "..."
    kind = "mcu"                     # mcu | linux | host
    isa = "dsp"                      # one of ISAS
    cpu = "cortex-m4"
    fpu = "sp"                       # none | sp | dp (hardware floating point)
    ram_bytes = 4194304              # optional: RAM the arena can use (omitted: no fit check)
    flash_bytes = 4194304            # optional: memory the blob is linked into
    [toolchain] triplet = "arm-none-eabi", cflags = [...]
    optional: arch, features, ram_variants_bytes, reserved_ram_bytes, reserved_flash_bytes,
    [[memory]] regions (name, kind ram|flash, origin, size, note), [connect], [flash].
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import PyedgeError

# ISA tiers a board or `pack --target` may name: the values of PYEDGE_ISA, each allowing its own
# CPU feature and those of the tiers below it (pe_features_for_tier, native/src/cpu.c). Which
# tiers have kernels is the C core's variant table (pyedge.layouts.variants()).
ISAS: dict[str, str] = {
    "scalar": "portable C99, no SIMD",
    "avx2": "x86-64 AVX2 (+FMA)",
    "avxvnni": "x86-64 AVX2 with AVX-VNNI (256-bit dot products)",
    "avx512": "x86-64 AVX-512 F/BW/DQ/VL",
    "avx512vnni": "x86-64 AVX-512 with VNNI (vpdpbusd)",
    "neon": "Arm Advanced SIMD (NEON), AArch64 or AArch32",
    "dotprod": "Arm NEON with the dot product extension (sdot)",
    "i8mm": "Arm NEON with int8 matrix multiply (smmla)",
    "dsp": "Armv7E-M/Armv8-M DSP extension (32-bit packed SIMD)",
    "helium": "Arm M-profile Vector Extension (MVE, Helium) of Armv8.1-M",
}
KINDS = ("mcu", "linux", "host")
FPUS = ("none", "sp", "dp")
MEMORY_KINDS = ("ram", "flash")

_REQUIRED = {"name": str, "description": str, "kind": str, "isa": str, "cpu": str, "fpu": str,
             "toolchain": dict}
_OPTIONAL = {"arch": str, "features": list, "ram_bytes": int, "flash_bytes": int,
             "ram_variants_bytes": list, "reserved_ram_bytes": int, "reserved_flash_bytes": int,
             "memory": list, "connect": dict, "flash": dict}


class BoardError(PyedgeError, ValueError):
    """A board name that does not exist, or a board file that is malformed."""


@dataclass(frozen=True)
class MemoryRegion:
    name: str
    kind: str      # "ram" or "flash"
    origin: int
    size: int
    note: str = ""


@dataclass(frozen=True)
class Board:
    """One board file, validated."""

    name: str
    description: str
    kind: str
    isa: str
    cpu: str
    fpu: str
    triplet: str
    cflags: tuple[str, ...]
    path: Path
    arch: str = ""
    features: tuple[str, ...] = ()
    ram_bytes: int | None = None
    flash_bytes: int | None = None
    ram_variants_bytes: tuple[int, ...] = ()
    reserved_ram_bytes: int = 0
    reserved_flash_bytes: int = 0
    memory: tuple[MemoryRegion, ...] = ()
    connect: dict[str, Any] = field(default_factory=dict)
    flash: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "description": self.description, "kind": self.kind, "isa": self.isa,
            "cpu": self.cpu, "arch": self.arch, "features": list(self.features), "fpu": self.fpu,
            "toolchain": {"triplet": self.triplet, "cflags": list(self.cflags)},
            "ram_bytes": self.ram_bytes, "flash_bytes": self.flash_bytes,
            "ram_variants_bytes": list(self.ram_variants_bytes),
            "reserved_ram_bytes": self.reserved_ram_bytes, "reserved_flash_bytes": self.reserved_flash_bytes,
            "memory": [vars(m).copy() for m in self.memory],
            "connect": dict(self.connect), "flash": dict(self.flash), "path": str(self.path),
        }


def boards_dir() -> Path:
    """Where board files live: $PYEDGE_BOARDS_DIR, else the repository's boards/ directory."""
    env = os.environ.get("PYEDGE_BOARDS_DIR")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "boards"


def _toml_loads(text: str, where: Path) -> dict[str, Any]:
    try:
        import tomllib  # Python 3.11+
    except ModuleNotFoundError:  # pragma: no cover - depends on the Python version
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise BoardError("reading board files needs Python 3.11+ (tomllib) or the tomli package "
                             "(pip install tomli)") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BoardError(f"board file {where}: not valid TOML: {exc}") from None


def list_boards() -> list[str]:
    """Names of the boards in boards_dir(), sorted."""
    d = boards_dir()
    return sorted(p.stem for p in d.glob("*.toml")) if d.is_dir() else []


def _size(where: str, key: str, v: Any, allow_zero: bool = False) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0 or (v == 0 and not allow_zero):
        raise BoardError(f"{where}: {key} must be a {'non-negative' if allow_zero else 'positive'} "
                         f"integer number of bytes, not {v!r}")
    return v


def _check_types(where: str, data: dict[str, Any]) -> None:
    unknown = sorted(set(data) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise BoardError(f"{where}: unknown key(s) {', '.join(unknown)}; known: "
                         f"{', '.join(sorted({**_REQUIRED, **_OPTIONAL}))}")
    missing = sorted(k for k in _REQUIRED if k not in data)
    if missing:
        raise BoardError(f"{where}: missing required key(s) {', '.join(missing)}")
    for key, typ in {**_REQUIRED, **_OPTIONAL}.items():
        if key in data and (not isinstance(data[key], typ) or isinstance(data[key], bool)):
            raise BoardError(f"{where}: {key} must be a {typ.__name__}, not {type(data[key]).__name__}")


def _parse(data: dict[str, Any], path: Path) -> Board:
    where = f"board file {path}"
    _check_types(where, data)
    for key, allowed in (("kind", KINDS), ("isa", tuple(ISAS)), ("fpu", FPUS)):
        if data[key] not in allowed:
            raise BoardError(f"{where}: {key} {data[key]!r} is not one of {', '.join(allowed)}")
    tc = data["toolchain"]
    triplet, cflags = tc.get("triplet"), tc.get("cflags", [])
    if not isinstance(triplet, str) or not triplet:
        raise BoardError(f"{where}: toolchain.triplet must be a non-empty string (e.g. 'arm-none-eabi')")
    if not isinstance(cflags, list) or not all(isinstance(f, str) for f in cflags):
        raise BoardError(f"{where}: toolchain.cflags must be a list of strings")
    if set(tc) - {"triplet", "cflags"}:
        raise BoardError(f"{where}: unknown toolchain key(s) {', '.join(sorted(set(tc) - {'triplet', 'cflags'}))}")
    regions = []
    for k, m in enumerate(data.get("memory", [])):
        w = f"{where}: memory[{k}]"
        if not isinstance(m, dict) or not {"name", "kind", "origin", "size"} <= set(m) or \
                set(m) - {"name", "kind", "origin", "size", "note"}:
            raise BoardError(f"{w} needs exactly name, kind, origin, size (and optionally note)")
        if m["kind"] not in MEMORY_KINDS:
            raise BoardError(f"{w}: kind {m['kind']!r} is not one of {', '.join(MEMORY_KINDS)}")
        regions.append(MemoryRegion(str(m["name"]), m["kind"], _size(w, "origin", m["origin"], True),
                                    _size(w, "size", m["size"]), str(m.get("note", ""))))
    for key in ("ram_bytes", "flash_bytes"):
        if key in data:
            _size(where, key, data[key])
    for key in ("reserved_ram_bytes", "reserved_flash_bytes"):
        _size(where, key, data.get(key, 0), allow_zero=True)
    variants = tuple(_size(where, "ram_variants_bytes", v) for v in data.get("ram_variants_bytes", []))
    features = data.get("features", [])
    if not all(isinstance(f, str) for f in features):
        raise BoardError(f"{where}: features must be a list of strings")
    return Board(name=data["name"], description=data["description"], kind=data["kind"], isa=data["isa"],
                 cpu=data["cpu"], fpu=data["fpu"], triplet=triplet, cflags=tuple(cflags), path=path,
                 arch=data.get("arch", ""), features=tuple(features), ram_bytes=data.get("ram_bytes"),
                 flash_bytes=data.get("flash_bytes"), ram_variants_bytes=variants,
                 reserved_ram_bytes=data.get("reserved_ram_bytes", 0),
                 reserved_flash_bytes=data.get("reserved_flash_bytes", 0), memory=tuple(regions),
                 connect=dict(data.get("connect", {})), flash=dict(data.get("flash", {})))


def load_board(name: str | os.PathLike) -> Board:
    """Load and validate a board by name (boards/<name>.toml) or by the path of a .toml file."""
    s = os.fspath(name)
    if s.endswith(".toml") or os.sep in s:
        path = Path(s)
        if not path.is_file():
            raise BoardError(f"board file {path} does not exist")
    else:
        path = boards_dir() / f"{s}.toml"
        if not path.is_file():
            known = list_boards()
            raise BoardError(f"unknown board {s!r}; boards: {', '.join(known) if known else '(none found in ' + str(boards_dir()) + ')'}")
    board = _parse(_toml_loads(path.read_text(encoding="utf-8"), path), path)
    if board.name != path.stem:
        raise BoardError(f"board file {path}: name {board.name!r} differs from the file name {path.stem!r}")
    return board


def resolve_target(target: str) -> dict[str, Any]:
    """`pack --target` value -> the META record: a board name or an ISA name. The packer chooses
    each op's weight layout for the ISA's kernels (pyedge/layouts.py)."""
    if target in ISAS:
        return {"name": target, "kind": "isa", "isa": target}
    if target not in list_boards() and not target.endswith(".toml"):
        raise BoardError(f"unknown target {target!r}: not a board ({', '.join(list_boards())}) "
                         f"nor an ISA ({', '.join(ISAS)})")
    board = load_board(target)
    return {"name": board.name, "kind": "board", "isa": board.isa, "cpu": board.cpu}
