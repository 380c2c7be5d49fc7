"""pyedge's in-memory model of a network: tensors, operators, subgraphs."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# TFLite TensorType -> numpy dtype (None: no numpy equivalent pyedge handles)
TFLITE_DTYPES: dict[int, Any] = {
    0: np.float32,
    1: np.float16,
    2: np.int32,
    3: np.uint8,
    4: np.int64,
    5: None,  # STRING
    6: np.bool_,
    7: np.int16,
    8: np.complex64,
    9: np.int8,
    10: np.float64,
    13: None,  # RESOURCE
    15: np.uint32,
    16: np.uint16,
    17: None,  # INT4
}
TFLITE_TYPE_NAMES = {
    0: "FLOAT32", 1: "FLOAT16", 2: "INT32", 3: "UINT8", 4: "INT64", 5: "STRING", 6: "BOOL",
    7: "INT16", 8: "COMPLEX64", 9: "INT8", 10: "FLOAT64", 11: "COMPLEX128", 12: "UINT64",
    13: "RESOURCE", 14: "VARIANT", 15: "UINT32", 16: "UINT16", 17: "INT4",
}
INT4 = 17


def unpack_int4(packed: np.ndarray, count: int) -> np.ndarray:
    """TFLite's dense INT4 bytes (two values per byte, the low nibble first; an odd count leaves
    the last high nibble unused) -> `count` int8 values in [-8, 7]
    (tensor_utils::UnpackDenseInt4IntoInt8)."""
    b = np.asarray(packed, np.uint8).reshape(-1)
    lo = (b & 0x0F).astype(np.int8)
    hi = (b >> 4).astype(np.int8)
    out = np.empty(2 * b.size, np.int8)
    out[0::2], out[1::2] = lo, hi
    out = out[:count]
    return np.where(out > 7, out - 16, out).astype(np.int8)


def pack_int4(values: np.ndarray) -> bytes:
    """int8 values in [-8, 7] -> TFLite's dense INT4 bytes (tensor_utils::PackInt8IntoDenseInt4)."""
    v = np.asarray(values).reshape(-1)
    if v.size and (v.min() < -8 or v.max() > 7):
        raise ValueError(f"int4 values must lie in [-8, 7], got [{v.min()}, {v.max()}]")
    n = np.zeros(v.size + (v.size & 1), np.uint8)
    n[:v.size] = v.astype(np.int16) & 0x0F
    return (n[0::2] | (n[1::2] << 4)).astype(np.uint8).tobytes()


# Types the C core stores (pe_dtype uses TFLite's numbering).
CORE_TYPES = {0, 2, 3, 4, 6, 7, 9, 13}
RESOURCE = 13


@dataclass
class Tensor:
    """One tensor of a subgraph. `gidx` is its index in the blob's tensor table."""

    index: int
    name: str
    shape: tuple[int, ...]
    type_code: int
    shape_signature: tuple[int, ...] | None = None
    data: np.ndarray | None = None
    scales: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    zero_points: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    quantized_dimension: int = 0
    is_variable: bool = False
    subgraph: int = 0
    gidx: int = -1

    @property
    def dtype(self):
        return TFLITE_DTYPES.get(self.type_code)

    @property
    def type_name(self) -> str:
        return TFLITE_TYPE_NAMES.get(self.type_code, f"type {self.type_code}")

    @property
    def is_const(self) -> bool:
        return self.data is not None and not self.is_variable

    @property
    def quantized(self) -> bool:
        return len(self.scales) > 0

    @property
    def scale(self) -> float:
        """Per-tensor scale as TFLite's `params.scale` (float32 value)."""
        return float(self.scales[0]) if len(self.scales) else 0.0

    @property
    def zero_point(self) -> int:
        return int(self.zero_points[0]) if len(self.zero_points) else 0

    @property
    def per_channel(self) -> bool:
        return len(self.scales) > 1

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1


@dataclass
class Operator:
    index: int
    opcode: str  # builtin name ("CONV_2D") or "CUSTOM"
    builtin_code: int
    version: int
    inputs: list[int]
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)
    options_type: str = ""
    custom_code: str | None = None
    intermediates: list[int] = field(default_factory=list)
    subgraph: int = 0


@dataclass
class Subgraph:
    index: int
    name: str
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]


@dataclass
class Graph:
    subgraphs: list[Subgraph]
    signatures: list[dict[str, Any]] = field(default_factory=list)
    description: str = ""
    version: int = 3
    warnings: list[str] = field(default_factory=list)
