"""The C core compiles warning-free under the C standards firmware projects use."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NATIVE = ROOT / "native"
SOURCES = sorted((NATIVE / "src").glob("*.c")) + sorted((NATIVE / "kernels").glob("*.c"))


@pytest.mark.parametrize("std", ["c99", "c11", "gnu11"])
def test_core_compiles_warning_free(std, tmp_path):
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler on PATH")
    for src in SOURCES:
        r = subprocess.run([cc, f"-std={std}", "-Wall", "-Wextra", "-pedantic", "-Werror",
                            "-Wno-unused-parameter", f"-I{NATIVE / 'include'}", f"-I{NATIVE / 'src'}",
                            f"-I{NATIVE / 'kernels'}", "-c", str(src), "-o", str(tmp_path / "x.o")],
                           capture_output=True, text=True)
        assert r.returncode == 0, f"{src.name} ({std}):\n{r.stderr}"
