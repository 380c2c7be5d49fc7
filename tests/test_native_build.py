"""The C core compiles warning-free under the C standards firmware projects use."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NATIVE = ROOT / "native"
from pyedge._manifest import include_dirs, sources  # noqa: E402

SOURCES = sources()  # this host's build, each file with its own ISA flags


@pytest.mark.parametrize("std", ["c99", "c11", "gnu11"])
def test_core_compiles_warning_free(std, tmp_path):
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler on PATH")
    for src, own in SOURCES:
        r = subprocess.run([cc, f"-std={std}", "-Wall", "-Wextra", "-pedantic", "-Werror",
                            "-Wno-unused-parameter", *own, *(f"-I{d}" for d in include_dirs()),
                            "-c", str(src), "-o", str(tmp_path / "x.o")],
                           capture_output=True, text=True)
        assert r.returncode == 0, f"{src.name} ({std}):\n{r.stderr}"
