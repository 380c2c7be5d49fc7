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
from typing import Any, Mapping

from ..graph import Graph
from ..tflite_reader import read_tflite
from ..tflite_writer import write_file_atomic, write_tflite
from . import int4
from .data import CalibrationDataError, load_samples
from .observers import DEFAULT_METHOD, METHODS, TensorObserver
from .quantizer import ACTIVATION_TYPES, IO_TYPES, QuantizationError, activation_tensors, check_quantizable, prepare_float_graph, \
    quantize_graph, quantize_graph_mixed, resolve_layer_types
from .reference import ReferenceRunner, progress
from . import biascorr, tune

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
    inputs: list | None = None  # the calibration samples (int4 weights' activation-aware rounding)
    _hessians: dict = field(default_factory=dict, repr=False)
    clamp_ranges: bool = True  # tune.clamp_ranges: MAXIMUM/MINIMUM by a constant (docs/quantize.md)
    bias_correction: bool = True  # biascorr.correct_biases of the int8-weight ops (docs/quantize.md)
    # int4 GPTQ on the partially quantized model's inputs (int4_seq.py): None (off: measured no
    # better on held-out data, docs/quantize.md), "full" or "bias" (int4_seq.target_weights)
    sequential: str | None = None
    _sequential: dict = field(default_factory=dict, repr=False)

    def ranges(self, method: str = DEFAULT_METHOD) -> dict[str, tuple[float, float]]:
        """Calibrated (min, max) per activation, by tensor name."""
        T = self.graph.subgraphs[0].tensors
        return {T[i].name: o.range(method) for i, o in self.observers.items()}

    def quantize(self, method: str = DEFAULT_METHOD, io: str | None = None, activations: str | dict = "int8",
                 weights: str | dict[int, str] = "int8") -> bytes:
        """The fully integer .tflite model for calibration `method`, activation type `activations`
        (int8, or int16 with int8 weights; or per layer: {op index or output tensor name: "int16"},
        the other layers int8) and model I/O type `io` (default: the activations').
        `weights`: "int8", "int4" (TFLite's INT4 for every CONV_2D, DEPTHWISE_CONV_2D and
        FULLY_CONNECTED) or {op index in the float model: "int4" | "int8"} (ops not named: int8);
        int4 weights go with int8 activations only."""
        if method not in METHODS:
            raise ValueError(f"unknown calibration method {method!r}; methods: {', '.join(METHODS)}")
        if isinstance(weights, Mapping):
            weights = dict(weights)
        if isinstance(activations, dict):
            return write_tflite(self.quantize_mixed_graph(method, io, activations, weights=weights))
        self._check_weights(weights, activations)  # before the int4 statistics pass
        qmin, qmax = (-32768, 32767) if activations == "int16" else (-128, 127)
        act_range = self._act_range(method, qmin, qmax)
        hessians = self._int4_hessians(weights)
        if self.sequential and hessians and activations == "int8":
            hessians = self._sequential_stats(method, weights, act_range)
        g = quantize_graph(self._corrected_graph(weights), act_range, io=io,
                           activations=activations, weights=weights, hessians=hessians)
        kind = "16x8" if activations == "int16" else "int8"
        if weights != "int8":
            kind += ", int4 weights" if weights == "int4" else ", mixed int4/int8 weights"
        g.description = f"pyedge {kind} post-training quantization ({method}, {self.samples} samples)"
        return write_tflite(g)

    def quantize_mixed_graph(self, method: str, io: str | None, layer_types: dict,
                             origins: list[int] | None = None, weights: str | dict[int, str] = "int8") -> Graph:
        """The quantized Graph with per-layer activation types (quantize_graph_mixed) and weight
        types (`weights` as in quantize; int4 only in int8 layers)."""
        if method not in METHODS:
            raise ValueError(f"unknown calibration method {method!r}; methods: {', '.join(METHODS)}")
        if isinstance(weights, Mapping):
            weights = dict(weights)
        if weights == "int4":  # every weighted op of an int8 layer (int16 layers keep int8 weights)
            kinds = resolve_layer_types(self.graph, layer_types)
            weights = {op.index: "int4" for op in self.graph.subgraphs[0].operators
                       if op.opcode in int4.PER_OP_AXIS and kinds.get(op.index, "int8") == "int8"}
        self._check_weights(weights, "int8")
        lim = {"int8": (-128, 127), "int16": (-32768, 32767)}
        ranges: dict[str, Any] = {}

        def act_range(i: int, kind: str) -> tuple[float, float]:
            if kind not in ranges:
                ranges[kind] = self._act_range(method, *lim[kind])
            return ranges[kind](i)

        g = quantize_graph_mixed(self._corrected_graph(weights), act_range, io, layer_types, origins,
                                 weights=weights, hessians=self._int4_hessians(weights))
        wide = sum(1 for k in resolve_layer_types(self.graph, layer_types).values() if k == "int16")
        w4 = "" if weights == "int8" else ", int4 weights" if weights == "int4" else ", mixed int4/int8 weights"
        g.description = (f"pyedge mixed int8/16x8 post-training quantization ({wide} int16 layers{w4}, {method}, "
                         f"{self.samples} samples)")
        return g


    def _check_weights(self, weights, activations: str) -> None:
        """int4.check_weights_arg on this model, as a QuantizationError."""
        try:
            int4.check_weights_arg(weights, {op.index: op.opcode for op in self.graph.subgraphs[0].operators
                                             if op.opcode in int4.PER_OP_AXIS}, activations)
        except ValueError as exc:
            raise QuantizationError(str(exc)) from None

    def _int4_hessians(self, weights: str | dict[int, str]) -> dict:
        """int4.layer_hessians of the ops `weights` makes int4 (computed once per op, kept)."""
        if self.inputs is None or weights == "int8" or not isinstance(weights, (str, Mapping)):
            return {}
        ops = [op.index for op in self.graph.subgraphs[0].operators if op.opcode in int4.PER_OP_AXIS
               and int4.weight_type_of(weights, op.index) == "int4"]
        missing = [k for k in ops if k not in self._hessians]
        if missing:
            self._hessians.update(int4.layer_hessians(self.model, self.graph, self.inputs, missing))
        return {k: self._hessians[k] for k in ops}

    def _sequential_stats(self, method: str, weights: str | dict[int, str], act_range) -> dict:
        """int4_seq.sequential_stats of the ops `weights` makes int4 (int8 activations; kept per
        method and set of int4 ops)."""
        from .int4_seq import sequential_stats

        ops = list(self._int4_hessians(weights))
        key = (method, tuple(ops), self.sequential)
        if key not in self._sequential:
            def quantized(stats: dict) -> bytes:
                w = {k: "int4" for k in stats}
                return write_tflite(quantize_graph(self._corrected_graph(w), act_range, activations="int8",
                                                   weights=w, hessians=stats))

            self._sequential[key] = sequential_stats(self.model, self.graph, self.inputs, ops, quantized,
                                                     self.sequential)
        return self._sequential[key]

    def _corrected_graph(self, weights: str | dict[int, str] = "int8") -> Graph:
        """The float graph, biases corrected by biascorr when `bias_correction` is on, except
        those of the int4 ops GPTQ rounds (its bias column corrects them; docs/quantize.md). An
        int4 op that falls back to nearest rounding is corrected like an int8 one."""
        if not self.bias_correction:
            return self.graph
        hessians = self._int4_hessians(weights)
        T = self.graph.subgraphs[0].tensors
        skip = {op.index for op in self.graph.subgraphs[0].operators
                if op.index in hessians and int4.gptq_applies(op.opcode, T[op.inputs[1]].shape, hessians[op.index])}
        return biascorr.correct_biases(self.graph, lambda i: self.observers[i].channel_mean()
                                       if i in self.observers else None, skip=skip)

    def _act_range(self, method: str, qmin: int, qmax: int):
        """tensor index -> calibrated (min, max), adjusted by pyedge.quantize.tune."""
        ranges = {i: o.range(method, qmin, qmax) for i, o in self.observers.items()}
        if self.clamp_ranges:
            ranges = tune.clamp_ranges(self.graph, ranges)
        return ranges.__getitem__


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
    return Calibration(model=raw, graph=graph, observers=observers, samples=len(samples), inputs=samples)


def quantize(model: str | os.PathLike | bytes, calibration: Any, *, method: str = DEFAULT_METHOD,
             io: str | None = None, activations: str | dict = "int8", output: str | os.PathLike | None = None,
             show_progress: bool | None = None, weights: str | dict[int, str] = "int8") -> bytes:
    """Quantize a float .tflite model into a fully integer one, calibrated on `calibration` with
    `method` (minmax, ema, percentile, mse, kl). `activations` int8, or int16 (TFLite's 16x8,
    int8 weights); `io` the model's input/output type: the activations' (default), uint8 (int8
    models) or float; `weights` int8, int4 or {op index: type} (Calibration.quantize). Returns the model's bytes and, with `output`, writes them (atomically)."""
    if method not in METHODS:
        raise ValueError(f"unknown calibration method {method!r}; methods: {', '.join(METHODS)}")
    if io is not None and io not in IO_TYPES:
        raise ValueError(f"io must be one of {', '.join(IO_TYPES)}, not {io!r}")
    if not isinstance(activations, dict) and activations not in ACTIVATION_TYPES:
        raise ValueError(f"activations must be one of {', '.join(ACTIVATION_TYPES)}, not {activations!r}")
    out = calibrate(model, calibration, show_progress).quantize(method, io, activations, weights)
    if output is not None:
        write_file_atomic(output, out)
    return out
