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
