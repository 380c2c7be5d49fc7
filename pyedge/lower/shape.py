"""Lowering of data-movement ops."""
from __future__ import annotations

from . import Lowered, LowerCtx, register


@register("RESHAPE", "SQUEEZE", "EXPAND_DIMS", max_version=2, types="all")
def reshape(ctx: LowerCtx) -> Lowered:
    x, y = ctx.input(0), ctx.output(0)
    ctx.require(x.type_code == y.type_code, f"input {x.type_name} and output {y.type_name} differ")
    ctx.require(x.size == y.size, f"input shape {x.shape} and output shape {y.shape} hold different sizes")
    return Lowered("RESHAPE", [x], [y], ctx.params("pe_reshape_params"))
