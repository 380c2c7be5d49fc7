"""Write small `.tflite` flatbuffers (single ops, small graphs, several subgraphs) for tests."""

from __future__ import annotations

import functools
import inspect
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import flatbuffers
import numpy as np
import tflite

SCHEMA_VERSION = 3
FILE_IDENTIFIER = b"TFL3"
BUFFER_ALIGNMENT = 16

TENSOR_TYPES: dict[str, int] = {
    "float32": tflite.TensorType.FLOAT32,
    "float16": tflite.TensorType.FLOAT16,
    "float64": tflite.TensorType.FLOAT64,
    "bfloat16": tflite.TensorType.BFLOAT16,
    "int4": tflite.TensorType.INT4,
    "int8": tflite.TensorType.INT8,
    "int16": tflite.TensorType.INT16,
    "int32": tflite.TensorType.INT32,
    "int64": tflite.TensorType.INT64,
    "uint8": tflite.TensorType.UINT8,
    "uint16": tflite.TensorType.UINT16,
    "uint32": tflite.TensorType.UINT32,
    "uint64": tflite.TensorType.UINT64,
    "bool": tflite.TensorType.BOOL,
    "complex64": tflite.TensorType.COMPLEX64,
    "complex128": tflite.TensorType.COMPLEX128,
    "string": tflite.TensorType.STRING,
    "resource": tflite.TensorType.RESOURCE,
    "variant": tflite.TensorType.VARIANT,
}

# Types whose constant data can be given as a numpy array; the others take raw bytes.
_NUMPY_TYPES = {
    "float32", "float16", "float64", "int8", "int16", "int32", "int64",
    "uint8", "uint16", "uint32", "uint64", "bool", "complex64", "complex128",
}

# Default operator versions keyed by the type of the op's main input, following
# tensorflow/lite/tools/versioning/op_version.cc (options-dependent cases in _op_version).
_I8_2 = {"int8": 2}
_I8_2_I16_3 = {"int8": 2, "int16": 3}
_VERSIONS: dict[str, dict[str, int]] = {
    "ADD": {"int8": 2, "int16": 3, "int64": 4},
    "SUB": {"int8": 2, "int16": 5, "int64": 4},
    "MUL": {"int8": 2, "int16": 4, "int64": 5},
    "CONV_2D": {"int8": 3, "int16": 4},
    "DEPTHWISE_CONV_2D": {"int8": 3, "int16": 5},
    "FULLY_CONNECTED": {"int8": 4, "int16": 7},
    "AVERAGE_POOL_2D": _I8_2_I16_3,
    "MAX_POOL_2D": _I8_2_I16_3,
    "SOFTMAX": _I8_2_I16_3,
    "MEAN": _I8_2_I16_3,
    "MIRROR_PAD": _I8_2_I16_3,
    "REDUCE_MAX": _I8_2_I16_3,
    "REDUCE_MIN": _I8_2_I16_3,
    "RELU6": _I8_2_I16_3,
    "RSQRT": _I8_2_I16_3,
    "TANH": _I8_2_I16_3,
    "LOGISTIC": _I8_2_I16_3,
    "CONCATENATION": _I8_2_I16_3,
    "PAD": _I8_2_I16_3,
    "PADV2": _I8_2_I16_3,
    "BATCH_MATMUL": _I8_2_I16_3,
    "RELU": {"int8": 2, "uint8": 2, "int16": 3},
    "LEAKY_RELU": {"int16": 2},
    "ABS": {"int8": 2, "uint8": 2, "int16": 3, "int32": 5},
    "MAXIMUM": {"int8": 2, "int16": 4},
    "MINIMUM": {"int8": 2, "int16": 4},
    "PACK": {"int8": 2, "int16": 3},
    "UNPACK": {"int8": 2, "uint8": 2, "bool": 3, "int16": 4},
    "TRANSPOSE": {"int8": 2, "bool": 3, "int16": 5},
    "STRIDED_SLICE": {"int8": 2, "bool": 3},
    "SLICE": {"int8": 2, "int16": 4},
    "GATHER": {"int8": 2, "bool": 3, "int16": 4},
    "GATHER_ND": {"int16": 3},
    "SPLIT": {"int8": 2, "int32": 3, "int16": 4},
    "SPLIT_V": _I8_2,
    "SPACE_TO_DEPTH": _I8_2,
    "DEPTH_TO_SPACE": _I8_2,
    "SUM": _I8_2,
    "LOG_SOFTMAX": _I8_2,
    "GREATER": _I8_2,
    "LESS_EQUAL": _I8_2,
    "NOT_EQUAL": _I8_2,
    "SQUARED_DIFFERENCE": _I8_2,
    "LESS": _I8_2_I16_3,
    "GREATER_EQUAL": _I8_2_I16_3,
    "EQUAL": {"int8": 2, "int16": 4},
    "ARG_MAX": {"int8": 2, "bool": 3},
    "ARG_MIN": {"int8": 2, "bool": 3},
    "SELECT": _I8_2,
    "TOPK_V2": _I8_2_I16_3,
    "EXP": {"int8": 2, "int16": 2},
    "LOG": {"int8": 2, "int16": 2},
    "REDUCE_PROD": {"int8": 2, "int16": 2},
    "TILE": {"int8": 3},
    "SPACE_TO_BATCH_ND": {"int8": 2, "int16": 4},
    "BATCH_TO_SPACE_ND": {"int8": 2, "int16": 4},
    "RESIZE_BILINEAR": {"int8": 2, "int16": 4},
    "RESIZE_NEAREST_NEIGHBOR": {"int8": 2, "int16": 4},
    "DEQUANTIZE": {"int8": 2, "int16": 3, "float16": 3},
    "FLOOR_DIV": {"float32": 2, "int8": 3, "int16": 3},
    "FLOOR_MOD": {"int8": 2, "int16": 2},
    "SVDF": {"int8": 3},
    "UNIDIRECTIONAL_SEQUENCE_LSTM": {"int16": 5},
    "GELU": {"int8": 2, "uint8": 2},
    "RANGE": {"int64": 2},
    "SIGN": {"int32": 2},
}
# Ops whose version is decided by an input other than input 0.
_KEY_INPUT = {"SPLIT": 1, "TRANSPOSE_CONV": 2}
# Highest versions tflite-runtime 2.14's BUILTIN_REF resolver registers, where below the
# converter's choice; default versions are capped so the oracle can load every model.
_REF_MAX_VERSIONS = {
    "ABS": 3, "ARG_MAX": 2, "ARG_MIN": 2, "DEPTH_TO_SPACE": 1, "DEQUANTIZE": 4, "LOG": 1,
    "QUANTIZE": 2, "RANGE": 1, "RSQRT": 2, "SIGN": 1, "TILE": 2, "TRANSPOSE_CONV": 3,
    "UNIDIRECTIONAL_SEQUENCE_LSTM": 3,
}


@dataclass
class _Tensor:
    shape: list[int]
    dtype: str
    name: str
    buffer: int
    scale: list[float] | None
    zero_point: list[int] | None
    quantized_dimension: int
    is_variable: bool
    shape_signature: list[int] | None


@dataclass
class _Operator:
    opcode_index: int
    inputs: list[int]
    outputs: list[int]
    options: tuple[str, dict[str, Any]] | None
    custom_options: bytes | None
    intermediates: list[int] | None


@dataclass
class _Subgraph:
    name: str
    tensors: list[_Tensor] = field(default_factory=list)
    operators: list[_Operator] = field(default_factory=list)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)


@dataclass
class _Signature:
    key: str
    inputs: dict[str, int]
    outputs: dict[str, int]
    subgraph: int


def dtype_name(dtype: Any) -> str:
    """Normalise a numpy dtype or type string to a key of TENSOR_TYPES."""
    if isinstance(dtype, str) and dtype in TENSOR_TYPES:
        return dtype
    name = np.dtype(dtype).name
    if name not in TENSOR_TYPES:
        raise ValueError(f"unsupported tensor dtype {dtype!r}")
    return name


def builtin_code(op: str) -> int:
    """BuiltinOperator value for a name like "CONV_2D"."""
    try:
        return getattr(tflite.BuiltinOperator, op)
    except AttributeError:
        raise ValueError(f"unknown builtin operator {op!r}") from None


class ModelBuilder:
    """Accumulates subgraphs, tensors, operators and signatures; `build()` writes the flatbuffer."""

    def __init__(self, description: str = "pyedge test model") -> None:
        self.description = description
        self._subgraphs: list[_Subgraph] = [_Subgraph("main")]
        self._buffers: list[bytes] = [b""]
        self._opcodes: list[tuple[int, str | None, int]] = []
        self._signatures: list[_Signature] = []

    def add_subgraph(self, name: str = "") -> int:
        """Append an empty subgraph and return its index."""
        self._subgraphs.append(_Subgraph(name))
        return len(self._subgraphs) - 1

    def add_tensor(
        self,
        shape: Sequence[int] | None,
        dtype: Any,
        *,
        name: str | None = None,
        data: np.ndarray | bytes | None = None,
        scale: float | Sequence[float] | None = None,
        zero_point: int | Sequence[int] | None = None,
        quantized_dimension: int = 0,
        is_variable: bool = False,
        shape_signature: Sequence[int] | None = None,
        subgraph: int = 0,
    ) -> int:
        """Add a tensor (constant if `data` is given) and return its index in the subgraph."""
        sg = self._subgraphs[subgraph]
        dt = dtype_name(dtype)
        if data is None:
            if shape is None:
                raise ValueError("shape is required for tensors without data")
            buffer = self._add_buffer(b"")
        else:
            payload, data_shape = _tensor_bytes(data, dt, shape)
            shape = data_shape if shape is None else shape
            buffer = self._add_buffer(payload)
        scales, zero_points = _quant_params(scale, zero_point)
        index = len(sg.tensors)
        sg.tensors.append(_Tensor(
            shape=[int(d) for d in shape],
            dtype=dt,
            name=name if name is not None else f"tensor_{index}",
            buffer=buffer,
            scale=scales,
            zero_point=zero_points,
            quantized_dimension=quantized_dimension,
            is_variable=is_variable,
            shape_signature=None if shape_signature is None else [int(d) for d in shape_signature],
        ))
        return index

    def add_operator(
        self,
        op: str,
        inputs: Sequence[int],
        outputs: Sequence[int],
        options: tuple[str, Mapping[str, Any]] | bytes | None = None,
        *,
        version: int | None = None,
        custom_code: str | None = None,
        intermediates: Sequence[int] | None = None,
        subgraph: int = 0,
    ) -> int:
        """Append an operator; `options` is (OptionsTable, {Field: value}) or CUSTOM's raw bytes."""
        sg = self._subgraphs[subgraph]
        code = builtin_code(op)
        if (code == tflite.BuiltinOperator.CUSTOM) != (custom_code is not None):
            raise ValueError("custom_code is required for, and only for, op 'CUSTOM'")
        inputs, outputs = [int(i) for i in inputs], [int(i) for i in outputs]
        for i in inputs + outputs + list(intermediates or []):
            if not -1 <= i < len(sg.tensors):
                raise ValueError(f"{op}: tensor index {i} out of range")
        if -1 in outputs:
            raise ValueError(f"{op}: outputs cannot be omitted")
        custom_options = None
        if isinstance(options, (bytes, bytearray)):
            custom_options, options = bytes(options), None
        elif options is not None:
            options = (options[0], dict(options[1]))
            _check_options(*options)
        if version is None:
            in_tensors = [sg.tensors[i] if i >= 0 else None for i in inputs]
            out_tensors = [sg.tensors[i] for i in outputs]
            version = _op_version(op, in_tensors, out_tensors, options[1] if options else {})
        key = (code, custom_code, int(version))
        if key not in self._opcodes:
            self._opcodes.append(key)
        sg.operators.append(_Operator(
            opcode_index=self._opcodes.index(key),
            inputs=inputs,
            outputs=outputs,
            options=options,
            custom_options=custom_options,
            intermediates=None if intermediates is None else [int(i) for i in intermediates],
        ))
        return len(sg.operators) - 1

    def set_io(self, inputs: Sequence[int], outputs: Sequence[int], subgraph: int = 0) -> None:
        """Set the subgraph's input and output tensor indices."""
        sg = self._subgraphs[subgraph]
        sg.inputs, sg.outputs = [int(i) for i in inputs], [int(i) for i in outputs]

    def add_signature(
        self, key: str, inputs: Mapping[str, int], outputs: Mapping[str, int], subgraph: int = 0
    ) -> None:
        """Add a SignatureDef mapping names to tensor indices of `subgraph`."""
        self._signatures.append(_Signature(key, dict(inputs), dict(outputs), subgraph))

    def build(self, external_buffers: bool = False) -> bytes:
        """Serialise the model to `.tflite` bytes. `external_buffers`: constant data follows the
        flatbuffer and Buffer tables give its file offset and size (TFLite's layout for models
        past 2 GB) instead of holding it in `data` vectors."""
        if not external_buffers:
            return self._build(None)
        # the fields' values do not change the flatbuffer's length: size it with placeholders
        probe = self._build([(1 << 40, 1 << 40) if d else (0, 0) for d in self._buffers])
        where, pos = [], len(probe)
        for data in self._buffers:
            pos = (pos + BUFFER_ALIGNMENT - 1) // BUFFER_ALIGNMENT * BUFFER_ALIGNMENT
            where.append((pos, len(data)) if data else (0, 0))
            pos += len(data)
        fb = self._build(where)
        assert len(fb) == len(probe)
        out = bytearray(fb)
        for (off, size), data in zip(where, self._buffers):
            if data:
                out += b"\0" * (off - len(out)) + data
        return bytes(out)

    def _build(self, external: list[tuple[int, int]] | None) -> bytes:
        b = flatbuffers.Builder(1024)
        buffers = [_build_buffer(b, data, None if external is None else external[k])
                   for k, data in enumerate(self._buffers)]
        opcodes = [_build_opcode(b, *key) for key in self._opcodes]
        subgraphs = [self._build_subgraph(b, sg) for sg in self._subgraphs]
        signatures = [_build_signature(b, sig) for sig in self._signatures]
        description = b.CreateString(self.description)

        buffers_vec = _offset_vector(b, buffers)
        opcodes_vec = _offset_vector(b, opcodes)
        subgraphs_vec = _offset_vector(b, subgraphs)
        signatures_vec = _offset_vector(b, signatures) if signatures else None

        tflite.ModelStart(b)
        tflite.ModelAddVersion(b, SCHEMA_VERSION)
        tflite.ModelAddOperatorCodes(b, opcodes_vec)
        tflite.ModelAddSubgraphs(b, subgraphs_vec)
        tflite.ModelAddDescription(b, description)
        tflite.ModelAddBuffers(b, buffers_vec)
        if signatures_vec is not None:
            tflite.ModelAddSignatureDefs(b, signatures_vec)
        b.Finish(tflite.ModelEnd(b), file_identifier=FILE_IDENTIFIER)
        return bytes(b.Output())

    def _add_buffer(self, payload: bytes) -> int:
        self._buffers.append(payload)
        return len(self._buffers) - 1

    def _build_subgraph(self, b: flatbuffers.Builder, sg: _Subgraph) -> int:
        tensors = [_build_tensor(b, t) for t in sg.tensors]
        operators = [_build_operator(b, op) for op in sg.operators]
        tensors_vec = _offset_vector(b, tensors)
        operators_vec = _offset_vector(b, operators)
        inputs_vec = _int_vector(b, sg.inputs)
        outputs_vec = _int_vector(b, sg.outputs)
        name = b.CreateString(sg.name)
        tflite.SubGraphStart(b)
        tflite.SubGraphAddTensors(b, tensors_vec)
        tflite.SubGraphAddInputs(b, inputs_vec)
        tflite.SubGraphAddOutputs(b, outputs_vec)
        tflite.SubGraphAddOperators(b, operators_vec)
        tflite.SubGraphAddName(b, name)
        return tflite.SubGraphEnd(b)


def single_op_model(
    op: str,
    inputs: Sequence[Mapping[str, Any] | None],
    outputs: Sequence[Mapping[str, Any]],
    options: tuple[str, Mapping[str, Any]] | bytes | None = None,
    **kw: Any,
) -> bytes:
    """Model with one operator; each dict holds `add_tensor` kwargs, None marks an omitted input.

    Tensors without data (and not variables) become graph inputs in order; outputs become graph
    outputs. Extra keyword arguments go to `add_operator`.
    """
    mb = ModelBuilder(f"single {op}")
    in_idx, graph_inputs = [], []
    for spec in inputs:
        if spec is None:
            in_idx.append(-1)
            continue
        idx = mb.add_tensor(**spec)
        in_idx.append(idx)
        if spec.get("data") is None and not spec.get("is_variable", False):
            graph_inputs.append(idx)
    out_idx = [mb.add_tensor(**spec) for spec in outputs]
    mb.add_operator(op, in_idx, out_idx, options, **kw)
    mb.set_io(graph_inputs, out_idx)
    return mb.build()


def _op_version(
    op: str, inputs: list[_Tensor | None], outputs: list[_Tensor | None], options: Mapping[str, Any]
) -> int:
    """Version the TFLite converter would give this op, capped to what the oracle registers."""
    def dtype(tensors: list[_Tensor | None], i: int) -> str | None:
        return tensors[i].dtype if i < len(tensors) and tensors[i] is not None else None

    key = dtype(inputs, _KEY_INPUT.get(op, 0))
    version = _VERSIONS.get(op, {}).get(key or "", 1)
    if op == "FULLY_CONNECTED":
        if key == "int8" and dtype(inputs, 2) is None:
            version = max(version, 6)
        if options.get("KeepNumDims"):
            version = max(version, 5)
    elif op == "DEPTHWISE_CONV_2D" and version == 1:
        if options.get("DilationWFactor", 1) != 1 or options.get("DilationHFactor", 1) != 1:
            version = 2
    elif op == "TRANSPOSE_CONV":
        version = 2 if key == "int8" else 1
        if dtype(inputs, 3) is not None:
            version = 3
        if options.get("FusedActivationFunction", 0):
            version = 4
    elif op == "QUANTIZE":
        out = outputs[0] if outputs else None
        if out is not None and out.scale is not None and len(out.scale) > 1:
            version = 3
        elif dtype(outputs, 0) == "int16":
            version = 2
    elif op == "DEQUANTIZE" and key == "int8":
        if inputs[0] is not None and inputs[0].scale is not None and len(inputs[0].scale) > 1:
            version = 5
    elif op in ("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR") and key != "int16":
        if options.get("HalfPixelCenters") or (op != "RESIZE_BILINEAR" and options.get("AlignCorners")):
            version = 3
    elif op == "CAST":
        types = {dtype(inputs, 0), dtype(outputs, 0)}
        version = 3 if "int8" in types else 4 if "uint16" in types else 2 if "uint32" in types else 1
    elif op == "BROADCAST_TO":
        version = 3 if key in ("int8", "int16") else 2
    elif op == "WHERE":
        version = 1 if key == "bool" else 2
    elif op == "FILL":
        value = dtype(inputs, 1)
        version = 3 if value in ("int8", "int16") else 2 if value in ("bool", "string") else 1
    return min(version, _REF_MAX_VERSIONS.get(op, version))


def _tensor_bytes(
    data: np.ndarray | bytes, dt: str, shape: Sequence[int] | None
) -> tuple[bytes, list[int]]:
    """Little-endian payload of constant data and its shape."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        if shape is None:
            raise ValueError("shape is required when data is given as raw bytes")
        return bytes(data), list(shape)
    if dt not in _NUMPY_TYPES:
        raise ValueError(f"data for dtype {dt!r} must be raw bytes")
    arr = np.asarray(data, dtype=np.dtype(dt).newbyteorder("<"))
    if shape is not None:
        if arr.size != int(np.prod(shape, dtype=np.int64)):
            raise ValueError(f"data with {arr.size} elements does not fit shape {list(shape)}")
        arr = arr.reshape(shape)
    return np.ascontiguousarray(arr).tobytes(), list(arr.shape)


def _quant_params(
    scale: float | Sequence[float] | None, zero_point: int | Sequence[int] | None
) -> tuple[list[float] | None, list[int] | None]:
    """Scale/zero-point lists (per-tensor values become one-element lists)."""
    if scale is None:
        if zero_point is not None:
            raise ValueError("zero_point given without scale")
        return None, None
    scales = [float(s) for s in np.atleast_1d(np.asarray(scale, dtype=np.float64))]
    if zero_point is None:
        zero_point = 0
    zps = [int(z) for z in np.atleast_1d(np.asarray(zero_point, dtype=np.int64))]
    if len(zps) == 1 and len(scales) > 1:
        zps *= len(scales)
    if len(zps) != len(scales):
        raise ValueError(f"{len(scales)} scales but {len(zps)} zero points")
    return scales, zps


def _offset_vector(b: flatbuffers.Builder, offsets: Sequence[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def _int_vector(b: flatbuffers.Builder, values: Iterable[int]) -> int:
    return b.CreateNumpyVector(np.asarray(list(values), dtype="<i4"))


def _build_buffer(b: flatbuffers.Builder, payload: bytes, external: tuple[int, int] | None = None) -> int:
    data = None
    if external is not None:
        tflite.BufferStart(b)
        if external[0]:
            b.PrependUint64Slot(1, external[0], 0)
            b.PrependUint64Slot(2, external[1], 0)
        return tflite.BufferEnd(b)
    if payload:
        b.StartVector(1, len(payload), BUFFER_ALIGNMENT)
        b.head -= len(payload)
        b.Bytes[b.head:b.head + len(payload)] = payload
        data = b.EndVector()
    tflite.BufferStart(b)
    if data is not None:
        tflite.BufferAddData(b, data)
    return tflite.BufferEnd(b)


def _build_opcode(b: flatbuffers.Builder, code: int, custom_code: str | None, version: int) -> int:
    custom = b.CreateString(custom_code) if custom_code is not None else None
    tflite.OperatorCodeStart(b)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(
        b, min(code, tflite.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES))
    tflite.OperatorCodeAddBuiltinCode(b, code)
    tflite.OperatorCodeAddVersion(b, version)
    if custom is not None:
        tflite.OperatorCodeAddCustomCode(b, custom)
    return tflite.OperatorCodeEnd(b)


def _build_tensor(b: flatbuffers.Builder, t: _Tensor) -> int:
    shape = _int_vector(b, t.shape)
    signature = _int_vector(b, t.shape_signature) if t.shape_signature is not None else None
    name = b.CreateString(t.name)
    quant = None
    if t.scale is not None:
        scale = b.CreateNumpyVector(np.asarray(t.scale, dtype="<f4"))
        zero_point = b.CreateNumpyVector(np.asarray(t.zero_point, dtype="<i8"))
        tflite.QuantizationParametersStart(b)
        tflite.QuantizationParametersAddScale(b, scale)
        tflite.QuantizationParametersAddZeroPoint(b, zero_point)
        tflite.QuantizationParametersAddQuantizedDimension(b, t.quantized_dimension)
        quant = tflite.QuantizationParametersEnd(b)
    tflite.TensorStart(b)
    tflite.TensorAddShape(b, shape)
    tflite.TensorAddType(b, TENSOR_TYPES[t.dtype])
    tflite.TensorAddBuffer(b, t.buffer)
    tflite.TensorAddName(b, name)
    if quant is not None:
        tflite.TensorAddQuantization(b, quant)
    if t.is_variable:
        tflite.TensorAddIsVariable(b, True)
    if signature is not None:
        tflite.TensorAddShapeSignature(b, signature)
    return tflite.TensorEnd(b)


def _build_operator(b: flatbuffers.Builder, op: _Operator) -> int:
    options = _build_options(b, *op.options) if op.options is not None else None
    inputs = _int_vector(b, op.inputs)
    outputs = _int_vector(b, op.outputs)
    intermediates = _int_vector(b, op.intermediates) if op.intermediates is not None else None
    custom = (b.CreateNumpyVector(np.frombuffer(op.custom_options, dtype=np.uint8))
              if op.custom_options is not None else None)
    tflite.OperatorStart(b)
    tflite.OperatorAddOpcodeIndex(b, op.opcode_index)
    tflite.OperatorAddInputs(b, inputs)
    tflite.OperatorAddOutputs(b, outputs)
    if options is not None:
        name = op.options[0]
        if hasattr(tflite.BuiltinOptions, name):
            tflite.OperatorAddBuiltinOptionsType(b, getattr(tflite.BuiltinOptions, name))
            tflite.OperatorAddBuiltinOptions(b, options)
        else:
            tflite.OperatorAddBuiltinOptions2Type(b, getattr(tflite.BuiltinOptions2, name))
            tflite.OperatorAddBuiltinOptions2(b, options)
    if custom is not None:
        tflite.OperatorAddCustomOptions(b, custom)
        tflite.OperatorAddCustomOptionsFormat(b, tflite.CustomOptionsFormat.FLEXBUFFERS)
    if intermediates is not None:
        tflite.OperatorAddIntermediates(b, intermediates)
    return tflite.OperatorEnd(b)


def _check_options(name: str, fields: Mapping[str, Any]) -> None:
    """Raise if `name` is not an options union member or a field is unknown."""
    if not (hasattr(tflite.BuiltinOptions, name) or hasattr(tflite.BuiltinOptions2, name)):
        raise ValueError(f"{name!r} is not a BuiltinOptions or BuiltinOptions2 member")
    for key, value in fields.items():
        if not hasattr(tflite, f"{name}Add{key}"):
            known = sorted(n[len(name) + 3:] for n in dir(tflite) if n.startswith(f"{name}Add"))
            raise ValueError(f"{name} has no field {key!r}; fields: {known}")
        if isinstance(value, (list, tuple, np.ndarray, bytes)):
            _vector_element_dtype(name, key)


def _build_options(b: flatbuffers.Builder, name: str, fields: Mapping[str, Any]) -> int:
    """Options table `name` built generically from {Field: value} via the tflite builder functions."""
    values: dict[str, Any] = {}
    for key, value in fields.items():
        if isinstance(value, str):
            values[key] = b.CreateString(value)
        elif isinstance(value, (list, tuple, np.ndarray, bytes)):
            elem = _vector_element_dtype(name, key)
            values[key] = b.CreateNumpyVector(np.asarray(list(value), dtype=elem.newbyteorder("<")))
        else:
            values[key] = value
    getattr(tflite, f"{name}Start")(b)
    for key, value in values.items():
        getattr(tflite, f"{name}Add{key}")(b, value)
    return getattr(tflite, f"{name}End")(b)


@functools.cache
def _vector_element_dtype(table: str, field_name: str) -> np.dtype:
    """Element type of a scalar vector field, read from the generated accessor's source."""
    accessor = getattr(getattr(tflite, table), field_name, None)
    if accessor is None or not hasattr(tflite, f"{table}Start{field_name}Vector"):
        raise ValueError(f"{table}.{field_name} is not a vector field")
    pattern = r"_tab\.Get\(flatbuffers\.number_types\.(\w+)Flags"
    match = re.search(pattern, inspect.getsource(accessor))
    if match is None:
        raise ValueError(f"{table}.{field_name} is not a vector of scalars")
    return np.dtype(getattr(flatbuffers.number_types, f"{match.group(1)}Flags").name)


def _build_signature(b: flatbuffers.Builder, sig: _Signature) -> int:
    def tensor_maps(mapping: dict[str, int]) -> int:
        maps = []
        for name, index in mapping.items():
            name_off = b.CreateString(name)
            tflite.TensorMapStart(b)
            tflite.TensorMapAddName(b, name_off)
            tflite.TensorMapAddTensorIndex(b, index)
            maps.append(tflite.TensorMapEnd(b))
        return _offset_vector(b, maps)

    inputs = tensor_maps(sig.inputs)
    outputs = tensor_maps(sig.outputs)
    key = b.CreateString(sig.key)
    tflite.SignatureDefStart(b)
    tflite.SignatureDefAddInputs(b, inputs)
    tflite.SignatureDefAddOutputs(b, outputs)
    tflite.SignatureDefAddSignatureKey(b, key)
    tflite.SignatureDefAddSubgraphIndex(b, sig.subgraph)
    return tflite.SignatureDefEnd(b)


# ----------------------------------------------------------------------------- MobileNetV1 stacks

def mobilenet_v1(dtype: str = "uint8", alpha: float = 0.25, size: int = 128, classes: int = 1001,
                 seed: int = 0, depth: int = 13) -> bytes:
    """A MobileNetV1-shaped quantized model with random weights: CONV_2D 3x3 stride 2, `depth`
    depthwise-separable blocks (DEPTHWISE_CONV_2D 3x3 + CONV_2D 1x1, ReLU6), AVERAGE_POOL_2D over
    the last feature map, RESHAPE, FULLY_CONNECTED and SOFTMAX, as TF1's quantized MobileNets.

    dtype "uint8": TF1's asymmetric quantization (uint8 activations with ReLU6 ranges [0, 6] at
    zero point 0, uint8 per-tensor weights with zero points around the middle, int32 biases);
    "int8": the same graph with int8 activations (zero point -128) and symmetric per-channel
    int8 weights, for comparing the two paths. Scales are chosen so that typical random inputs
    keep every layer's outputs spread over the range rather than saturated."""
    rng = np.random.default_rng(seed)
    u8 = dtype == "uint8"
    qmin = 0 if u8 else -128
    mb = ModelBuilder(f"mobilenet_v1 {dtype} {alpha} {size}")
    relu6 = (6.0 / 255.0, qmin)
    blocks = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    blocks = blocks[:depth]

    def ch(c: int) -> int:
        return max(8, int(c * alpha))

    def weights(shape, taps: int, in_scale: float, per_channel_axis: int | None):
        # real weights of std ~ sqrt(2 / taps) * 3 (He-like, widened): spreads ReLU6 outputs
        w_scale = float(3.0 * np.sqrt(2.0 / taps) / 74.0)
        if u8:
            zw = int(rng.integers(100, 156))
            data = rng.integers(0, 256, size=shape).astype(np.uint8)
            return mb.add_tensor(shape, "uint8", data=data, scale=w_scale, zero_point=zw), [w_scale]
        n = shape[per_channel_axis]
        scales = [float(w_scale * s) for s in rng.uniform(0.8, 1.2, size=n)]
        data = rng.integers(-127, 128, size=shape).astype(np.int8)
        return mb.add_tensor(shape, "int8", data=data, scale=scales, zero_point=[0] * n,
                             quantized_dimension=per_channel_axis), scales

    def bias(n: int, in_scale: float, w_scales: list[float]):
        scales = [in_scale * s for s in (w_scales if len(w_scales) == n else w_scales * n)]
        data = rng.integers(-2000, 2000, size=n).astype(np.int32)
        return mb.add_tensor([n], "int32", data=data, scale=scales if len(w_scales) == n else scales[0],
                             zero_point=[0] * n if len(w_scales) == n else 0)

    def act(shape, q):
        return mb.add_tensor(shape, dtype, scale=q[0], zero_point=q[1])

    def conv(x, shape, out_c, k, stride, q_in, q_out=relu6, relu=True):
        n, h, w, c = shape
        f, ws = weights([out_c, k, k, c], k * k * c, q_in[0], 0)
        b = bias(out_c, q_in[0], ws)
        oh, ow = -(-h // stride), -(-w // stride)
        y = act([n, oh, ow, out_c], q_out)
        mb.add_operator("CONV_2D", [x, f, b], [y], ("Conv2DOptions", {
            "Padding": tflite.Padding.SAME, "StrideH": stride, "StrideW": stride,
            "FusedActivationFunction": tflite.ActivationFunctionType.RELU6 if relu else 0}))
        return y, [n, oh, ow, out_c]

    def dw(x, shape, stride, q_in):
        n, h, w, c = shape
        f, ws = weights([1, 3, 3, c], 9, q_in[0], 3)
        b = bias(c, q_in[0], ws)
        oh, ow = -(-h // stride), -(-w // stride)
        y = act([n, oh, ow, c], relu6)
        mb.add_operator("DEPTHWISE_CONV_2D", [x, f, b], [y], ("DepthwiseConv2DOptions", {
            "Padding": tflite.Padding.SAME, "StrideH": stride, "StrideW": stride, "DepthMultiplier": 1,
            "FusedActivationFunction": tflite.ActivationFunctionType.RELU6}))
        return y, [n, oh, ow, c]

    q_img = (1.0 / 128.0, 128 if u8 else 0)
    x = act([1, size, size, 3], q_img)
    inp = x
    x, shape = conv(x, [1, size, size, 3], ch(32), 3, 2, q_img)
    for out_c, stride in blocks:
        x, shape = dw(x, shape, stride, relu6)
        x, shape = conv(x, shape, ch(out_c), 1, 1, relu6)
    n, h, w, c = shape
    pooled = act([n, 1, 1, c], relu6)
    mb.add_operator("AVERAGE_POOL_2D", [x], [pooled], ("Pool2DOptions", {
        "Padding": tflite.Padding.VALID, "StrideH": h, "StrideW": w, "FilterHeight": h, "FilterWidth": w}))
    flat = act([1, c], relu6)
    new_shape = mb.add_tensor([2], "int32", data=np.array([1, c], np.int32))
    mb.add_operator("RESHAPE", [pooled, new_shape], [flat], ("ReshapeOptions", {"NewShape": [1, c]}))
    q_logits = (0.08, 128 if u8 else 0)
    fw, fws = weights([classes, c], c, relu6[0], 0)
    fb = bias(classes, relu6[0], fws)
    logits = act([1, classes], q_logits)
    mb.add_operator("FULLY_CONNECTED", [flat, fw, fb], [logits], ("FullyConnectedOptions", {}))
    probs = act([1, classes], (1.0 / 256.0, qmin))
    mb.add_operator("SOFTMAX", [logits], [probs], ("SoftmaxOptions", {"Beta": 1.0}))
    mb.set_io([inp], [probs])
    return mb.build()
