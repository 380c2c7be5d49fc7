"""The pyedge blob format (docs/blob-format.md): writer and reader.

Every record's `struct` format here mirrors a C struct in native/include/pyedge.h; the
tests compare sizes and offsets with the compiled core."""
from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAGIC = 0x31424550  # b"PEB1"
MAGIC_BYTES = b"PEB1"
VERSION_MAJOR = 2
VERSION_MINOR = 0
ALIGN = 16
NONE = 0xFFFFFFFF
MAX_RANK = 6
LAYOUT_GENERIC = 0
LAYOUT_QS8_GEMM_N16K4 = 1  # native/kernels/qs8_gemm.h
LAYOUT_QS8_DWDM_PAIRS = 2  # native/kernels/qs8_dwconv_dm.h
LAYOUT_QS4_GEMM_N16K8 = 3  # native/kernels/qs4_gemm.h
LAYOUT_QS4_DW = 4  # native/kernels/qs4_dwconv.h
LAYOUT_NAMES = {LAYOUT_GENERIC: "generic", LAYOUT_QS8_GEMM_N16K4: "qs8_gemm_n16k4",
                LAYOUT_QS8_DWDM_PAIRS: "qs8_dwdm_pairs", LAYOUT_QS4_GEMM_N16K8: "qs4_gemm_n16k8",
                LAYOUT_QS4_DW: "qs4_dw"}
INT4_LAYOUTS = (LAYOUT_QS4_GEMM_N16K8, LAYOUT_QS4_DW)

SEC_TENSORS, SEC_OPS, SEC_SUBGRAPHS, SEC_INDICES, SEC_PARAMS, SEC_QUANT, SEC_CONST, SEC_META = range(8)
SECTION_NAMES = ["tensors", "ops", "subgraphs", "indices", "params", "quant", "const", "meta"]
N_SECTIONS = 8

STORE_NONE, STORE_CONST, STORE_ARENA, STORE_STATE = 0, 1, 2, 3
TF_VARIABLE = 1

# On-disk records: (C field name, struct code) in C declaration order. The tests check every
# field's offset and the total size against the compiled core (cffi's offsetof/sizeof).
HEADER_FIELDS = [
    ("magic", "I"), ("version_major", "H"), ("version_minor", "H"), ("header_size", "I"),
    ("total_size", "I"), ("checksum", "I"), ("flags", "I"), ("target_features", "I"), ("alignment", "I"),
    ("arena_size", "I"), ("state_size", "I"), ("n_tensors", "I"), ("n_ops", "I"),
    ("n_subgraphs", "I"), ("threads", "I"), ("reserved", "2I"), ("sections", "16I"),
]
TENSOR_FIELDS = [
    ("dtype", "B"), ("rank", "B"), ("storage", "B"), ("flags", "B"), ("dims", "6i"),
    ("offset", "I"), ("bytes", "I"), ("scale", "f"), ("zero_point", "i"), ("quant", "I"),
]
OP_FIELDS = [
    ("op", "H"), ("version", "H"), ("n_inputs", "H"), ("n_outputs", "H"), ("io", "I"),
    ("params", "I"), ("params_size", "I"), ("scratch", "I"), ("scratch_size", "I"),
    ("src_index", "I"), ("layout", "I"), ("reserved", "I"),
]
SUBGRAPH_FIELDS = [
    ("first_op", "I"), ("n_ops", "I"), ("inputs", "I"), ("n_inputs", "I"), ("outputs", "I"),
    ("n_outputs", "I"), ("reserved", "2I"),
]


def _record(fields: list[tuple[str, str]]) -> struct.Struct:
    return struct.Struct("<" + "".join(code for _, code in fields))


HEADER = _record(HEADER_FIELDS)        # pe_header, 128 bytes
TENSOR = _record(TENSOR_FIELDS)        # pe_tensor_rec, 48 bytes
OP = _record(OP_FIELDS)                # pe_op_rec, 40 bytes
SUBGRAPH = _record(SUBGRAPH_FIELDS)    # pe_subgraph_rec, 32 bytes
CHECKSUM_OFFSET = struct.calcsize("<IHHII")
RECORDS = {"pe_header": HEADER_FIELDS, "pe_tensor_rec": TENSOR_FIELDS, "pe_op_rec": OP_FIELDS,
           "pe_subgraph_rec": SUBGRAPH_FIELDS}

ELEMENT_SIZE = {0: 4, 2: 4, 3: 1, 4: 8, 6: 1, 7: 2, 9: 1, 13: 0}


def align(x: int, a: int = ALIGN) -> int:
    return (x + a - 1) // a * a


@dataclass
class BlobTensor:
    type_code: int
    shape: tuple[int, ...]
    storage: int
    offset: int = 0
    flags: int = 0
    scale: float = 0.0
    zero_point: int = 0
    scales: np.ndarray | None = None        # per-channel (len > 1) only
    zero_points: np.ndarray | None = None
    axis: int = 0
    data: bytes | None = None               # CONST only
    name: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * ELEMENT_SIZE.get(self.type_code, 0)  # 0: no storage


@dataclass
class BlobOp:
    code: int
    version: int
    inputs: list[int]
    outputs: list[int]
    params: bytes
    scratch: int = 0
    scratch_size: int = 0
    src_index: int = 0
    layout: int = LAYOUT_GENERIC


@dataclass
class BlobSubgraph:
    first_op: int
    n_ops: int
    inputs: list[int]
    outputs: list[int]


def write_blob(tensors: list[BlobTensor], ops: list[BlobOp], subgraphs: list[BlobSubgraph],
               arena_size: int, state_size: int, meta: dict[str, Any] | None = None,
               target_features: int = 0, threads: int = 1) -> bytes:
    """Serialize a planned program into blob bytes (little-endian, aligned, checksummed)."""
    indices: list[int] = []
    params = bytearray()
    quant = bytearray()
    const = bytearray()
    op_recs = bytearray()
    for op in ops:
        io = len(indices)
        indices.extend(op.inputs)
        indices.extend(op.outputs)
        if len(op.params) % 4:
            raise ValueError("op params must be a multiple of 4 bytes")
        poff = len(params)
        params += op.params
        op_recs += OP.pack(op.code, op.version, len(op.inputs), len(op.outputs), io, poff,
                           len(op.params), op.scratch, op.scratch_size, op.src_index, op.layout, 0)
    sg_recs = bytearray()
    for sg in subgraphs:
        i0 = len(indices)
        indices.extend(sg.inputs)
        o0 = len(indices)
        indices.extend(sg.outputs)
        sg_recs += SUBGRAPH.pack(sg.first_op, sg.n_ops, i0, len(sg.inputs), o0, len(sg.outputs), 0, 0)
    t_recs = bytearray()
    for t in tensors:
        if len(t.shape) > MAX_RANK:
            raise ValueError(f"tensor {t.name!r} has rank {len(t.shape)} > {MAX_RANK}")
        dims = list(t.shape) + [1] * (MAX_RANK - len(t.shape))
        offset = t.offset
        if t.storage == STORE_CONST:
            const += b"\0" * (align(len(const)) - len(const))
            offset = len(const)
            data = t.data or b""
            if len(data) != t.nbytes:
                raise ValueError(f"constant {t.name!r}: {len(data)} bytes for shape {t.shape}")
            const += data
        q = NONE
        if t.scales is not None and len(t.scales) > 1:
            q = len(quant)
            n = len(t.scales)
            quant += struct.pack(f"<ii{n}f{n}i", n, t.axis, *[float(s) for s in t.scales],
                                 *[int(z) for z in t.zero_points])
        t_recs += TENSOR.pack(t.type_code, len(t.shape), t.storage, t.flags, *dims, offset, t.nbytes,
                              float(t.scale), int(t.zero_point), q)
    meta_bytes = json.dumps(meta or {}, separators=(",", ":")).encode()
    body = [
        (SEC_TENSORS, bytes(t_recs)), (SEC_OPS, bytes(op_recs)), (SEC_SUBGRAPHS, bytes(sg_recs)),
        (SEC_INDICES, struct.pack(f"<{len(indices)}i", *indices)), (SEC_PARAMS, bytes(params)),
        (SEC_QUANT, bytes(quant)), (SEC_META, meta_bytes), (SEC_CONST, bytes(const)),
    ]
    sections = [(0, 0)] * N_SECTIONS
    out = bytearray(HEADER.size)
    for sec, data in body:
        out += b"\0" * (align(len(out)) - len(out))
        sections[sec] = (len(out), len(data))
        out += data
    out += b"\0" * (align(len(out)) - len(out))
    flat = [x for s in sections for x in s]
    hdr = HEADER.pack(MAGIC, VERSION_MAJOR, VERSION_MINOR, HEADER.size, len(out), 0, 0, target_features,
                      ALIGN, align(arena_size), state_size, len(tensors), len(ops), len(subgraphs), threads, 0, 0,
                      *flat)
    out[: HEADER.size] = hdr
    crc = zlib.crc32(bytes(out)) & 0xFFFFFFFF
    struct.pack_into("<I", out, CHECKSUM_OFFSET, crc)
    return bytes(out)


@dataclass
class BlobInfo:
    """A parsed blob: what the Interpreter needs for tensor details (validation is the core's)."""

    header: dict[str, Any]
    sections: list[tuple[int, int]]
    tensors: list[dict[str, Any]]
    ops: list[dict[str, Any]]
    subgraphs: list[dict[str, Any]]
    meta: dict[str, Any]


def is_blob(data: bytes) -> bool:
    return bytes(data[:4]) == MAGIC_BYTES


def read_blob(buf: bytes | memoryview) -> BlobInfo:
    """Parse a blob's records. Call only after the C core validated it (pe_model_init)."""
    mv = memoryview(buf)
    h = HEADER.unpack_from(mv, 0)
    names = ["magic", "version_major", "version_minor", "header_size", "total_size", "checksum",
             "flags", "target_features", "alignment", "arena_size", "state_size", "n_tensors", "n_ops",
             "n_subgraphs", "threads"]
    header = dict(zip(names, h[:15]))
    flat = h[17:]
    sections = [(flat[2 * i], flat[2 * i + 1]) for i in range(N_SECTIONS)]
    ind_off, ind_size = sections[SEC_INDICES]
    indices = np.frombuffer(mv, np.int32, ind_size // 4, ind_off)
    q_off, _ = sections[SEC_QUANT]
    tensors = []
    t_off = sections[SEC_TENSORS][0]
    for i in range(header["n_tensors"]):
        r = TENSOR.unpack_from(mv, t_off + i * TENSOR.size)
        rank = r[1]
        rec = {"type_code": r[0], "shape": tuple(r[4:4 + rank]), "storage": r[2], "flags": r[3],
               "offset": r[10], "bytes": r[11], "scale": r[12], "zero_point": r[13], "quant": r[14]}
        if rec["quant"] != NONE:
            n, axis = struct.unpack_from("<ii", mv, q_off + rec["quant"])
            base = q_off + rec["quant"] + 8
            rec["scales"] = np.frombuffer(mv, np.float32, n, base).copy()
            rec["zero_points"] = np.frombuffer(mv, np.int32, n, base + 4 * n).copy()
            rec["axis"] = axis
        tensors.append(rec)
    ops = []
    o_off = sections[SEC_OPS][0]
    for i in range(header["n_ops"]):
        r = OP.unpack_from(mv, o_off + i * OP.size)
        ni, no, io = r[2], r[3], r[4]
        ops.append({"code": r[0], "version": r[1], "inputs": indices[io:io + ni].tolist(),
                    "outputs": indices[io + ni:io + ni + no].tolist(), "params_size": r[6],
                    "scratch": r[7], "scratch_size": r[8], "src_index": r[9], "layout": r[10]})
    subgraphs = []
    s_off = sections[SEC_SUBGRAPHS][0]
    for i in range(header["n_subgraphs"]):
        r = SUBGRAPH.unpack_from(mv, s_off + i * SUBGRAPH.size)
        subgraphs.append({"first_op": r[0], "n_ops": r[1], "inputs": indices[r[2]:r[2] + r[3]].tolist(),
                          "outputs": indices[r[4]:r[4] + r[5]].tolist()})
    m_off, m_size = sections[SEC_META]
    try:
        meta = json.loads(bytes(mv[m_off:m_off + m_size]).decode()) if m_size else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        meta = {}
    return BlobInfo(header, sections, tensors, ops, subgraphs, meta)
