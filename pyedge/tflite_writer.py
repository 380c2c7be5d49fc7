"""Writes a Graph back to .tflite bytes through the `tflite` schema package's flatbuffer builders
(the same generated schema the reader uses), so that TFLite's own interpreter loads the result."""
from __future__ import annotations

import functools
import inspect
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import flatbuffers
import numpy as np
import tflite

from .errors import ModelError
from .graph import INT4, Graph, Operator, Tensor, pack_int4

SCHEMA_VERSION = 3
FILE_IDENTIFIER = b"TFL3"
BUFFER_ALIGNMENT = 16


def write_tflite(g: Graph) -> bytes:
    """Serialise `g` to .tflite bytes. Constant data is stored little-endian in the flatbuffer's
    buffers (one per constant tensor), aligned to 16 bytes. Custom ops' options are not kept by
    the reader and so are not written."""
    b = flatbuffers.Builder(1 << 16)
    buffers: list[bytes] = [b""]
    opcodes: list[tuple[int, str | None, int]] = []

    def buffer_for(t: Tensor) -> int:
        if t.data is None:
            buffers.append(b"")
        elif t.type_code == INT4:
            buffers.append(pack_int4(t.data))
        else:
            dt = np.dtype(t.data.dtype).newbyteorder("<")
            buffers.append(np.ascontiguousarray(t.data, dt).tobytes())
        return len(buffers) - 1

    def opcode_for(op: Operator) -> int:
        key = (op.builtin_code, op.custom_code, op.version)
        if key not in opcodes:
            opcodes.append(key)
        return opcodes.index(key)

    sg_offsets = []
    for sg in g.subgraphs:
        tensors = [_build_tensor(b, t, buffer_for(t)) for t in sg.tensors]
        operators = [_build_operator(b, op, opcode_for(op)) for op in sg.operators]
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
        sg_offsets.append(tflite.SubGraphEnd(b))
    buffer_offsets = [_build_buffer(b, data) for data in buffers]
    opcode_offsets = [_build_opcode(b, *key) for key in opcodes]
    signatures = [_build_signature(b, s) for s in g.signatures]
    description = b.CreateString(g.description)
    buffers_vec = _offset_vector(b, buffer_offsets)
    opcodes_vec = _offset_vector(b, opcode_offsets)
    subgraphs_vec = _offset_vector(b, sg_offsets)
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
    out = bytes(b.Output())
    if len(out) >= 2**31:
        raise ModelError(f"model of {len(out)} bytes exceeds the 2 GiB flatbuffer limit")
    return out


def write_file_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` through a temporary file in the same folder and a rename, so that
    the path never holds a partial file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def _offset_vector(b: flatbuffers.Builder, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def _int_vector(b: flatbuffers.Builder, values) -> int:
    return b.CreateNumpyVector(np.asarray(list(values), dtype="<i4"))


def _build_buffer(b: flatbuffers.Builder, payload: bytes) -> int:
    data = None
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
    # both fields: readers older than schema 2.4 read only the deprecated int8 one
    tflite.OperatorCodeAddDeprecatedBuiltinCode(
        b, min(code, tflite.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES))
    tflite.OperatorCodeAddBuiltinCode(b, code)
    tflite.OperatorCodeAddVersion(b, version)
    if custom is not None:
        tflite.OperatorCodeAddCustomCode(b, custom)
    return tflite.OperatorCodeEnd(b)


def _build_tensor(b: flatbuffers.Builder, t: Tensor, buffer: int) -> int:
    shape = _int_vector(b, t.shape)
    signature = _int_vector(b, t.shape_signature) if t.shape_signature is not None else None
    name = b.CreateString(t.name)
    quant = None
    if t.quantized:
        scale = b.CreateNumpyVector(np.asarray(t.scales, dtype="<f4"))
        zero_point = b.CreateNumpyVector(np.asarray(t.zero_points, dtype="<i8"))
        tflite.QuantizationParametersStart(b)
        tflite.QuantizationParametersAddScale(b, scale)
        tflite.QuantizationParametersAddZeroPoint(b, zero_point)
        tflite.QuantizationParametersAddQuantizedDimension(b, t.quantized_dimension)
        quant = tflite.QuantizationParametersEnd(b)
    tflite.TensorStart(b)
    tflite.TensorAddShape(b, shape)
    tflite.TensorAddType(b, t.type_code)
    tflite.TensorAddBuffer(b, buffer)
    tflite.TensorAddName(b, name)
    if quant is not None:
        tflite.TensorAddQuantization(b, quant)
    if t.is_variable:
        tflite.TensorAddIsVariable(b, True)
    if signature is not None:
        tflite.TensorAddShapeSignature(b, signature)
    return tflite.TensorEnd(b)


def _build_operator(b: flatbuffers.Builder, op: Operator, opcode_index: int) -> int:
    options = None
    if op.options_type and hasattr(tflite.BuiltinOptions, op.options_type):
        options = _build_options(b, op.options_type, op.options)
    inputs = _int_vector(b, op.inputs)
    outputs = _int_vector(b, op.outputs)
    intermediates = _int_vector(b, op.intermediates) if op.intermediates else None
    tflite.OperatorStart(b)
    tflite.OperatorAddOpcodeIndex(b, opcode_index)
    tflite.OperatorAddInputs(b, inputs)
    tflite.OperatorAddOutputs(b, outputs)
    if options is not None:
        tflite.OperatorAddBuiltinOptionsType(b, getattr(tflite.BuiltinOptions, op.options_type))
        tflite.OperatorAddBuiltinOptions(b, options)
    if intermediates is not None:
        tflite.OperatorAddIntermediates(b, intermediates)
    return tflite.OperatorEnd(b)


def _build_options(b: flatbuffers.Builder, name: str, fields: dict[str, Any]) -> int:
    """Options table `name` from {Field: value} (as the reader returns them) through the generated
    `<name>Add<Field>` builder functions; keys with no builder function are not fields."""
    values: dict[str, Any] = {}
    for key, value in fields.items():
        if not hasattr(tflite, f"{name}Add{key}"):
            continue
        if isinstance(value, str):
            values[key] = b.CreateString(value)
        elif isinstance(value, (list, tuple, np.ndarray)):
            elem = _vector_element_dtype(name, key)
            values[key] = b.CreateNumpyVector(np.asarray(list(value), dtype=elem.newbyteorder("<")))
        elif value is None:
            continue
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
        raise ModelError(f"{table}.{field_name} is not a vector field")
    match = re.search(r"_tab\.Get\(flatbuffers\.number_types\.(\w+)Flags", inspect.getsource(accessor))
    if match is None:
        raise ModelError(f"{table}.{field_name} is not a vector of scalars")
    return np.dtype(getattr(flatbuffers.number_types, f"{match.group(1)}Flags").name)


def _build_signature(b: flatbuffers.Builder, sig: dict[str, Any]) -> int:
    def tensor_maps(mapping: dict[str, int]) -> int:
        maps = []
        for name, index in mapping.items():
            name_off = b.CreateString(name)
            tflite.TensorMapStart(b)
            tflite.TensorMapAddName(b, name_off)
            tflite.TensorMapAddTensorIndex(b, index)
            maps.append(tflite.TensorMapEnd(b))
        return _offset_vector(b, maps)

    inputs = tensor_maps(sig["inputs"])
    outputs = tensor_maps(sig["outputs"])
    key = b.CreateString(sig["key"])
    tflite.SignatureDefStart(b)
    tflite.SignatureDefAddInputs(b, inputs)
    tflite.SignatureDefAddOutputs(b, outputs)
    tflite.SignatureDefAddSignatureKey(b, key)
    tflite.SignatureDefAddSubgraphIndex(b, sig["subgraph"])
    return tflite.SignatureDefEnd(b)
