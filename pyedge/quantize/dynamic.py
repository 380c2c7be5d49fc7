"""Dynamic-range quantization: int8 weights, float activations (quantized by the kernels at run
time), as TensorFlow's converter writes with `optimizations=[DEFAULT]` and no representative
dataset. Needs no calibration data.

Which weights: the constant weights of FULLY_CONNECTED, CONV_2D and DEPTHWISE_CONV_2D, and the
constant rhs of BATCH_MATMUL (one matrix for every batch, no adj_x), with at least 1024 elements (the converter's `weights_min_num_elements`; smaller ones stay float, as do
biases and every other constant). How: symmetric int8 in [-127, 127]; per output channel for
CONV_2D (dimension 0) and DEPTHWISE_CONV_2D (dimension 3); per tensor for FULLY_CONNECTED and BATCH_MATMUL,
because TFLite 2.14's hybrid FULLY_CONNECTED multiplies by the per-tensor scale and gives a
per-channel weight tensor a zero one (docs/oracles.md). FULLY_CONNECTED's and BATCH_MATMUL's
`asymmetric_quantize_inputs` is set (the converter's default), or cleared with
`asymmetric_inputs=False`.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np

from ..graph import Graph, Tensor
from ..tflite_reader import read_tflite
from ..tflite_writer import write_file_atomic, write_tflite
from .quantizer import FLOAT32, INT8, _compact, _per_channel_weights, prepare_float_graph

# op -> (weights input, quantized dimension, or None for per tensor)
DYNAMIC_WEIGHTS = {"FULLY_CONNECTED": (1, None), "CONV_2D": (1, 0), "DEPTHWISE_CONV_2D": (1, 3),
                   "BATCH_MATMUL": (1, None)}
MIN_ELEMENTS = 1024
# op versions TFLite's op_version.cc gives the hybrid forms
_VERSIONS = {"FULLY_CONNECTED": 3, "CONV_2D": 2, "DEPTHWISE_CONV_2D": 4, "BATCH_MATMUL": 1}
# with asymmetric_quantize_inputs (TFLite 2.14 registers BATCH_MATMUL up to version 3: it reads the
# option at version 1 too)
_VERSIONS_ASYM = {"FULLY_CONNECTED": 9, "BATCH_MATMUL": 1}


def _per_tensor_weights(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    amax = float(np.abs(w.astype(np.float64)).max()) if w.size else 0.0
    scale = np.float32(amax / 127.0 if amax > 0 else 1.0)
    q = np.clip(np.round(w.astype(np.float64) / np.float64(scale)), -127, 127).astype(np.int8)
    return q, np.array([scale], np.float32)


def quantize_dynamic_graph(g: Graph, asymmetric_inputs: bool = True,
                           min_elements: int = MIN_ELEMENTS) -> tuple[Graph, list[str]]:
    """The dynamic-range version of the prepared float graph `g`, and the names of the weight
    tensors it quantized."""
    g = copy.deepcopy(g)
    sg = g.subgraphs[0]
    T = sg.tensors
    done: list[str] = []
    for op in sg.operators:
        spec = DYNAMIC_WEIGHTS.get(op.opcode)
        if spec is None or len(op.inputs) <= spec[0]:
            continue
        k, axis = spec
        x, w = T[op.inputs[0]], T[op.inputs[k]]
        if x.type_code != FLOAT32 or not w.is_const or w.type_code != FLOAT32 or w.data.size < min_elements:
            continue
        if axis is not None and w.data.ndim != 4:
            continue
        if op.opcode == "BATCH_MATMUL" and (op.options.get("AdjX", False) or any(d != 1 for d in w.shape[:-2])):
            continue  # hybrid BATCH_MATMUL takes one rhs matrix for every batch, and no adj_x
        q, scales = _per_tensor_weights(w.data) if axis is None else _per_channel_weights(w.data, axis)
        if axis is not None and len(scales) > 1 and np.all(scales == scales[0]) and op.opcode == "CONV_2D":
            # equal channel scales would send TFLite 2.14 down its per-tensor path with a zero scale
            q, scales = _per_tensor_weights(w.data)
            axis = None
        wq = Tensor(index=len(T), name=w.name, shape=tuple(w.shape), type_code=INT8, data=q, subgraph=0,
                    scales=scales, zero_points=np.zeros(len(scales), np.int64),
                    quantized_dimension=0 if axis is None else axis)
        T.append(wq)
        op.inputs[k] = wq.index
        op.version = max(op.version, _VERSIONS[op.opcode])
        if op.opcode in _VERSIONS_ASYM:
            op.options_type = op.options_type or ("FullyConnectedOptions" if op.opcode == "FULLY_CONNECTED"
                                                  else "BatchMatMulOptions")
            op.options = {**op.options, "AsymmetricQuantizeInputs": bool(asymmetric_inputs)}
            if asymmetric_inputs:
                op.version = max(op.version, _VERSIONS_ASYM[op.opcode])
        done.append(w.name)
    return _compact(g), done


def quantize_dynamic(model: str | os.PathLike | bytes, *, asymmetric_inputs: bool = True,
                     output: str | os.PathLike | None = None) -> bytes:
    """Dynamic-range quantization of a float .tflite model (no calibration data): int8 weights
    for FULLY_CONNECTED / CONV_2D / DEPTHWISE_CONV_2D, float activations. Returns the model's
    bytes and, with `output`, writes them (atomically)."""
    raw = bytes(model) if isinstance(model, (bytes, bytearray, memoryview)) else Path(model).read_bytes()
    g, _ = quantize_dynamic_graph(prepare_float_graph(read_tflite(raw)), asymmetric_inputs)
    g.description = "pyedge dynamic-range quantization (int8 weights, float activations)"
    out = write_tflite(g)
    if output is not None:
        write_file_atomic(output, out)
    return out
