"""Shared check for op tests: pyedge against TFLite's reference kernels, bit for bit."""
from __future__ import annotations

from typing import Sequence

import numpy as np

import pyedge
from oracle import assert_bit_exact, random_inputs, reference_interpreter, run_model


def check_model(model: bytes, seeds: Sequence[int] = (0, 1, 2), invokes: int = 1,
                inputs: list[np.ndarray] | None = None, context: str = "") -> list[list[np.ndarray]]:
    """Run `model` through pyedge and tflite-runtime (BUILTIN_REF) on seeded random inputs
    (or the given ones) for `invokes` invokes each; assert every output is bit-identical."""
    runs = [inputs] if inputs is not None else [
        random_inputs(model, np.random.default_rng(s), count=invokes) for s in seeds]
    last = []
    for k, x in enumerate(runs):
        want = run_model(reference_interpreter, model, x, invokes=invokes)
        got = run_model(pyedge.Interpreter, model, x, invokes=invokes)
        for step, (g, w) in enumerate(zip(got, want)):
            assert_bit_exact(g, w, context=f"{context} input set {k} invoke {step}")
        last = got
    return last
