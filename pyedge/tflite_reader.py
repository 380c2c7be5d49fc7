"""Reads a .tflite flatbuffer (through the `tflite` schema package) into a Graph."""
from __future__ import annotations

import math
import struct
import warnings
from typing import Any

import numpy as np
import tflite

from .errors import ModelError
from .graph import INT4, TFLITE_DTYPES, TFLITE_TYPE_NAMES, Graph, Operator, Subgraph, Tensor, unpack_int4

BUILTIN_NAMES: dict[int, str] = {
    v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)
}
OPTIONS_NAMES: dict[int, str] = {
    v: k for k, v in vars(tflite.BuiltinOptions).items() if not k.startswith("_") and isinstance(v, int)
}
_SKIP = {"Init", "GetRootAs"}


def _table_fields(obj: Any) -> dict[str, Any]:
    """Every scalar, string and vector field of a generated flatbuffer table, by name."""
    cls = type(obj)
    out: dict[str, Any] = {}
    for name in dir(cls):
        if name.startswith("_") or name in _SKIP or name.startswith("GetRootAs"):
            continue
        if name.endswith(("Length", "IsNone", "AsNumpy", "BufferHasIdentifier")):
            continue
        fn = getattr(obj, name)
        if not callable(fn):
            continue
        if hasattr(cls, name + "AsNumpy"):
            v = getattr(obj, name + "AsNumpy")()
            out[name] = [] if isinstance(v, int) else [x.item() for x in v]
        elif hasattr(cls, name + "Length"):
            out[name] = [fn(j) for j in range(getattr(obj, name + "Length")())]
        else:
            try:
                v = fn()
            except TypeError:
                continue
            out[name] = v.decode() if isinstance(v, bytes) else v
    return out


def _options(op: Any) -> tuple[str, dict[str, Any]]:
    t = op.BuiltinOptionsType()
    if t == 0:
        return "", {}
    name = OPTIONS_NAMES.get(t)
    table = op.BuiltinOptions()
    if name is None or table is None or not hasattr(tflite, name):
        return name or f"options type {t}", {}
    obj = getattr(tflite, name)()
    obj.Init(table.Bytes, table.Pos)
    return name, _table_fields(obj)


def _buffer_data(model: Any, raw: bytes, index: int) -> np.ndarray | None:
    if index <= 0 or index >= model.BuffersLength():
        if index >= model.BuffersLength() and index != 0:
            raise ModelError(f"tensor refers to buffer {index}, model has {model.BuffersLength()}")
        return None
    buf = model.Buffers(index)
    off, size = buf.Offset(), buf.Size()
    if off > 1:
        if off + size > len(raw):
            raise ModelError(f"buffer {index} lies outside the file (offset {off}, size {size})")
        return np.frombuffer(raw, np.uint8, size, off)
    data = buf.DataAsNumpy()
    if isinstance(data, int) or data.size == 0:
        return None
    return data


def _tensor(model: Any, raw: bytes, sg_index: int, i: int, t: Any) -> Tensor:
    shape = tuple(int(x) for x in (t.ShapeAsNumpy() if t.ShapeLength() else []))
    sig = tuple(int(x) for x in t.ShapeSignatureAsNumpy()) if t.ShapeSignatureLength() else None
    tt = t.Type()
    name = (t.Name() or b"").decode(errors="replace")
    if tt not in TFLITE_TYPE_NAMES:
        raise ModelError(f"tensor {i} ({name!r}) in subgraph {sg_index} has type code {tt}, which is not a "
                         "TFLite tensor type")
    out = Tensor(index=i, name=name, shape=shape, type_code=tt, shape_signature=sig,
                 is_variable=bool(t.IsVariable()), subgraph=sg_index)
    if any(d < 0 for d in shape):
        raise ModelError(f"tensor {i} ({name!r}) in subgraph {sg_index} has a negative dimension {shape}")
    where = f"tensor {i} ({name!r}) in subgraph {sg_index}"
    q = t.Quantization()
    if q is not None and q.ScaleLength():
        out.scales = np.asarray(q.ScaleAsNumpy(), np.float32).copy()
        bad = out.scales[~np.isfinite(out.scales)]
        if bad.size:
            raise ModelError(f"{where}: quantization scale {bad[0]} is not finite")
        zps = q.ZeroPointAsNumpy()
        out.zero_points = (np.zeros(len(out.scales), np.int64) if isinstance(zps, int)
                           else np.asarray(zps, np.int64).copy())
        if len(out.zero_points) != len(out.scales):  # TFLite refuses these too
            raise ModelError(f"{where}: quantization has {len(out.zero_points)} zero point(s) and "
                             f"{len(out.scales)} scale(s); they must be as many")
        big = out.zero_points[(out.zero_points < -(2**31)) | (out.zero_points >= 2**31)]
        if big.size:
            raise ModelError(f"{where}: quantization zero point {big[0]} does not fit int32")
        out.quantized_dimension = int(q.QuantizedDimension())
    dt = TFLITE_DTYPES.get(tt)
    nbytes = math.prod(shape) * np.dtype(dt).itemsize if dt is not None else 0
    if nbytes >= 2**31:
        raise ModelError(f"{where}: shape {shape} of {out.type_name} is {nbytes} bytes; tensors are "
                         "limited to 2 GiB")
    data = _buffer_data(model, raw, t.Buffer())
    if data is not None:
        dt = TFLITE_DTYPES.get(tt)
        if tt == INT4:
            # two values per byte, low nibble first; held unpacked as int8 in [-8, 7]
            need = (out.size + 1) // 2
            if data.size != need:
                raise ModelError(
                    f"tensor {i} ({name!r}) in subgraph {sg_index}: buffer holds {data.size} bytes, "
                    f"shape {shape} of INT4 (two values per byte) needs {need}")
            out.data = unpack_int4(data, out.size).reshape(shape)
        elif dt is None:
            out.data = np.asarray(data).copy()  # kept raw; lowering rejects the type
        else:
            dt = np.dtype(dt).newbyteorder("<")
            need = out.size * dt.itemsize
            if data.size != need:
                raise ModelError(
                    f"tensor {i} ({name!r}) in subgraph {sg_index}: buffer holds {data.size} bytes, "
                    f"shape {shape} of {out.type_name} needs {need}")
            out.data = np.frombuffer(data.tobytes(), dt).reshape(shape).astype(dt.newbyteorder("="))
    return out


def _fix_quantized_dimension(g: Graph) -> None:
    """Accept a harmless metadata quirk TFLite refuses: an out-of-range quantized_dimension where
    only one dimension can be meant (a single scale, or a rank-1 tensor with one scale per
    element, as person_detect's biases, which carry 3). One warning names all such tensors."""
    fixed = []
    for sg in g.subgraphs:
        for t in sg.tensors:
            rank = len(t.shape)
            if not t.quantized or 0 <= t.quantized_dimension < max(rank, 1):
                continue
            if len(t.scales) == 1 or (rank == 1 and len(t.scales) == t.shape[0]):
                fixed.append(f"{t.index} ({t.name!r}, quantized_dimension {t.quantized_dimension}, "
                             f"rank {rank})")
                t.quantized_dimension = 0
            else:
                raise ModelError(
                    f"tensor {t.index} ({t.name!r}) in subgraph {sg.index}: quantized_dimension "
                    f"{t.quantized_dimension} is out of range for rank {rank}")
    if fixed:
        msg = (f"{len(fixed)} tensor(s) have a quantized_dimension out of range for their rank "
               f"(TFLite refuses such models; only one axis can be meant, so pyedge uses 0): "
               + "; ".join(fixed[:3]) + (f"; and {len(fixed) - 3} more" if len(fixed) > 3 else ""))
        g.warnings.append(msg)
        warnings.warn(msg, stacklevel=3)


def read_tflite(raw: bytes) -> Graph:
    """Parse .tflite bytes into a Graph. Raises ModelError for anything that is not a valid model."""
    raw = bytes(raw)
    if len(raw) < 8:
        raise ModelError(f"not a TFLite model: only {len(raw)} bytes")
    if raw[4:8] != b"TFL3":
        raise ModelError("not a TFLite model: missing the 'TFL3' flatbuffer identifier")
    try:
        return _read(raw)
    except ModelError:
        raise
    except Exception as exc:  # flatbuffers raises struct/index errors on damaged files
        raise ModelError(f"corrupt or truncated TFLite model ({type(exc).__name__}: {exc})") from None


def _read(raw: bytes) -> Graph:
    model = tflite.Model.GetRootAs(raw, 0)
    opcodes = []
    for k in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(k)
        code = max(int(oc.BuiltinCode()), int(oc.DeprecatedBuiltinCode()))
        custom = oc.CustomCode()
        if int(oc.Version()) < 1:
            raise ModelError(f"operator code {k} (builtin {code}) has version {int(oc.Version())}; "
                             "op versions start at 1")
        opcodes.append((code, int(oc.Version()), custom.decode(errors="replace") if custom else None))
    if model.SubgraphsLength() == 0:
        raise ModelError("TFLite model has no subgraphs")
    subgraphs = []
    for s in range(model.SubgraphsLength()):
        sg = model.Subgraphs(s)
        n_t = sg.TensorsLength()
        tensors = [_tensor(model, raw, s, i, sg.Tensors(i)) for i in range(n_t)]
        ops = []
        for k in range(sg.OperatorsLength()):
            op = sg.Operators(k)
            idx = op.OpcodeIndex()
            if idx >= len(opcodes):
                raise ModelError(f"operator {k} in subgraph {s} uses opcode {idx}, model has {len(opcodes)}")
            code, version, custom = opcodes[idx]
            name = BUILTIN_NAMES.get(code, f"BUILTIN_{code}")
            ins = [int(x) for x in op.InputsAsNumpy()] if op.InputsLength() else []
            outs = [int(x) for x in op.OutputsAsNumpy()] if op.OutputsLength() else []
            inter = [int(x) for x in op.IntermediatesAsNumpy()] if op.IntermediatesLength() else []
            for t in ins + outs + inter:
                if t < -1 or t >= n_t:
                    raise ModelError(f"operator {k} ({name}) in subgraph {s} refers to tensor {t}; "
                                     f"the subgraph has {n_t}")
            opt_name, opts = _options(op)
            ops.append(Operator(index=k, opcode=name, builtin_code=code, version=version, inputs=ins,
                                outputs=outs, options=opts, options_type=opt_name, custom_code=custom,
                                intermediates=inter, subgraph=s))
        ins = [int(x) for x in sg.InputsAsNumpy()] if sg.InputsLength() else []
        outs = [int(x) for x in sg.OutputsAsNumpy()] if sg.OutputsLength() else []
        for t in ins + outs:
            if t < 0 or t >= n_t:
                raise ModelError(f"subgraph {s} input/output {t} is not one of its {n_t} tensors")
        name = (sg.Name() or b"").decode(errors="replace")
        subgraphs.append(Subgraph(index=s, name=name, tensors=tensors, operators=ops, inputs=ins,
                                  outputs=outs))
    signatures = []
    for k in range(model.SignatureDefsLength()):
        sd = model.SignatureDefs(k)
        def maps(n, get):
            return {(get(j).Name() or b"").decode(): int(get(j).TensorIndex()) for j in range(n)}
        signatures.append({
            "key": (sd.SignatureKey() or b"").decode(),
            "subgraph": int(sd.SubgraphIndex()),
            "inputs": maps(sd.InputsLength(), sd.Inputs),
            "outputs": maps(sd.OutputsLength(), sd.Outputs),
        })
    desc = model.Description()
    g = Graph(subgraphs=subgraphs, signatures=signatures,
              description=desc.decode(errors="replace") if desc else "", version=int(model.Version()))
    _fix_quantized_dimension(g)
    return g


def with_valid_quantized_dimension(raw: bytes) -> bytes:
    """Copy of a .tflite model with out-of-range quantized_dimension fields set to 0, so that
    TFLite itself loads it (for comparisons). person_detect's rank-1 bias tensors carry 3, which
    TFLite refuses and TFLite Micro ignores. The field is patched in place in the flatbuffer;
    nothing else about the model changes."""
    buf = bytearray(raw)
    model = tflite.Model.GetRootAs(raw, 0)
    for s in range(model.SubgraphsLength()):
        sg = model.Subgraphs(s)
        for i in range(sg.TensorsLength()):
            t = sg.Tensors(i)
            q = t.Quantization()
            if q is None or 0 <= q.QuantizedDimension() < max(t.ShapeLength(), 1):
                continue
            field = q._tab.Offset(16)  # QuantizationParameters.quantized_dimension
            struct.pack_into("<i", buf, q._tab.Pos + field, 0)
    return bytes(buf)
