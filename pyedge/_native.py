"""Loads the compiled C core (cffi) and turns status codes into exceptions."""
from __future__ import annotations

import glob
import importlib.util
import os
import sys

from .errors import BlobError


def _load():
    build_dir = os.environ.get("PYEDGE_BUILD_DIR")
    if build_dir:
        found = glob.glob(os.path.join(build_dir, "pyedge", "_pyedge_c*.so")) + glob.glob(
            os.path.join(build_dir, "_pyedge_c*.so")
        )
        if not found:
            raise ImportError(f"PYEDGE_BUILD_DIR={build_dir} holds no _pyedge_c module")
        spec = importlib.util.spec_from_file_location("pyedge._pyedge_c", found[0])
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        sys.modules["pyedge._pyedge_c"] = mod
        return mod
    try:
        from . import _pyedge_c  # type: ignore[attr-defined]
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "pyedge's C core is not built: run `pip install -e .` (or "
            "`python pyedge/_build.py DIR` and set PYEDGE_BUILD_DIR=DIR)"
        ) from exc
    return _pyedge_c


_mod = _load()
ffi = _mod.ffi
lib = _mod.lib

STATUS_NAMES = {
    getattr(lib, n): n for n in dir(lib) if n.startswith("PE_OK") or n.startswith("PE_ERR_")
}


def status_name(status: int) -> str:
    return STATUS_NAMES.get(status, f"status {status}")


def status_text(status: int) -> str:
    return ffi.string(lib.pe_status_str(status)).decode()


def check_blob(status: int, what: str = "blob") -> None:
    """Raise BlobError for a failed blob validation."""
    if status != lib.PE_OK:
        raise BlobError(f"{what}: {status_text(status)} ({status_name(status)})", status_name(status))


def op_names() -> dict[int, str]:
    """pe op code -> name, from native/ops.def."""
    out = {}
    for code in range(lib.pe_op_count()):
        p = lib.pe_op_name(code)
        if p != ffi.NULL:
            out[code] = ffi.string(p).decode()
    return out


OP_CODES = {name: code for code, name in op_names().items()}


def params_bytes(ctype: str, **fields: int) -> bytes:
    """Fill a kernel's params struct (declared in native/kernels/*.h) by field name."""
    p = ffi.new(f"{ctype} *")
    for k, v in fields.items():
        try:
            setattr(p, k, int(v))
        except AttributeError:
            raise AttributeError(f"{ctype} has no field {k!r}") from None
        except OverflowError:
            raise OverflowError(f"{ctype}.{k} = {v} does not fit int32") from None
    return bytes(ffi.buffer(p))


def params_struct(ctype: str):
    """A zeroed params struct to fill field by field (arrays allowed); see params_bytes."""
    return ffi.new(f"{ctype} *")


def struct_bytes(p) -> bytes:
    return bytes(ffi.buffer(p))
