"""Pack-time graph simplifications that do not change results.

Runs on the Graph (pyedge/graph.py) before lowering, in this order:

1. Dead ops: an op whose outputs no graph output and no remaining op reads is dropped, unless
   it has side effects: ASSIGN_VARIABLE, CALL_ONCE, anything touching a variable tensor (SVDF and
   LSTM write their state inputs), and ops pyedge has no lowering for (custom and unsupported ops
   stay, so they are still reported by name).
2. Constant folding: an op all of whose inputs are constants is run once at pack time through
   pyedge itself (a one-op Graph packed and run by pyedge.Interpreter, so the folded values are
   exactly what the kernel would compute at run time) and its outputs become constants.
   Folding is skipped when the op cannot be lowered or fails at run time (the normal pack or
   invoke then reports it) or when it would grow the constant data by more than
   `max_fold_growth` bytes.
3. Unused constants: the data of constant tensors no remaining op reads (and that are not
   subgraph inputs/outputs) is dropped. The tensor entries stay: pyedge keeps TFLite's tensor
   indices, so get_tensor(i) means the same as in TFLite (such a tensor reports "no data").

Subgraph-level operator indices (Operator.index) are kept, so a blob op's src_index is still
the source model's operator index. What was done is returned as a dict for the blob META
("simplified") and `pyedge inspect`.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .errors import PyedgeError
from .graph import CORE_TYPES, RESOURCE, Graph, Operator, Subgraph, Tensor

# Ops that must run for their effect even when nothing reads their outputs.
SIDE_EFFECT_OPS = frozenset({"ASSIGN_VARIABLE", "CALL_ONCE", "CALL", "WHILE", "IF", "CUSTOM"})
DEFAULT_MAX_FOLD_GROWTH = 16 * 1024


def _registry() -> set[str]:
    from .lower import supported_ops
    return set(supported_ops())


def _tensors(sg: Subgraph, indices: list[int]) -> list[Tensor]:
    return [sg.tensors[i] for i in indices if i >= 0]


def _has_side_effects(sg: Subgraph, op: Operator, known: set[str]) -> bool:
    """True if dropping `op` could change anything besides its outputs' values."""
    if op.opcode in SIDE_EFFECT_OPS or op.opcode not in known:
        return True
    return any(t.is_variable for t in _tensors(sg, op.inputs + op.outputs + op.intermediates))


def _const_bytes(t: Tensor) -> int:
    return int(t.data.nbytes) if t.data is not None else 0


def remove_dead_ops(graph: Graph, known: set[str], report: list[dict[str, Any]]) -> int:
    """Drop ops whose outputs nothing uses (one reverse pass per subgraph: ops are in execution
    order, so every reader of a tensor comes after its writer)."""
    removed = 0
    for sg in graph.subgraphs:
        live = set(sg.outputs)
        keep: list[Operator] = []
        for op in reversed(sg.operators):
            if _has_side_effects(sg, op, known) or any(o in live for o in op.outputs):
                keep.append(op)
                live.update(i for i in op.inputs + op.intermediates if i >= 0)
            else:
                report.append({"subgraph": sg.index, "index": op.index, "op": op.opcode, "action": "dead"})
                removed += 1
        sg.operators = keep[::-1]
    return removed


def _one_op_graph(sg: Subgraph, op: Operator) -> Graph:
    """A graph holding only `op` (constant inputs, no graph inputs) for pack-time evaluation."""
    index: dict[int, int] = {}
    tensors: list[Tensor] = []
    for i in op.inputs + op.intermediates + op.outputs:
        if i >= 0 and i not in index:
            index[i] = len(tensors)
            tensors.append(dataclasses.replace(sg.tensors[i], index=len(tensors), subgraph=0, gidx=-1))

    def remap(ids: list[int]) -> list[int]:
        return [index[i] if i >= 0 else -1 for i in ids]

    one = dataclasses.replace(op, index=0, subgraph=0, inputs=remap(op.inputs), outputs=remap(op.outputs),
                              intermediates=remap(op.intermediates))
    return Graph(subgraphs=[Subgraph(0, "fold", tensors, [one], [], remap(op.outputs))])


def evaluate_op(sg: Subgraph, op: Operator) -> list[np.ndarray]:
    """Run one op with constant inputs through pyedge (lowering, C kernel); returns its outputs.
    Raises PyedgeError if pyedge cannot lower or run it."""
    from .interpreter import Interpreter
    from .pack import Packer

    blob = Packer(_one_op_graph(sg, op)).build()
    it = Interpreter(model_content=blob)
    it.allocate_tensors()
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


def _foldable(sg: Subgraph, op: Operator, known: set[str]) -> bool:
    present = [i for i in op.inputs if i >= 0]
    if not present or _has_side_effects(sg, op, known):
        return False
    if not all(sg.tensors[i].is_const for i in present):
        return False
    graph_io = set(sg.inputs)
    for i in op.outputs:
        t = sg.tensors[i]
        if i in graph_io or t.type_code == RESOURCE or t.type_code not in CORE_TYPES or t.dtype is None:
            return False
    return True


def fold_constants(graph: Graph, known: set[str], report: list[dict[str, Any]],
                   max_growth: int = DEFAULT_MAX_FOLD_GROWTH) -> dict[str, int]:
    """Evaluate ops whose inputs are all constant (in execution order, so chains fold)."""
    stats = {"folded_ops": 0, "folded_constant_bytes": 0, "fold_skipped_growth": 0, "fold_failed": 0}
    for sg in graph.subgraphs:
        keep: list[Operator] = []
        for op in sg.operators:
            if not _foldable(sg, op, known):
                keep.append(op)
                continue
            out_bytes = sum(sg.tensors[i].size * np.dtype(sg.tensors[i].dtype).itemsize for i in op.outputs)
            in_bytes = sum(_const_bytes(t) for t in _tensors(sg, op.inputs))
            if out_bytes - in_bytes > max_growth:
                stats["fold_skipped_growth"] += 1
                keep.append(op)
                continue
            try:
                values = evaluate_op(sg, op)
            except PyedgeError:
                stats["fold_failed"] += 1  # left in place: the full pack or invoke reports it
                keep.append(op)
                continue
            for i, v in zip(op.outputs, values):
                t = sg.tensors[i]
                t.data = np.ascontiguousarray(v, dtype=t.dtype).reshape(t.shape)
                stats["folded_constant_bytes"] += int(t.data.nbytes)
            stats["folded_ops"] += 1
            report.append({"subgraph": sg.index, "index": op.index, "op": op.opcode, "action": "folded"})
        sg.operators = keep
    return stats


def drop_unused_constants(graph: Graph) -> tuple[int, int]:
    """Drop the data of constants no op, subgraph input or output uses; returns (count, bytes)."""
    count = nbytes = 0
    for sg in graph.subgraphs:
        used = set(sg.inputs) | set(sg.outputs)
        for op in sg.operators:
            used.update(op.inputs + op.outputs + op.intermediates)
        for i, t in enumerate(sg.tensors):
            if i not in used and t.is_const:
                count += 1
                nbytes += _const_bytes(t)
                t.data = None
    return count, nbytes


def simplify_graph(graph: Graph, max_fold_growth: int = DEFAULT_MAX_FOLD_GROWTH) -> dict[str, Any]:
    """Apply the simplifications in place; returns the counts (and the ops removed)."""
    known = _registry()
    report: list[dict[str, Any]] = []
    dead = remove_dead_ops(graph, known, report)
    fold = fold_constants(graph, known, report, max_fold_growth)
    n_const, const_bytes = drop_unused_constants(graph)
    return {"dead_ops": dead, **fold, "dropped_constants": n_const, "dropped_constant_bytes": const_bytes,
            "removed_ops": sorted(report, key=lambda r: (r["subgraph"], r["index"]))}


def prepare_for_pack(graph: Graph, *, preserve_all_tensors: bool = False,
                     target: str | None = None) -> dict[str, Any]:
    """The packer's hook (pyedge/pack.py): simplify the graph (not with preserve_all_tensors,
    whose point is to keep every intermediate tensor readable) and resolve `target`. Returns the
    extra blob META entries."""
    meta: dict[str, Any] = {}
    if target is not None:
        from .boards import resolve_target
        meta["target"] = resolve_target(target)
    if not preserve_all_tensors:
        meta["simplified"] = simplify_graph(graph)
    return meta
