"""Lowering: each TFLite op becomes one (or more) pe ops with precomputed integer params.

A lowering function is registered per TFLite op name:

    @register("FULLY_CONNECTED", max_version=12)
    def fully_connected(ctx: LowerCtx) -> Lowered | list[Lowered] | None: ...

It reads the op through `ctx`, computes what TFLite computes in Prepare (multipliers,
shifts, activation ranges), fills the kernel's params struct (declared in
native/kernels/<family>.h) and returns the pe op(s) to run. Returning None drops the op
(e.g. VAR_HANDLE, whose effect is resolved at pack time). Anything it cannot run raises
through `ctx.fail(...)`, which names the op and where it is.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .. import _native
from ..errors import UnsupportedOpError
from ..graph import Graph, Operator, Subgraph, Tensor


@dataclass
class Lowered:
    op: str                            # pe op name (native/ops.def)
    inputs: list[Tensor | None]
    outputs: list[Tensor]
    params: bytes
    scratch: int = 0                   # bytes of per-op scratch in the arena
    layout: int = 0                    # packed weight layout (pyedge/layouts.py; 0: TFLite's)
    calls: int | None = None           # subgraph this op runs (control flow)


@dataclass
class OpSupport:
    fn: Callable[["LowerCtx"], Any]
    max_version: int
    types: str = ""                    # for the README op table, e.g. "int8, int16x8"


REGISTRY: dict[str, OpSupport] = {}


def register(*names: str, max_version: int, types: str = "int8"):
    """Register a lowering for TFLite builtin op(s) `names` up to op version `max_version`."""
    def deco(fn):
        for n in names:
            if n in REGISTRY:
                raise RuntimeError(f"two lowerings registered for {n}")
            REGISTRY[n] = OpSupport(fn, max_version, types)
        return fn
    return deco


class LowerCtx:
    """What a lowering function sees of the op it lowers and of the blob being built."""

    def __init__(self, packer: Any, graph: Graph, sg: Subgraph, op: Operator):
        self.packer = packer
        self.graph = graph
        self.sg = sg
        self.op = op
        self.options: dict[str, Any] = op.options

    # -- reading the op ---------------------------------------------------------------
    def tensor(self, local_index: int) -> Tensor | None:
        return None if local_index < 0 else self.sg.tensors[local_index]

    def input(self, k: int) -> Tensor | None:
        """k-th input, or None when absent (-1) or past the end."""
        return self.tensor(self.op.inputs[k]) if k < len(self.op.inputs) else None

    def output(self, k: int) -> Tensor:
        return self.sg.tensors[self.op.outputs[k]]

    @property
    def inputs(self) -> list[Tensor | None]:
        return [self.tensor(i) for i in self.op.inputs]

    @property
    def outputs(self) -> list[Tensor]:
        return [self.sg.tensors[i] for i in self.op.outputs]

    def opt(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)

    # -- building -----------------------------------------------------------------------
    def const(self, array: np.ndarray, name: str = "") -> Tensor:
        """A new constant tensor in the blob (e.g. per-channel multipliers)."""
        return self.packer.new_const(np.ascontiguousarray(array), f"{self.where_short()}/{name}")

    def state(self, shape: tuple[int, ...], type_code: int, key: Any = None, name: str = "",
              scale: float = 0.0, zero_point: int = 0) -> Tensor:
        """A new persistent tensor, zeroed at start and kept across invokes; tensors made with
        the same `key` are one (e.g. one resource variable read and assigned by several ops)."""
        return self.packer.new_state(tuple(shape), type_code, key, name or f"{self.where_short()}/state",
                                     scale, zero_point)

    def params(self, ctype: str, **fields: int) -> bytes:
        return _native.params_bytes(ctype, **fields)

    @property
    def shared(self) -> dict[str, Any]:
        """Packer-wide scratch dict for lowerings that need cross-op information."""
        return self.packer.shared

    # -- errors -------------------------------------------------------------------------
    def where(self) -> str:
        return f"op {self.op.opcode} (builtin {self.op.builtin_code}, version {self.op.version}) " \
               f"at operator index {self.op.index} in subgraph {self.op.subgraph}"

    def where_short(self) -> str:
        return f"{self.op.opcode}#{self.op.subgraph}.{self.op.index}"

    def fail(self, why: str) -> None:
        raise UnsupportedOpError(f"{self.where()} is not supported: {why}")

    def require(self, cond: bool, why: str) -> None:
        if not cond:
            self.fail(why)


def supported_ops() -> dict[str, OpSupport]:
    load_all()
    return dict(sorted(REGISTRY.items()))


_loaded = False


def load_all() -> None:
    """Import every lowering module in this package (each registers its ops)."""
    global _loaded
    if _loaded:
        return
    for m in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{m.name}")
    _loaded = True
