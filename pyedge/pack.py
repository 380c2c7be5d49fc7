"""Graph -> lowered program -> planned arena -> blob bytes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _native
from .blob import STORE_ARENA, STORE_CONST, STORE_NONE, STORE_STATE, TF_VARIABLE, BlobOp, BlobSubgraph, BlobTensor, write_blob
from .errors import ModelError, UnsupportedOpError
from .graph import CORE_TYPES, INT4, TFLITE_DTYPES, TFLITE_TYPE_NAMES, Graph, Tensor
from .lower import Lowered, LowerCtx, supported_ops
from .plan import plan_memory
from .tflite_reader import read_tflite

# numpy dtype -> TFLite type code, for the core's types (constants the lowering adds)
_NP_TO_TFLITE = {np.dtype(dt): code for code, dt in TFLITE_DTYPES.items() if code in CORE_TYPES and dt is not None}


# TFLite's optional inputs (-1 allowed), per op; every other input of a builtin op is required
OPTIONAL_INPUTS: dict[str, set[int]] = {
    "CONV_2D": {2}, "DEPTHWISE_CONV_2D": {2}, "FULLY_CONNECTED": {2}, "TRANSPOSE_CONV": {3}, "SVDF": {3},
    "UNIDIRECTIONAL_SEQUENCE_LSTM": {1, 5, 9, 10, 11, 12, 16, 17, 20, 21, 22, 23},
}


@dataclass
class PackedOp:
    lowered: Lowered
    subgraph: int
    src_index: int
    version: int


class Packer:
    """Lowers every op of a Graph, plans memory and writes the blob."""

    def __init__(self, graph: Graph, preserve_all_tensors: bool = False, preserve_inputs: bool = True,
                 features: int = 0, threads: int = 1, layouts: str = "auto", strip: bool = False):
        self.graph = graph
        self.strip = strip  # leave out the data of constants no op reads (weights repacked into a layout)
        self.preserve_all_tensors = preserve_all_tensors
        self.preserve_inputs = preserve_inputs  # False: inputs' memory is reused once they are read
        self.features = features  # PE_FEAT_* of the target: packed weight layouts for its kernels
        self.threads = max(1, int(threads))  # per-thread scratch copies
        if layouts not in ("auto", "generic", "packed"):
            raise ValueError(f"layouts={layouts!r}: expected 'auto', 'generic' or 'packed'")
        self.layouts = layouts  # packed weight layouts: for the target's SIMD kernels, none, or all
        self.tensors: list[Tensor] = []
        self.shared: dict[str, Any] = {}
        self._state_keys: dict[Any, Tensor] = {}
        self._extra_state: set[int] = set()
        for sg in graph.subgraphs:
            for t in sg.tensors:
                t.gidx = len(self.tensors)
                self.tensors.append(t)
        self.ops: list[list[PackedOp]] = [[] for _ in graph.subgraphs]
        self.extra_meta: dict[str, Any] = {}  # "simplified", "target": set by pack_graph's simplify hook

    # -- used by LowerCtx ---------------------------------------------------------------------
    def new_const(self, array: np.ndarray, name: str) -> Tensor:
        arr = np.asarray(array)
        code = _NP_TO_TFLITE[arr.dtype]
        t = Tensor(index=-1, name=name, shape=tuple(arr.shape), type_code=code, data=arr, subgraph=-1)
        t.gidx = len(self.tensors)
        self.tensors.append(t)
        return t

    def new_state(self, shape, type_code: int, key: Any, name: str, scale: float, zero_point: int) -> Tensor:
        if key is not None and key in self._state_keys:
            t = self._state_keys[key]
            if t.shape != tuple(shape) or t.type_code != type_code:
                raise UnsupportedOpError(
                    f"state {key!r} is used with shape {tuple(shape)} {TFLITE_TYPE_NAMES[type_code]} and "
                    f"{t.shape} {TFLITE_TYPE_NAMES[t.type_code]}")
            return t
        t = Tensor(index=-1, name=name, shape=tuple(shape), type_code=type_code, subgraph=-1)
        if scale:
            t.scales = np.array([scale], np.float32)
            t.zero_points = np.array([zero_point], np.int64)
        t.gidx = len(self.tensors)
        self.tensors.append(t)
        self._extra_state.add(t.gidx)
        if key is not None:
            self._state_keys[key] = t
        return t

    # -- lowering -----------------------------------------------------------------------------
    def lower(self) -> None:
        registry = supported_ops()
        errors = []
        for sg in self.graph.subgraphs:
            for op in sg.operators:
                ctx = LowerCtx(self, self.graph, sg, op)
                entry = registry.get(op.opcode)
                optional = OPTIONAL_INPUTS.get(op.opcode, set())
                absent = [k for k, t in enumerate(op.inputs) if t == -1 and k not in optional]
                if absent and op.opcode != "CUSTOM":
                    raise ModelError(f"operator {op.index} ({op.opcode}) in subgraph {sg.index}: input {absent[0]} "
                                     "is absent (-1) but the op requires it")
                try:
                    if op.opcode == "CUSTOM":
                        ctx.fail(f"custom op {op.custom_code!r} has no pyedge kernel")
                    if entry is None:
                        ctx.fail("no pyedge kernel for this op")
                    if op.version > entry.max_version:
                        ctx.fail(f"op version {op.version} is newer than the highest pyedge knows "
                                 f"({entry.max_version})")
                    out = entry.fn(ctx)
                except UnsupportedOpError as exc:
                    errors.append(str(exc))
                    continue
                except (ModelError, OverflowError) as exc:  # a value the kernel's parameters cannot hold
                    raise ModelError(f"operator {op.index} ({op.opcode}) in subgraph {sg.index}: {exc}") from None
                if out is None:
                    continue
                for lw in out if isinstance(out, list) else [out]:
                    self.ops[sg.index].append(PackedOp(lw, sg.index, op.index, op.version))
        if errors:
            names = ", ".join(registry)
            raise UnsupportedOpError(
                f"pyedge cannot run this model: {len(errors)} operator(s) not supported\n  "
                + "\n  ".join(errors) + f"\nsupported ops: {names}")

    # -- planning and writing -------------------------------------------------------------------
    def _timeline(self) -> list[PackedOp]:
        order: list[PackedOp] = []
        seen: set[int] = set()

        def visit(s: int) -> None:
            if s in seen:
                return
            seen.add(s)
            for p in self.ops[s]:
                order.append(p)
                if p.lowered.calls is not None:
                    visit(p.lowered.calls)

        visit(0)
        for s in range(len(self.ops)):
            visit(s)
        return order

    def build(self) -> bytes:
        self.lower()
        from .layouts import apply_int4_layouts
        packed4 = apply_int4_layouts(self, self.threads)  # int4 weights run only from their layouts
        if (self.features and self.layouts == "auto") or self.layouts == "packed":
            from .layouts import apply_layouts
            packed = apply_layouts(self, self.features, self.threads, everywhere=self.layouts == "packed")
            if packed:
                self.extra_meta["layouts"] = packed
        if packed4:
            self.extra_meta["layouts"] = {**self.extra_meta.get("layouts", {}), **packed4}
        order = self._timeline()
        graph = self.graph
        # storage classes, lifetimes, in-place aliasing and offsets: pyedge/plan.py
        mp = plan_memory(self.tensors, graph, order, self._extra_state,
                         preserve_all_tensors=self.preserve_all_tensors, preserve_inputs=self.preserve_inputs,
                         strip_unread_constants=self.strip)
        storage, arena_size, state_off = mp.storage, mp.arena_size, mp.state_size

        tensors = []
        for t in self.tensors:
            g = t.gidx
            # an INT4 weight tensor is a shape-only INT8 record: its values live in the op's int4 layout
            code = 9 if t.type_code == INT4 and storage[g] == STORE_NONE else t.type_code
            bt = BlobTensor(type_code=code, shape=t.shape, storage=storage[g], name=t.name)
            if t.quantized:
                bt.scale = float(t.scales[0])
                bt.zero_point = int(t.zero_points[0]) if len(t.zero_points) else 0
                if t.per_channel:
                    bt.scales, bt.zero_points, bt.axis = t.scales, t.zero_points, t.quantized_dimension
            if storage[g] == STORE_CONST:
                bt.data = np.ascontiguousarray(t.data).astype(t.data.dtype.newbyteorder("<")).tobytes()
            elif storage[g] in (STORE_ARENA, STORE_STATE):
                bt.offset = mp.offsets[g]
            if t.is_variable:
                bt.flags |= TF_VARIABLE
            tensors.append(bt)

        ops: list[BlobOp] = []
        subgraphs = []
        codes = _native.OP_CODES
        for s, sg in enumerate(graph.subgraphs):
            first = len(ops)
            for p in self.ops[s]:
                lw = p.lowered
                if lw.op not in codes:
                    raise UnsupportedOpError(f"lowering produced unknown pe op {lw.op!r}")
                s_off, s_size = mp.scratch.get(id(p), (0, 0))
                ops.append(BlobOp(codes[lw.op], p.version, [t.gidx if t is not None else -1 for t in lw.inputs],
                                  [t.gidx for t in lw.outputs], lw.params, s_off, s_size, p.src_index,
                                  lw.layout))
            subgraphs.append(BlobSubgraph(first, len(ops) - first, [sg.tensors[i].gidx for i in sg.inputs],
                                          [sg.tensors[i].gidx for i in sg.outputs]))
        opcodes = {(sg.index, op.index): op.opcode for sg in graph.subgraphs for op in sg.operators}
        meta = {
            "source": "tflite",
            "names": [t.name for t in self.tensors],
            "shape_signatures": {str(t.gidx): list(t.shape_signature) for t in self.tensors
                                 if t.shape_signature is not None and list(t.shape_signature) != list(t.shape)},
            "quantized_dimension": {str(t.gidx): t.quantized_dimension for t in self.tensors
                                    if t.quantized_dimension},
            "n_model_tensors": [len(sg.tensors) for sg in graph.subgraphs],
            "subgraph_names": [sg.name for sg in graph.subgraphs],
            "signatures": graph.signatures,
            "ops": [{"name": opcodes[(p.subgraph, p.src_index)],
                     "subgraph": p.subgraph, "index": p.src_index}
                    for s in range(len(graph.subgraphs)) for p in self.ops[s]],
            "warnings": graph.warnings,
            **self.extra_meta,
        }
        return write_blob(tensors, ops, subgraphs, arena_size, state_off, meta,
                          target_features=self.features, threads=self.threads)


def pack_graph(graph: Graph, *, preserve_all_tensors: bool = False, preserve_inputs: bool = True,
               target: str | None = None, features: int | None = None, threads: int = 1,
               layouts: str = "auto", strip: bool = True) -> bytes:
    """Lower, plan and serialize a Graph into pyedge blob bytes. With preserve_inputs=False the
    inputs' memory is reused after their last read (smaller arena; inputs are not kept).
    `features` (PE_FEAT_* bits; default: those of `target`'s ISA, or none) chooses the packed
    weight layouts ("auto"; "generic": none, TFLite's own; "packed": every op that has one, run by
    the layout's scalar twin where the CPU has no SIMD variant); `threads` the per-thread scratch.
    `strip` (default) leaves out the data of constants that no op reads, such as a model's weights
    once they are repacked (a smaller blob for a device; get_tensor on those tensors then says so);
    the Interpreter, packing a .tflite in-process, keeps them, as TFLite can read them."""
    from .simplify import prepare_for_pack  # dead ops, constant folding, unused constants; --target
    extra_meta = prepare_for_pack(graph, preserve_all_tensors=preserve_all_tensors, target=target)
    if features is None:
        features = 0
        isa = (extra_meta.get("target") or {}).get("isa")
        if isa:
            from .layouts import features_for_tier
            try:
                features = features_for_tier(isa)
            except ValueError:
                features = 0
    packer = Packer(graph, preserve_all_tensors, preserve_inputs, features=features, threads=threads,
                    layouts=layouts, strip=strip)
    packer.extra_meta = extra_meta
    return packer.build()


def pack_tflite(model: bytes, *, preserve_all_tensors: bool = False, preserve_inputs: bool = True,
                target: str | None = None, features: int | None = None, threads: int = 1,
                layouts: str = "auto", strip: bool = True) -> bytes:
    """.tflite bytes -> pyedge blob bytes (`strip`: see pack_graph). Raises ModelError /
    UnsupportedOpError."""
    return pack_graph(read_tflite(model), preserve_all_tensors=preserve_all_tensors,
                      preserve_inputs=preserve_inputs, target=target, features=features, threads=threads,
                      layouts=layouts, strip=strip)
