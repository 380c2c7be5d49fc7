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


class ReferenceRunner:
    """One TFLite interpreter on `model` (bytes) with all tensors preserved."""

    def __init__(self, model: bytes) -> None:
        Interpreter, OpResolverType = _interpreter_class()
        try:
            self.it = Interpreter(model_content=with_valid_quantized_dimension(bytes(model)),
                                  experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                                  experimental_preserve_all_tensors=True, num_threads=1)
            self.it.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            raise PyedgeError(f"TFLite cannot load the model: {exc}") from None
        self.inputs = self.it.get_input_details()
        self.outputs = self.it.get_output_details()

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
