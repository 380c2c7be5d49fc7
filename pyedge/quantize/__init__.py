"""Post-training quantization of float TFLite models into fully integer TFLite models.

    from pyedge.quantize import quantize
    quantize("float.tflite", "calibration.npz", output="int8.tflite")

`calibrate()` runs the float model once over the calibration data (through TFLite's reference
kernels, keeping every tensor) and returns a `Calibration`, which can then produce the model
for any calibration method and I/O type without running again."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..graph import Graph
from ..tflite_reader import read_tflite
from ..tflite_writer import write_file_atomic, write_tflite
from .data import CalibrationDataError, load_samples
from .observers import DEFAULT_METHOD, METHODS, TensorObserver
from .quantizer import ACTIVATION_TYPES, IO_TYPES, QuantizationError, activation_tensors, check_quantizable, prepare_float_graph, \
    quantize_graph, quantize_graph_mixed, resolve_layer_types
from .reference import ReferenceRunner, progress

__all__ = ["quantize", "calibrate", "Calibration", "METHODS", "DEFAULT_METHOD", "IO_TYPES", "ACTIVATION_TYPES",
           "CalibrationDataError", "QuantizationError"]


def _model_bytes(model: str | os.PathLike | bytes) -> bytes:
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    return Path(model).read_bytes()


@dataclass
class Calibration:
    """Float activation statistics of one model over one calibration set."""

    model: bytes
    graph: Graph  # the float graph, DEQUANTIZE of constants folded
    observers: dict[int, TensorObserver] = field(default_factory=dict)
    samples: int = 0

    def ranges(self, method: str = DEFAULT_METHOD) -> dict[str, tuple[float, float]]:
        """Calibrated (min, max) per activation, by tensor name."""
        T = self.graph.subgraphs[0].tensors
        return {T[i].name: o.range(method) for i, o in self.observers.items()}

    def quantize(self, method: str = DEFAULT_METHOD, io: str | None = None, activations: str | dict = "int8") -> bytes:
        """The fully integer .tflite model for calibration `method`, activation type `activations`
        (int8, or int16 with int8 weights; or per layer: {op index or output tensor name: "int16"},
        the other layers int8) and model I/O type `io` (default: the activations')."""
        if method not in METHODS:
            raise ValueError(f"unknown calibration method {method!r}; methods: {', '.join(METHODS)}")
        if isinstance(activations, dict):
            return write_tflite(self.quantize_mixed_graph(method, io, activations))
        qmin, qmax = (-32768, 32767) if activations == "int16" else (-128, 127)
        g = quantize_graph(self.graph, lambda i: self.observers[i].range(method, qmin, qmax), io=io,
                           activations=activations)
        kind = "16x8" if activations == "int16" else "int8"
        g.description = f"pyedge {kind} post-training quantization ({method}, {self.samples} samples)"
        return write_tflite(g)

    def quantize_mixed_graph(self, method: str, io: str | None, layer_types: dict,
                             origins: list[int] | None = None) -> Graph:
        """The quantized Graph with per-layer activation types (quantize_graph_mixed)."""
        lim = {"int8": (-128, 127), "int16": (-32768, 32767)}
        g = quantize_graph_mixed(self.graph, lambda i, kind: self.observers[i].range(method, *lim[kind]), io,
                                 layer_types, origins)
        wide = sum(1 for k in resolve_layer_types(self.graph, layer_types).values() if k == "int16")
        g.description = (f"pyedge mixed int8/16x8 post-training quantization ({wide} int16 layers, {method}, "
                         f"{self.samples} samples)")
        return g


def calibrate(model: str | os.PathLike | bytes, data: Any, show_progress: bool | None = None) -> Calibration:
    """Run the float model over `data` (a .npy/.npz path or folder of them, arrays, a dict by
    input name, or an iterable/callable yielding arrays) and collect per-tensor statistics."""
    import sys

    raw = _model_bytes(model)
    graph = prepare_float_graph(read_tflite(raw))
    check_quantizable(graph)
    acts = activation_tensors(graph)
    runner = ReferenceRunner(raw, observe=acts)
    samples = load_samples(data, runner.input_specs())
    observers = {i: TensorObserver() for i in acts}
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    for _, values in progress(runner.run_all(samples, acts), len(samples), "calibrating", show_progress):
        for i, v in values.items():
            observers[i].update(v)
    return Calibration(model=raw, graph=graph, observers=observers, samples=len(samples))


def quantize(model: str | os.PathLike | bytes, calibration: Any, *, method: str = DEFAULT_METHOD,
             io: str | None = None, activations: str | dict = "int8", output: str | os.PathLike | None = None,
             show_progress: bool | None = None) -> bytes:
    """Quantize a float .tflite model into a fully integer one, calibrated on `calibration` with
    `method` (minmax, ema, percentile, mse, kl). `activations` int8, or int16 (TFLite's 16x8,
    int8 weights); `io` the model's input/output type: the activations' (default), uint8 (int8
    models) or float. Returns the model's bytes and, with `output`, writes them (atomically)."""
    if method not in METHODS:
        raise ValueError(f"unknown calibration method {method!r}; methods: {', '.join(METHODS)}")
    if io is not None and io not in IO_TYPES:
        raise ValueError(f"io must be one of {', '.join(IO_TYPES)}, not {io!r}")
    if not isinstance(activations, dict) and activations not in ACTIVATION_TYPES:
        raise ValueError(f"activations must be one of {', '.join(ACTIVATION_TYPES)}, not {activations!r}")
    out = calibrate(model, calibration, show_progress).quantize(method, io, activations)
    if output is not None:
        write_file_atomic(output, out)
    return out
