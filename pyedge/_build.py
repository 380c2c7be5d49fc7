"""cffi build of the C core: the same native/ sources CMake builds.

Run directly (``python pyedge/_build.py OUTDIR``) for an in-tree development build;
``pip install .`` builds it through setuptools' cffi_modules.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from cffi import FFI

ROOT = Path(__file__).resolve().parent.parent
NATIVE = ROOT / "native"
CDEF_RE = re.compile(r"/\* BEGIN CDEF \*/(.*?)/\* END CDEF \*/", re.S)


_ABSOLUTE = False  # setuptools wants paths relative to setup.py; dev builds run elsewhere


def _rel(p: Path) -> str:
    return str(p) if _ABSOLUTE else str(p.relative_to(ROOT))


def kernel_headers() -> list[Path]:
    return sorted((NATIVE / "kernels").glob("*.h"))


def sources() -> list[str]:
    files = sorted((NATIVE / "src").glob("*.c")) + sorted((NATIVE / "kernels").glob("*.c"))
    return [_rel(p) for p in files]


def cdef_text() -> str:
    parts = []
    for h in [NATIVE / "include" / "pyedge.h", *kernel_headers()]:
        parts.extend(CDEF_RE.findall(h.read_text()))
    text = "\n".join(parts)
    return text


def make_ffi() -> FFI:
    ffi = FFI()
    ffi.cdef(cdef_text())
    includes = "\n".join(f'#include "{h.name}"' for h in kernel_headers())
    flags = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    if os.environ.get("PYEDGE_SANITIZE"):
        flags += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-O1", "-g"]
    ffi.set_source(
        "pyedge._pyedge_c",
        '#include "pyedge.h"\n' + includes,
        sources=sources(),
        include_dirs=[_rel(NATIVE / "include"), _rel(NATIVE / "src"), _rel(NATIVE / "kernels")],
        extra_compile_args=flags,
        extra_link_args=flags if os.environ.get("PYEDGE_SANITIZE") else [],
        libraries=[] if sys.platform == "win32" else ["m"],
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
