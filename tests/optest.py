"""Shared check for op tests: pyedge against TFLite's reference kernels, bit for bit, on every
kernel path this CPU has: each ISA tier (PYEDGE_ISA's values: scalar, avx2, avx512, ...) and
the best tier with a thread pool."""
from __future__ import annotations

import functools
import os
from typing import Any, Callable, Sequence

import numpy as np

import pyedge
from oracle import assert_bit_exact, random_inputs, reference_interpreter, run_model


@functools.lru_cache(maxsize=None)
def kernel_paths() -> tuple[tuple[str, dict[str, Any]], ...]:
    """(label, Interpreter keyword arguments) of every path to check: each ISA tier this CPU
    has (lower tiers forced with isa=), and the best one with 3 threads. PYEDGE_TEST_TIERS
    (a comma list) narrows the tiers."""
    tiers = pyedge.cpu.tiers_available()
    want = os.environ.get("PYEDGE_TEST_TIERS")
    if want:
        tiers = [t for t in tiers if t in want.split(",")]
    paths = [(t, {"isa": t}) for t in tiers]
    paths.append((f"{tiers[-1]} x3 threads", {"isa": tiers[-1], "num_threads": 3}))
    if len(tiers) > 1:  # the best tier's packed layouts run by their scalar twins
        paths.append((f"packed for {tiers[-1]}, run scalar", {"isa": "scalar", "pack_for": tiers[-1]}))
    return tuple(paths)


def interpreter_factory(pack_for: str | None = None, **kw: Any) -> Callable[..., pyedge.Interpreter]:
    if pack_for is None:
        return functools.partial(pyedge.Interpreter, **kw)

    def make(model_content: bytes) -> pyedge.Interpreter:
        return pyedge.Interpreter(model_content=pyedge.pack_tflite(model_content, target=pack_for), **kw)
    return make


def check_model(model: bytes, seeds: Sequence[int] = (0, 1, 2), invokes: int = 1,
                inputs: list[np.ndarray] | None = None, context: str = "",
                oracle: Callable[..., Any] = reference_interpreter) -> list[list[np.ndarray]]:
    """Run `model` through pyedge (on every kernel path) and tflite-runtime (BUILTIN_REF) on
    seeded random inputs (or the given ones) for `invokes` invokes each; assert every output is
    bit-identical. `oracle` replaces BUILTIN_REF only where its kernel is known wrong
    (docs/oracles.md)."""
    runs = [inputs] if inputs is not None else [
        random_inputs(model, np.random.default_rng(s), count=invokes) for s in seeds]
    last = []
    for k, x in enumerate(runs):
        want = run_model(oracle, model, x, invokes=invokes)
        for label, kw in kernel_paths():
            got = run_model(interpreter_factory(**kw), model, x, invokes=invokes)
            for step, (g, w) in enumerate(zip(got, want)):
                assert_bit_exact(g, w, context=f"{context} [{label}] input set {k} invoke {step}")
            last = got
    return last
