"""The C build manifest, native/sources.txt: which sources a build compiles, with their flags.

CMake reads the same file. Builds that compile everything in one compiler call (the fuzzer, the
firmware size check, the C test programs) take the portable set, `core_sources()`, and define
PE_SCALAR_ONLY on a host whose SIMD kernels they leave out.
"""
from __future__ import annotations

import platform
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NATIVE = ROOT / "native"
MANIFEST = NATIVE / "sources.txt"
# the define that leaves the SIMD rows out of the variant table when their files are not built
SCALAR_ONLY = "-DPE_SCALAR_ONLY"


def host_tags() -> set[str]:
    """The manifest's target tags that hold for a hosted build on this machine."""
    m = platform.machine().lower()
    tags = {"all", "hosted"}
    if m in ("x86_64", "amd64"):
        tags.add("x86_64")
    elif m in ("aarch64", "arm64"):
        tags.add("aarch64")
    elif m.startswith("arm"):
        tags.add("arm")
    return tags


def sources(tags: set[str] | None = None) -> list[tuple[Path, list[str]]]:
    """(absolute path, the file's own flags) of every manifest source built for `tags`
    (default: a hosted build on this machine)."""
    tags = host_tags() if tags is None else set(tags)
    out = []
    for n, line in enumerate(MANIFEST.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 2:
            raise ValueError(f"{MANIFEST}:{n}: expected `path targets [flags]`, got {line!r}")
        path, targets = parts[0], parts[1].split(",")
        if all(t in tags for t in targets):
            out.append((ROOT / path, shlex.split(parts[2]) if len(parts) > 2 else []))
    return out


def core_sources(hosted: bool = False) -> list[Path]:
    """The portable sources (no per-file flags): every build's, plus the hosted-only ones."""
    return [p for p, flags in sources({"all", "hosted"} if hosted else {"all"}) if not flags]


def include_dirs() -> list[Path]:
    return [NATIVE / d for d in ("include", "src", "kernels", "platform", "bench", "agent")]
