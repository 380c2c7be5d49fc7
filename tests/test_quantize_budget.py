"""tools/quantize_budget.py: the int8 error budget of a float model (weights alone vs all)."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import numpy as np  # noqa: E402

import quantize_budget  # noqa: E402
from pyedge.quantize import rules  # noqa: E402
from pyedge.tflite_reader import read_tflite  # noqa: E402


def test_budget_of_the_digits_cnn():
    b = quantize_budget.budget("digits_cnn_float")
    (full,), (plain,), (corrected,), (share,) = (b["int8"], b["weights_only"],
                                                 b["weights_only_bias_corrected"], b["weight_share"])
    # int8 weights alone lose less than int8 weights and activations together, and bias
    # correction recovers part of what weight rounding costs on this model
    assert 30 < full < plain < corrected
    assert 0 < share < 1
    assert len(b["worst_layers"]) == 5 and all(s >= b["worst_layers"][0][2] for _, _, s in b["worst_layers"])


def test_weights_only_graph_rounds_every_weighted_op_and_nothing_else():
    raw = quantize_budget.table._model_bytes("digits_cnn_float")
    g = read_tflite(raw)
    q = quantize_budget.int8_weights_only(g)
    sub, qsub = g.subgraphs[0], q.subgraphs[0]
    weights = {op.inputs[1]: rules.WEIGHTED[op.opcode] for op in sub.operators if op.opcode in rules.WEIGHTED}
    assert weights
    for i, (t, u) in enumerate(zip(sub.tensors, qsub.tensors)):
        if t.data is None:
            continue
        if i not in weights:
            assert np.array_equal(t.data, u.data)
            continue
        assert not np.array_equal(t.data, u.data)
        axis = weights[i]
        others = tuple(d for d in range(u.data.ndim) if d != axis)
        step = np.abs(u.data.astype(np.float64)).max(axis=others, keepdims=True) / 127
        levels = u.data / np.where(step == 0, 1, step)  # each channel on its own int8 grid
        assert np.abs(levels - np.round(levels)).max() < 1e-3
        assert np.abs(levels).max() <= 127 + 1e-3
