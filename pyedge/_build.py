"""cffi build of the C core from the build manifest native/sources.txt (which CMake reads too).

Run directly (``python pyedge/_build.py OUTDIR``) for an in-tree development build;
``pip install .`` builds it through setuptools' cffi_modules. Files with their own flags in the
manifest (the ISA kernels) are compiled to objects first, with those flags only, and linked in.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from cffi import FFI

ROOT = Path(__file__).resolve().parent.parent
NATIVE = ROOT / "native"
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _manifest  # noqa: E402  (pyedge/_manifest.py: no package import during the build)

CDEF_RE = re.compile(r"/\* BEGIN CDEF \*/(.*?)/\* END CDEF \*/", re.S)
BASE_FLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]


_ABSOLUTE = False  # setuptools wants paths relative to setup.py; dev builds run elsewhere


def _rel(p: Path) -> str:
    return str(p) if _ABSOLUTE else str(p.relative_to(ROOT))


def kernel_headers() -> list[Path]:
    return sorted((NATIVE / "kernels").glob("*.h"))


def cdef_headers() -> list[Path]:
    return [NATIVE / "include" / "pyedge.h", *kernel_headers(), NATIVE / "platform" / "pe_platform.h",
            NATIVE / "bench" / "pe_bench.h", NATIVE / "agent" / "pe_agent.h"]


def cdef_text() -> str:
    parts = []
    for h in cdef_headers():
        parts.extend(CDEF_RE.findall(h.read_text()))
    return "\n".join(parts)


_INCLUDE_C = re.compile(r'^\s*#\s*include\s+"([^"]+\.c)"', re.M)


def _included_sources(src: Path) -> list[Path]:
    """The .c files `src` includes (a variant built from another file's source with other
    flags, e.g. qs8_dwconv_avx512vnni.c): the object is stale when one of them changes."""
    return [src.parent / m for m in _INCLUDE_C.findall(src.read_text()) if (src.parent / m).exists()]


def _isa_objects(files: list[tuple[Path, list[str]]], flags: list[str], includes: list[str]) -> list[str]:
    """Compile the files that carry their own flags to objects under build/isa-objs."""
    from setuptools._distutils.ccompiler import new_compiler
    from setuptools._distutils.sysconfig import customize_compiler

    cc = new_compiler()
    customize_compiler(cc)
    out_dir = ROOT / "build" / "isa-objs"
    out_dir.mkdir(parents=True, exist_ok=True)
    objs = []
    for src, own in files:
        obj = out_dir / (src.stem + ".o")
        if not obj.exists() or obj.stat().st_mtime < max(
                src.stat().st_mtime, *(c.stat().st_mtime for c in _included_sources(src)),
                *(h.stat().st_mtime for h in kernel_headers()),
                (NATIVE / "include" / "pyedge.h").stat().st_mtime, (NATIVE / "src" / "pe_kernel.h").stat().st_mtime):
            cc.compile([str(src)], output_dir=str(out_dir / "tmp"), include_dirs=includes,
                       extra_postargs=flags + own + ["-fPIC"])
            built = list((out_dir / "tmp").rglob(src.stem + ".o"))
            if not built:
                raise RuntimeError(f"compiling {src} produced no object")
            os.replace(built[0], obj)
        objs.append(str(obj))
    return objs


def make_ffi() -> FFI:
    ffi = FFI()
    ffi.cdef(cdef_text())
    includes = "\n".join(f'#include "{h.name}"' for h in kernel_headers())
    flags = list(BASE_FLAGS)
    if os.environ.get("PYEDGE_SANITIZE"):
        flags += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-O1", "-g"]
    inc_dirs = _manifest.include_dirs()
    if os.environ.get("PYEDGE_SCALAR_ONLY"):  # portable C only: no ISA files, no SIMD variants
        files = _manifest.sources({"all", "hosted"})
        flags.append(_manifest.SCALAR_ONLY)
    else:
        files = _manifest.sources()
    plain = [_rel(p) for p, own in files if not own]
    objs = _isa_objects([(p, own) for p, own in files if own], flags, [str(d) for d in inc_dirs])
    ffi.set_source(
        "pyedge._pyedge_c",
        '#include "pyedge.h"\n#include "pe_platform.h"\n#include "pe_bench.h"\n#include "pe_agent.h"\n' + includes,
        sources=plain,
        include_dirs=[_rel(d) for d in inc_dirs],
        extra_compile_args=flags,
        extra_objects=objs,
        extra_link_args=flags if os.environ.get("PYEDGE_SANITIZE") else [],
        libraries=[] if sys.platform == "win32" else ["m", "pthread"],
    )
    return ffi


ffibuilder = make_ffi()

if __name__ == "__main__":
    _ABSOLUTE = True
    ffibuilder = make_ffi()
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "build" / "dev").resolve()
    out.mkdir(parents=True, exist_ok=True)
    ffibuilder.compile(tmpdir=str(out), verbose=False)
    print(out)
