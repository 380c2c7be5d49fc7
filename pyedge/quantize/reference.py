"""Runs a model through TFLite's own reference kernels (tflite-runtime, BUILTIN_REF) keeping every
tensor (`experimental_preserve_all_tensors`), so calibration and reports see the float value of
each activation. Float models load as shipped: float16 weights behind DEQUANTIZE, the old
op-code field and models without a signature are all TFLite's own business here."""
from __future__ import annotations

from typing import Iterable, Iterator, Sequence

import numpy as np

from ..errors import PyedgeError
from ..tflite_reader import with_valid_quantized_dimension


def _interpreter_class():
    try:
        from tflite_runtime.interpreter import Interpreter, OpResolverType
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise PyedgeError(
            "the float reference needs tflite-runtime (pip install 'tflite-runtime==2.14.0' 'numpy<2'): "
            f"{exc}") from None
    return Interpreter, OpResolverType


def with_extra_outputs(model: bytes, tensors: Iterable[int]) -> bytes:
    """The model with `tensors` appended to its first subgraph's outputs. TFLite runs some ops in
    place (ADD writes over an input it alone reads), even with all tensors preserved; a graph
    output is never overwritten, so this is how every tensor keeps the value its op wrote."""
    from ..tflite_reader import read_tflite
    from ..tflite_writer import write_tflite

    g = read_tflite(model)
    sg = g.subgraphs[0]
    sg.outputs = sg.outputs + [i for i in dict.fromkeys(tensors) if i not in sg.outputs]
    return write_tflite(g)


class ReferenceRunner:
    """One TFLite interpreter on `model` (bytes) with all tensors preserved; `observe` names
    tensors (by index) whose values `run` must return exactly as their ops wrote them."""

    def __init__(self, model: bytes, observe: Iterable[int] = ()) -> None:
        Interpreter, OpResolverType = _interpreter_class()
        model = with_valid_quantized_dimension(bytes(model))
        n_outputs = None
        observe = list(observe)
        if observe:
            from ..tflite_reader import read_tflite

            n_outputs = len(read_tflite(model).subgraphs[0].outputs)
            model = with_extra_outputs(model, observe)
        try:
            self.it = Interpreter(model_content=model,
                                  experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                                  experimental_preserve_all_tensors=True, num_threads=1)
            self.it.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            raise PyedgeError(f"TFLite cannot load the model: {exc}") from None
        self.inputs = self.it.get_input_details()
        self.outputs = self.it.get_output_details()[:n_outputs]

    def input_specs(self) -> list[tuple[str, tuple[int, ...], np.dtype]]:
        return [(d["name"], tuple(int(s) for s in d["shape"]), np.dtype(d["dtype"])) for d in self.inputs]

    def run(self, sample: Sequence[np.ndarray], tensors: Iterable[int] = ()) -> tuple[
            list[np.ndarray], dict[int, np.ndarray]]:
        """Invoke on one sample; returns the outputs and copies of the requested tensors."""
        for d, x in zip(self.inputs, sample):
            self.it.set_tensor(d["index"], np.asarray(x, d["dtype"]))
        self.it.invoke()
        outs = [np.array(self.it.get_tensor(d["index"]), copy=True) for d in self.outputs]
        return outs, {i: np.array(self.it.get_tensor(i), copy=True) for i in tensors}

    def run_all(self, samples: Iterable[Sequence[np.ndarray]], tensors: Iterable[int] = ()) -> Iterator[
            tuple[list[np.ndarray], dict[int, np.ndarray]]]:
        tensors = list(tensors)
        for s in samples:
            yield self.run(s, tensors)


def progress(iterable, total: int, label: str, enabled: bool = True):
    """A progress bar on stderr (only when it is a terminal or `enabled` is forced on)."""
    import sys
    import time

    if not enabled:
        yield from iterable
        return
    width, t0, last = 30, time.perf_counter(), -1.0
    for k, item in enumerate(iterable, 1):
        yield item
        now = time.perf_counter()
        if k == total or now - last > 0.1:
            last = now
            done = int(width * k / max(total, 1))
            rate = k / max(now - t0, 1e-9)
            sys.stderr.write(f"\r{label} [{'#' * done}{'.' * (width - done)}] {k}/{total} "
                             f"({rate:.0f}/s)")
            sys.stderr.flush()
    sys.stderr.write("\n")
    sys.stderr.flush()
