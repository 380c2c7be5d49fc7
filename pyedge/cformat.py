"""A pyedge blob as C source for firmware: a 16-byte aligned ``const`` byte array plus the
``#define``s a program needs to run it (arena bytes, input/output tensors).

``pyedge pack MODEL --format c -o model_data.h`` writes one self-contained header. By default
its array is ``static`` (marked unused, so a translation unit that includes the header without
using the data does not warn); a program that includes it in several files and wants one copy
defines ``NAME_BLOB_EXTERN`` before every ``#include`` and ``NAME_BLOB_DEFINE`` before the one
that holds the data (the usual firmware-header pattern). ``-o model_data.c`` writes a ``.c``
holding the array and a matching ``.h`` that declares it. The generated code compiles
warning-free with ``-Wall -Wextra -pedantic -Werror`` as C99, C11 and C++11 with the data unused,
used once, or used from two translation units. ``native/tests/pe_run_model.c`` is a complete
program built on it.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


from .blob import ALIGN, LAYOUT_NAMES, STORE_NONE, VERSION_MAJOR as BLOB_VERSION_MAJOR, is_blob, read_blob
from .errors import BlobError

# pe_dtype (TFLite numbering) -> (pe_dtype enumerator, C element type)
_DTYPES = {
    0: ("PE_FLOAT32", "float"), 2: ("PE_INT32", "int32_t"), 3: ("PE_UINT8", "uint8_t"),
    4: ("PE_INT64", "int64_t"), 6: ("PE_BOOL", "uint8_t"), 7: ("PE_INT16", "int16_t"),
    9: ("PE_INT8", "int8_t"),
}

_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
MAX_NAME = 40

BYTES_PER_LINE = 24


@dataclass
class CTensor:
    """One model input or output as the generated header describes it."""

    index: int
    dtype: int
    shape: tuple[int, ...]
    nbytes: int
    scale: float
    zero_point: int
    name: str = ""

    @property
    def ctype(self) -> str:
        return _DTYPES[self.dtype][1]

    @property
    def dtype_name(self) -> str:
        return _DTYPES[self.dtype][0]

    @property
    def elements(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


@dataclass
class CModelInfo:
    """What firmware needs to know about a blob, read from a blob the C core accepted."""

    blob_size: int
    arena_bytes: int        # pe_model_arena_bytes: align16(state_size) + arena_size
    state_bytes: int        # align16(state_size)
    activation_bytes: int   # arena_size
    checksum: int
    target_features: int
    inputs: list[CTensor] = field(default_factory=list)
    outputs: list[CTensor] = field(default_factory=list)


def check_name(name: str) -> str:
    """Return `name` if it can prefix C symbols (`name_blob`) and macros (`NAME_...`), else raise
    ValueError saying why."""
    if not isinstance(name, str) or not _IDENT.match(name):
        raise ValueError(f"--name {name!r} is not a C identifier: use letters, digits and '_', "
                         "starting with a letter")
    if len(name) > MAX_NAME:
        raise ValueError(f"--name {name!r} is longer than {MAX_NAME} characters")
    if "__" in name or name.endswith("_"):
        raise ValueError(f"--name {name!r} would make symbols with '__' (reserved in C++): "
                         "no double or trailing underscore")
    if name.lower() == "pe" or name.lower().startswith("pe_"):
        raise ValueError(f"--name {name!r}: the pe_/PE_ prefix is reserved for the pyedge core")
    return name


def model_info(blob: bytes) -> CModelInfo:
    """Validate `blob` with the C core (pe_model_init) and describe its subgraph-0 inputs and
    outputs. Raises BlobError for anything the core would refuse on the device."""
    from ._native import ffi, lib, status_name, status_text

    data = bytes(blob)
    if not is_blob(data):
        raise BlobError("not a pyedge blob (bad magic): pack a .tflite model first", "PE_ERR_BAD_MAGIC")
    raw = np.zeros(len(data) + ALIGN, np.uint8)
    off = (-raw.ctypes.data) % ALIGN
    buf = raw[off:off + len(data)]
    buf[:] = np.frombuffer(data, np.uint8)
    m = ffi.new("pe_model *")
    st = lib.pe_model_init(m, ffi.from_buffer("uint8_t[]", buf), len(buf))
    if st != lib.PE_OK:
        raise BlobError(f"pyedge blob rejected: {status_text(st)} ({status_name(st)})", status_name(st))
    arena = int(lib.pe_model_arena_bytes(m))
    info = read_blob(buf)
    h = info.header
    names = info.meta.get("names", [])
    state = arena - h["arena_size"]
    cm = CModelInfo(h["total_size"], arena, state, h["arena_size"], h["checksum"], h["target_features"])
    sg0 = info.subgraphs[0]
    for dest, idxs in ((cm.inputs, sg0["inputs"]), (cm.outputs, sg0["outputs"])):
        for i in idxs:
            t = info.tensors[i]
            if t["type_code"] not in _DTYPES or t["storage"] == STORE_NONE:
                raise BlobError(f"model input/output tensor {i} has type code {t['type_code']} and no data: "
                                "firmware cannot feed or read it", "PE_ERR_CORRUPT")
            dest.append(CTensor(i, t["type_code"], tuple(t["shape"]), t["bytes"], float(t["scale"]),
                                int(t["zero_point"]), str(names[i]) if i < len(names) else ""))
    return cm


# -- C text helpers ----------------------------------------------------------------------------
def _c_string(s: str) -> str:
    """A C string literal for `s` (UTF-8; octal escapes, never hex: they would eat digits)."""
    out = []
    for b in s.encode("utf-8"):
        ch = chr(b)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= b < 0x7F and ch != "?":  # '?' could start a trigraph
            out.append(ch)
        else:
            out.append(f"\\{b:03o}")
    return '"' + "".join(out) + '"'


def _comment(s: str) -> str:
    """Text safe inside a /* */ comment: printable ASCII, no comment terminator."""
    s = "".join(c if 0x20 <= ord(c) < 0x7F else "?" for c in s)
    return s.replace("*/", "* /").replace("/*", "/ *").replace("??", "? ?")  # no trigraphs


def _c_float(x: float) -> str:
    """A float literal that reads back as exactly the float32 `x`."""
    if not math.isfinite(x):
        raise BlobError(f"quantization scale {x!r} is not finite", "PE_ERR_CORRUPT")
    s = "%.9g" % float(np.float32(x))
    if not any(c in s for c in ".en"):
        s += ".0"
    return s + "f"


def _c_int(x: int) -> str:
    return f"({x})" if x < 0 else str(x)


def _c_list(values: list[str]) -> str:
    """An initializer list; an empty one is {0} (C has no empty initializers; counts say 0)."""
    return "{" + ", ".join(values) + "}" if values else "{0}"


def _array_body(blob: bytes) -> str:
    """The initializer's lines: decimal bytes, BYTES_PER_LINE a line (decimal keeps the text, and
    the compiler's work, about a third smaller than 0x.. hex)."""
    arr = np.frombuffer(blob, np.uint8)
    table = [str(i) for i in range(256)]
    lines = []
    for start in range(0, len(arr), BYTES_PER_LINE):
        lines.append("  " + ",".join(table[b] for b in arr[start:start + BYTES_PER_LINE].tolist()) + ",")
    return "\n".join(lines)


_ALIGN_MACRO = """\
/* PE_ALIGNAS16: 16-byte alignment for the blob and for the arena a program declares. */
#ifndef PE_ALIGNAS16
#if defined(__cplusplus) && __cplusplus >= 201103L
#define PE_ALIGNAS16 alignas(16)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define PE_ALIGNAS16 _Alignas(16)
#elif defined(__GNUC__) || defined(__clang__)
#define PE_ALIGNAS16 __attribute__((aligned(16)))
#elif defined(_MSC_VER)
#define PE_ALIGNAS16 __declspec(align(16))
#else
#error "pyedge: define PE_ALIGNAS16 as this compiler's 16-byte alignment specifier"
#endif
#endif
/* PE_UNUSED: no unused-variable warning for the static blob in a file that does not use it */
#ifndef PE_UNUSED
#if defined(__GNUC__) || defined(__clang__)
#define PE_UNUSED __attribute__((unused))
#else
#define PE_UNUSED
#endif
#endif
"""


def _tensor_defines(P: str, kind: str, tensors: list[CTensor]) -> list[str]:
    K = kind.upper()
    out = [f"#define {P}_NUM_{K}S {len(tensors)}"]
    for n, t in enumerate(tensors):
        q = f"{P}_{K}{n}"
        label = f" '{_comment(t.name)}'" if t.name else ""
        out.append(f"/* {kind} {n}: tensor {t.index}{label}, {t.dtype_name[3:].lower()} "
                   f"{list(t.shape)} */")
        out += [
            f"#define {q}_INDEX {t.index}",
            f"#define {q}_DTYPE {t.dtype} /* {t.dtype_name} */",
            f"#define {q}_CTYPE {t.ctype}",
            f"#define {q}_BYTES {t.nbytes}u",
            f"#define {q}_ELEMENTS {t.elements}u",
            f"#define {q}_RANK {len(t.shape)}",
        ]
        if t.shape:
            out.append(f"#define {q}_DIMS {_c_list([str(d) for d in t.shape])}")
        out += [f"#define {q}_SCALE {_c_float(t.scale)}", f"#define {q}_ZERO_POINT {_c_int(t.zero_point)}"]
        if t.name:
            out.append(f"#define {q}_NAME {_c_string(t.name)}")
    out += [
        f"/* all {kind}s, in order, as initializer lists */",
        f"#define {P}_{K}_INDEX_LIST {_c_list([str(t.index) for t in tensors])}",
        f"#define {P}_{K}_BYTES_LIST {_c_list([f'{t.nbytes}u' for t in tensors])}",
        f"#define {P}_{K}_DTYPE_LIST {_c_list([str(t.dtype) for t in tensors])}",
    ]
    return out


def _header(info: CModelInfo, name: str, source: str, *, with_data: bool, blob: bytes) -> str:
    from . import __version__

    P = name.upper()
    guard = f"PYEDGE_MODEL_{P}_H"
    sym, size_sym = f"{name}_blob", f"{name}_blob_size"
    where = f" from {_comment(source)}" if source else ""
    lines = [
        f"/* Generated by pyedge {__version__}{where}: do not edit.",
        " *",
        f" * {sym}: the pyedge blob ({info.blob_size} bytes, CRC-32 0x{info.checksum:08x}), 16-byte aligned,",
        " * for the pyedge C core (native/, no Python). Run it with:",
        " *",
        f" *   PE_ALIGNAS16 static uint8_t arena[{P}_ARENA_BYTES];",
        " *   pe_model m; pe_interp it;",
        f" *   pe_model_init(&m, {P}_BLOB, {P}_BLOB_SIZE);",
        " *   pe_interp_init(&it, &m, arena, sizeof arena, 0); (0: scalar kernels)",
        f" *   memcpy(pe_tensor_data(&it, {P}_INPUT0_INDEX), input, {P}_INPUT0_BYTES);",
        " *   pe_invoke(&it);",
        f" *   output = ({P}_OUTPUT0_CTYPE *)pe_tensor_data(&it, {P}_OUTPUT0_INDEX);",
        " *",
    ]
    if with_data:
        lines += [" * The array is static: every file that includes this header and uses it gets it,",
                  " * and a file that does not use it costs nothing. For one copy in a program that",
                  " * includes the header in several files:",
                  f" *   #define {P}_BLOB_EXTERN    before every #include of this header, and",
                  f" *   #define {P}_BLOB_DEFINE    as well before the #include in exactly one file."]
    else:
        lines.append(" * The array is defined in the .c written with this header; link it once.")
    lines += [" */", f"#ifndef {guard}", f"#define {guard}", "", "#include <stdint.h>", "", _ALIGN_MACRO]
    lines += [
        "/* the pyedge blob format this was packed for: a core of another major version refuses it */",
        f"#define {P}_BLOB_VERSION_MAJOR {BLOB_VERSION_MAJOR}",
        f"#if defined(PE_VERSION_MAJOR) && PE_VERSION_MAJOR != {BLOB_VERSION_MAJOR}",
        f"#error \"{name}: pyedge blob format {BLOB_VERSION_MAJOR} but pyedge.h is another major version\"",
        "#endif",
        f"#define {P}_BLOB {sym}",
        f"#define {P}_BLOB_SIZE {info.blob_size}u",
        f"#define {P}_BLOB_CRC32 0x{info.checksum:08x}u",
        f"#define {P}_TARGET_FEATURES {info.target_features}u /* PE_FEAT_* the layouts were packed for */",
        "/* RAM: the one arena the caller provides (16-byte aligned) = pe_model_arena_bytes() */",
        f"#define {P}_ARENA_BYTES {info.arena_bytes}u",
        f"#define {P}_STATE_BYTES {info.state_bytes}u /* persistent state, first in the arena */",
        f"#define {P}_ACTIVATION_BYTES {info.activation_bytes}u /* planned activations and scratch */",
        "",
    ]
    lines += _tensor_defines(P, "input", info.inputs) + [""]
    lines += _tensor_defines(P, "output", info.outputs) + [""]
    lines += ["#ifdef __cplusplus", 'extern "C" {', "#endif", ""]
    if with_data:
        lines += [
            f"#if defined({P}_BLOB_EXTERN) || defined({P}_BLOB_DEFINE)",
            f"PE_ALIGNAS16 extern const uint8_t {sym}[{P}_BLOB_SIZE];",
            f"extern const uint32_t {size_sym};",
            f"#define PYEDGE_{P}_LINKAGE /* external: the definition below, or another file's */",
            "#else",
            f"#define PYEDGE_{P}_LINKAGE static",
            "#endif",
            f"#if defined({P}_BLOB_DEFINE) || !defined({P}_BLOB_EXTERN)",
            f"PE_ALIGNAS16 PYEDGE_{P}_LINKAGE const uint8_t {sym}[{P}_BLOB_SIZE] PE_UNUSED = {{",
            _array_body(blob),
            "};",
            f"PYEDGE_{P}_LINKAGE const uint32_t {size_sym} PE_UNUSED = {P}_BLOB_SIZE;",
            "#endif",
        ]
    else:
        lines += [
            f"PE_ALIGNAS16 extern const uint8_t {sym}[{P}_BLOB_SIZE];",
            f"extern const uint32_t {size_sym};",
        ]
    lines += ["", "#ifdef __cplusplus", "}", "#endif", f"#endif /* {guard} */", ""]
    return "\n".join(lines)


def blob_to_c(blob: bytes, name: str = "model", *, header_name: str | None = None,
              source: str = "") -> tuple[str, str]:
    """C text for a pyedge blob; `name` prefixes every symbol (`name_blob`, `name_blob_size`) and,
    upper-cased, every macro (`NAME_ARENA_BYTES`, `NAME_INPUT0_INDEX`, ...).

    Without `header_name`: returns (header, "") where the header defines the array itself.
    With `header_name` (the file name the .c includes): returns (header, source) where the
    header declares the array and the .c defines it. `source` names the model in a comment.
    The blob is validated by the C core first (BlobError if it would be refused)."""
    check_name(name)
    info = model_info(blob)
    if header_name is None:
        return _header(info, name, source, with_data=True, blob=blob), ""
    if not header_name or any(c in header_name for c in '"\\/\n') or not header_name.endswith(".h"):
        raise ValueError(f"header name {header_name!r} must be a plain file name ending in .h")
    h = _header(info, name, source, with_data=False, blob=blob)
    P = name.upper()
    c = "\n".join([
        f"/* Generated by pyedge from {_comment(source) or 'a pyedge blob'}: do not edit. */",
        f'#include "{header_name}"',
        "",
        f"PE_ALIGNAS16 const uint8_t {name}_blob[{P}_BLOB_SIZE] = {{",
        _array_body(blob),
        "};",
        f"const uint32_t {name}_blob_size = {P}_BLOB_SIZE;",
        "",
    ])
    return h, c


def write_c(blob: bytes, output: str | Path, name: str = "model", source: str = "") -> list[Path]:
    """Write `output` (.h: one self-contained header; .c: the .c plus a .h beside it with the
    same stem). Returns the paths written."""
    out = Path(output)
    if out.suffix not in (".h", ".c"):
        raise ValueError(f"C output {str(out)!r} must end in .h or .c")
    if out.suffix == ".h":
        h, _ = blob_to_c(blob, name, source=source)
        out.write_text(h)
        return [out]
    hpath = out.with_suffix(".h")
    h, c = blob_to_c(blob, name, header_name=hpath.name, source=source)
    out.write_text(c)
    hpath.write_text(h)
    return [out, hpath]


PE_INT16 = 7  # pe_dtype (TFLite's TensorType numbering)


def op_list(blob: bytes) -> list[tuple[str, int]]:
    """The (op name, packed weight layout id) pairs the blob's ops use, every subgraph, sorted."""
    from ._native import op_names

    model_info(blob)  # validated by the core first
    names = op_names()
    return sorted({(names[o["code"]], int(o["layout"])) for o in read_blob(bytes(blob)).ops})


def op_list_header(blob: bytes, source: str = "") -> str:
    """A C header naming the ops and layouts of `blob`, for firmware that links only those:
    compile the core's native/src/ops.c with -DPE_OP_LIST='"this_header.h"'. The op table then
    keeps only these ops and the variant table only their rows for these layouts (a blob
    needing anything else is refused at pe_model_init, PE_ERR_UNSUPPORTED_OP or PE_ERR_LAYOUT),
    and the linker's --gc-sections drops every other kernel."""
    pairs = op_list(blob)
    lines = [f"/* Generated by pyedge from {_comment(source) or 'a pyedge blob'}: do not edit.",
             " * The ops and weight layouts this model uses (native/src/ops.c reads it with PE_OP_LIST):",
             " *   " + ", ".join(f"{op} ({LAYOUT_NAMES.get(lay, lay)})" for op, lay in pairs),
             " */", "#ifndef PE_OP_LIST_H", "#define PE_OP_LIST_H"]
    for op in sorted({op for op, _ in pairs}):
        lines.append(f"#define PE_USE_OP_{op} PE_PROBE")
    for op, lay in pairs:
        # kernels.def writes a layout as a PE_LAYOUT_* macro (1u) or as 0: both spellings
        lines += [f"#define PE_USE_LAYOUT_{op}_{lay} PE_PROBE", f"#define PE_USE_LAYOUT_{op}_{lay}u PE_PROBE"]
    info = read_blob(bytes(blob))
    if any(t["type_code"] == PE_INT16 for t in info.tensors):
        # the 16x8 kernels share the int8 GEMM layout: only the element type tells them apart
        lines.append("#define PE_USE_INT16 1")
    lines += ["#endif", ""]
    return "\n".join(lines)


def write_op_list(blob: bytes, output: str | Path, source: str = "") -> Path:
    out = Path(output)
    out.write_text(op_list_header(blob, source))
    return out


__all__ = ["CModelInfo", "CTensor", "blob_to_c", "check_name", "model_info", "op_list", "op_list_header",
           "write_c", "write_op_list"]
