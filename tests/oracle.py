"""Reference runs through tflite-runtime's reference kernels, and bit-exact comparison."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
from tflite_runtime.interpreter import Interpreter, OpResolverType

Inputs = Sequence[np.ndarray] | Sequence[Sequence[np.ndarray]]


def reference_interpreter(model_content: bytes, **kw: Any) -> Interpreter:
    """tflite-runtime Interpreter using the BUILTIN_REF op resolver on one thread."""
    kw.setdefault("experimental_op_resolver_type", OpResolverType.BUILTIN_REF)
    kw.setdefault("num_threads", 1)
    return Interpreter(model_content=model_content, **kw)


class MicroInterpreter:
    """TensorFlow Lite Micro (the `tflite-micro` package) behind the subset of the tflite
    Interpreter API that run_model uses. The oracle where TFLite 2.14's reference kernel is
    known wrong and TFLM has the fix (docs/oracles.md)."""

    def __init__(self, model_content: bytes, arena_size: int = 1 << 20):
        from tflite_micro.python.tflite_micro import runtime

        self._it = runtime.Interpreter.from_bytes(model_content, arena_size=arena_size)
        self._details = reference_interpreter(model_content)

    def get_input_details(self) -> list[dict[str, Any]]:
        return self._details.get_input_details()

    def get_output_details(self) -> list[dict[str, Any]]:
        return self._details.get_output_details()

    def allocate_tensors(self) -> None:
        pass

    def set_tensor(self, index: int, value: np.ndarray) -> None:
        pos = [d["index"] for d in self.get_input_details()].index(index)
        self._it.set_input(value, pos)

    def invoke(self) -> None:
        self._it.invoke()

    def get_tensor(self, index: int) -> np.ndarray:
        pos = [d["index"] for d in self.get_output_details()].index(index)
        return self._it.get_output(pos)


def _per_invoke(inputs: Inputs, invokes: int) -> list[list[np.ndarray]]:
    """Normalise inputs to one list per invoke (a flat list is reused for every invoke)."""
    if len(inputs) and not isinstance(inputs[0], np.ndarray) and not np.isscalar(inputs[0]):
        if len(inputs) != invokes:
            raise ValueError(f"{len(inputs)} input sets for {invokes} invokes")
        return [list(step) for step in inputs]
    return [list(inputs)] * invokes


def run_model(
    interp_cls_or_factory: Callable[..., Any],
    model_content: bytes,
    inputs: Inputs,
    invokes: int = 1,
) -> list[list[np.ndarray]]:
    """Run `invokes` times through the tflite Interpreter API; returns the outputs of each invoke.

    `inputs` is either one list of arrays used for every invoke or a list of per-invoke lists.
    Inputs whose shape differs from the model's are resized before allocation.
    """
    steps = _per_invoke(inputs, invokes)
    interp = interp_cls_or_factory(model_content=model_content)
    details = interp.get_input_details()
    if steps and len(steps[0]) != len(details):
        raise ValueError(f"model has {len(details)} inputs, got {len(steps[0])}")
    for d, x in zip(details, steps[0] if steps else []):
        if tuple(d["shape"]) != np.shape(x):
            interp.resize_tensor_input(d["index"], list(np.shape(x)))
    interp.allocate_tensors()
    details = interp.get_input_details()
    results = []
    for step in steps:
        for d, x in zip(details, step):
            interp.set_tensor(d["index"], np.asarray(x, dtype=d["dtype"]))
        interp.invoke()
        results.append([np.array(interp.get_tensor(d["index"]), copy=True)
                        for d in interp.get_output_details()])
    return results


def _random_array(detail: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    shape, dtype = tuple(detail["shape"]), np.dtype(detail["dtype"])
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    if np.issubdtype(dtype, np.floating):
        return rng.standard_normal(size=shape).astype(dtype)
    raise TypeError(f"cannot make random input of dtype {dtype}")


def random_inputs(
    model_or_interpreter: bytes | Any, rng: np.random.Generator, count: int = 1
) -> list[np.ndarray] | list[list[np.ndarray]]:
    """Random arrays matching the input details: full range for ints, standard normal for floats.

    With count == 1 returns one list of arrays; otherwise `count` such lists (one per invoke).
    """
    interp = (reference_interpreter(bytes(model_or_interpreter))
              if isinstance(model_or_interpreter, (bytes, bytearray)) else model_or_interpreter)
    details = interp.get_input_details()
    sets = [[_random_array(d, rng) for d in details] for _ in range(count)]
    return sets[0] if count == 1 else sets


def _describe_mismatch(got: np.ndarray, want: np.ndarray, limit: int = 5) -> str:
    """Max abs diff, number of differing elements and the first differing indices."""
    if got.dtype.kind in "fc":
        # Compare bit patterns so NaN payloads and signed zeros count as differences.
        as_bytes = lambda a: a.reshape(-1).view(np.uint8).reshape(a.size, a.itemsize)  # noqa: E731
        differ = (as_bytes(got) != as_bytes(want)).any(axis=1).reshape(got.shape)
        wide = np.complex128 if got.dtype.kind == "c" else np.float64
    else:
        differ = got != want
        wide = np.float64 if got.dtype == np.uint64 else np.int64
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(got.astype(wide) - want.astype(wide))
    count = int(differ.sum())
    first = [tuple(int(i) for i in idx) for idx in np.argwhere(differ)[:limit]]
    examples = ", ".join(f"{i}: got {got[i]!r} want {want[i]!r}" for i in first)
    max_diff = diff[differ].max() if count else 0
    return f"max abs diff {max_diff}, {count}/{got.size} elements differ, first at {examples}"


def assert_bit_exact(got: Sequence[np.ndarray], want: Sequence[np.ndarray], context: str = "") -> None:
    """Assert both lists hold arrays of identical dtype, shape and bytes."""
    prefix = f"{context}: " if context else ""
    assert len(got) == len(want), f"{prefix}{len(got)} outputs, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        g, w = np.asarray(g), np.asarray(w)
        where = f"{prefix}output {i}"
        assert g.dtype == w.dtype, f"{where}: dtype {g.dtype}, expected {w.dtype}"
        assert g.shape == w.shape, f"{where}: shape {g.shape}, expected {w.shape}"
        if np.ascontiguousarray(g).tobytes() != np.ascontiguousarray(w).tobytes():
            raise AssertionError(f"{where} not bit-exact: {_describe_mismatch(g, w)}")
