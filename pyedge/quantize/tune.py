"""Calibrated ranges adjusted to the graph around them, before quantization parameters are chosen.

Clamp by a constant (`clamp_ranges`): a MAXIMUM (MINIMUM) with a constant operand shares one
scale with its data input, since TFLite's kernel compares the bytes. By the union rule the shared
range covers every value of the input, though the op replaces everything below (above) the
constant: with LEAKY_RELU then MAXIMUM(x, -0.4), as in openWakeWord's embedding model, the range
spent most of its levels on negative values that never leave the op. When the clamped tensor has
no other reader, its range is taken as the op's output range: the producer saturates values
beyond it, which the clamp would have replaced anyway (max(clip(x, lo, hi), c) = max(x, c) for
lo <= c), so only quantization error is removed."""
from __future__ import annotations

from ..graph import Graph

Range = tuple[float, float]


def clamp_ranges(g: Graph, ranges: dict[int, Range]) -> dict[int, Range]:
    """`ranges` (float activation index -> (min, max)) with the data input of every MAXIMUM /
    MINIMUM by a constant given the output's range, where only that op reads the input."""
    sg = g.subgraphs[0]
    T = sg.tensors
    readers: dict[int, int] = {}
    for op in sg.operators:
        for i in op.inputs:
            if i >= 0:
                readers[i] = readers.get(i, 0) + 1
    outputs = set(sg.outputs)
    out = dict(ranges)
    for op in reversed(sg.operators):  # back to front: chained clamps take the final range
        if op.opcode not in ("MAXIMUM", "MINIMUM") or len(op.inputs) != 2:
            continue
        const = [k for k in (0, 1) if T[op.inputs[k]].is_const]
        if len(const) != 1:
            continue
        x, y = op.inputs[1 - const[0]], op.outputs[0]
        if x in out and y in out and readers.get(x) == 1 and x not in outputs:
            out[x] = out[y]
    return out
