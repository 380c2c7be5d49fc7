"""Lowering of UNIDIRECTIONAL_SEQUENCE_LSTM onto the fully integer kernel (int8 activations and
weights, int16 cell state), reproducing what TFLite's unidirectional_sequence_lstm.cc Prepare
computes for lstm_eval's EvalInteger8x8_16: effective scales from the `intermediates` tensors
(float32 arithmetic, QuantizeMultiplier), zero point x weight row sums folded into the biases,
quantized clips and layer-norm variance guards."""
from __future__ import annotations

import math

import numpy as np

from .. import _native
from . import Lowered, LowerCtx, register
from ..graph import Tensor
from ..quant import quantize_multiplier

FLOAT32, INT32, INT16, INT8 = 0, 2, 7, 9
GATES = ("input", "forget", "cell", "output")
# TFLite input indices (lstm_shared.h)
INPUT, INPUT_W, RECURRENT_W, PEEPHOLE_W, GATE_BIAS = 0, 1, 5, 9, 12
PROJ_W, PROJ_BIAS, OUTPUT_STATE, CELL_STATE, LAYER_NORM_W = 16, 17, 18, 19, 20
PEEPHOLE_GATES = (0, 1, 3)  # cell-to-input, cell-to-forget, cell-to-output
f32 = np.float32


def _wrap_int32(values: np.ndarray) -> np.ndarray:
    """int64 -> int32 with two's-complement wrap-around (TFLite accumulates these in int32)."""
    return ((np.asarray(values, np.int64) + 2**31) % 2**32 - 2**31).astype(np.int32)


def _checked_log2(x: float) -> int | None:
    """TFLite CheckedLog2 (float32): round(log2(x)) if x is a power of two within 1e-3, else None."""
    x_log2 = f32(np.log(f32(x))) * (f32(1.0) / f32(np.log(f32(2.0))))
    rounded = f32(np.round(x_log2))
    return int(rounded) if abs(float(x_log2 - rounded)) < 1e-3 else None


def _trunc_clamp(value: np.float32, lo: float, hi: float) -> int:
    """static_cast<intN_t>(std::min(std::max(value, lo), hi)) in float32."""
    return int(math.trunc(float(min(max(value, f32(lo)), f32(hi)))))


@register("UNIDIRECTIONAL_SEQUENCE_LSTM", max_version=3, types="int8 (int16 cell state)")
def unidirectional_sequence_lstm(ctx: LowerCtx) -> Lowered:
    n_inputs = len(ctx.op.inputs)
    ctx.require(n_inputs in (20, 24), f"{n_inputs} inputs; the LSTM takes 20 or 24")
    ctx.require(len(ctx.op.outputs) == 1, f"{len(ctx.op.outputs)} outputs; the LSTM has 1")
    x, y = ctx.input(INPUT), ctx.output(0)
    w_out = ctx.input(INPUT_W + 3)
    ctx.require(x is not None and w_out is not None, "the input and input-to-output weights are required")
    if x.type_code == FLOAT32:
        kind = "hybrid (float32 activations, int8 weights)" if w_out.type_code == INT8 else "float32"
        ctx.fail(f"{kind} LSTM is not supported: pyedge runs TFLite's fully integer kernel "
                 "(int8 activations, int16 cell state) only")
    ctx.require(x.type_code == INT8, f"input type {x.type_name}: TFLite's integer LSTM takes int8 input "
                "(there is no int16-activation variant)")
    ctx.require(y.type_code == INT8, f"output type {y.type_name}, expected INT8")
    ctx.require(not ctx.opt("DiagonalRecurrentTensors", False),
                "diagonal recurrent weights exist only in TFLite's float kernel")
    # FusedActivationFunction is not read: TFLite's integer kernel always uses tanh (and sigmoid
    # for the gates) whatever the option says. AsymmetricQuantizeInputs is hybrid-only.
    ctx.require(len(x.shape) == 3, f"input rank {len(x.shape)}; expected 3 ([time, batch, in] or [batch, time, in])")
    time_major = bool(ctx.opt("TimeMajor", False))
    n_batch = x.shape[1] if time_major else x.shape[0]
    n_input = x.shape[2]
    ctx.require(len(w_out.shape) == 2 and w_out.shape[1] == n_input,
                f"input-to-output weights shape {w_out.shape} does not fit input size {n_input}")
    n_cell = w_out.shape[0]
    r_out = ctx.input(RECURRENT_W + 3)
    ctx.require(r_out is not None and len(r_out.shape) == 2 and r_out.shape[0] == n_cell,
                "recurrent-to-output weights missing or not [n_cell, n_output]")
    n_output = r_out.shape[1]
    ctx.require(min(n_input, n_cell, n_output) >= 1, "empty input, cell or output dimension")

    def quant(t: Tensor, what: str) -> tuple[np.float32, int]:
        ctx.require(t.quantized, f"{what} is not quantized")
        ctx.require(not t.per_channel, f"{what} is quantized per channel; TFLite's integer LSTM uses "
                    "one scale per tensor")
        return f32(t.scale), t.zero_point

    def tensor(k: int, what: str, type_code: int, shape: tuple[int, ...], const: bool) -> Tensor:
        t = ctx.input(k)
        ctx.require(t is not None, f"{what} (input {k}) is missing")
        ctx.require(t.type_code == type_code, f"{what} has type {t.type_name}")
        ctx.require(tuple(t.shape) == shape, f"{what} has shape {t.shape}, expected {shape}")
        if const:
            ctx.require(t.is_const, f"{what} must be constant (TFLite folds it into biases at Prepare)")
        return t

    use_cifg = ctx.input(INPUT_W) is None
    ctx.require(use_cifg == (ctx.input(RECURRENT_W) is None),
                "input-to-input and recurrent-to-input weights must be both present or both absent")
    gates = [g for g in range(4) if g != 0 or not use_cifg]
    w_x = {g: tensor(INPUT_W + g, f"input-to-{GATES[g]} weights", INT8, (n_cell, n_input), True) for g in gates}
    w_h = {g: tensor(RECURRENT_W + g, f"recurrent-to-{GATES[g]} weights", INT8, (n_cell, n_output), True)
           for g in gates}
    if use_cifg:
        ctx.require(ctx.input(GATE_BIAS) is None, "CIFG LSTM with an input gate bias")

    peephole = [ctx.input(PEEPHOLE_W + k) for k in range(3)]
    use_peephole = peephole[2] is not None
    expect = [use_peephole and not use_cifg, use_peephole, use_peephole]
    ctx.require([p is not None for p in peephole] == expect,
                "peephole weights must be all present (cell-to-input only without CIFG) or all absent")
    w_c = {PEEPHOLE_GATES[k]: tensor(PEEPHOLE_W + k, f"cell-to-{GATES[PEEPHOLE_GATES[k]]} weights", INT16,
                                     (n_cell,), False) for k in range(3) if expect[k]}
    if use_peephole:
        ctx.require(n_output <= n_cell, f"peephole with {n_output} outputs > {n_cell} cells: TFLite's kernel "
                    "walks n_output peephole weights per row and would read past them")

    use_layer_norm = n_inputs == 24 and ctx.input(LAYER_NORM_W + 1) is not None
    w_ln = {g: tensor(LAYER_NORM_W + g, f"{GATES[g]} layer-norm coefficients", INT16, (n_cell,), False)
            for g in (gates if use_layer_norm else [])}
    if use_cifg and n_inputs == 24:
        ctx.require(ctx.input(LAYER_NORM_W) is None, "CIFG LSTM with input layer-norm coefficients")
    if not use_layer_norm and n_inputs == 24:
        ctx.require(all(ctx.input(LAYER_NORM_W + g) is None for g in range(4)),
                    "layer-norm coefficients without the forget gate's")
    bias = {g: tensor(GATE_BIAS + g, f"{GATES[g]} gate bias", INT32, (n_cell,), not use_layer_norm)
            for g in gates}

    proj_w = ctx.input(PROJ_W)
    use_projection = proj_w is not None
    proj_b = ctx.input(PROJ_BIAS)
    ctx.require(use_projection or proj_b is None, "projection bias without projection weights")
    if use_projection:
        proj_w = tensor(PROJ_W, "projection weights", INT8, (n_output, n_cell), True)
        if proj_b is not None:
            proj_b = tensor(PROJ_BIAS, "projection bias", INT32, (n_output,), True)
    else:
        ctx.require(n_output == n_cell, f"{n_output} outputs for {n_cell} cells without a projection")

    h_state, c_state = ctx.input(OUTPUT_STATE), ctx.input(CELL_STATE)
    ctx.require(h_state is not None and h_state.is_variable and c_state is not None and c_state.is_variable,
                "output state and cell state must be variable tensors")
    ctx.require(h_state.type_code == INT8 and h_state.size == n_batch * n_output,
                f"output state {h_state.type_name} {h_state.shape}, expected INT8 with {n_batch * n_output} "
                "elements")
    ctx.require(c_state.type_code == INT16 and c_state.size == n_batch * n_cell,
                f"cell state {c_state.type_name} {c_state.shape}, expected INT16 with {n_batch * n_cell} "
                "elements")
    ctx.require(tuple(y.shape) == (*x.shape[:2], n_output), f"output shape {y.shape}, expected "
                f"{(*x.shape[:2], n_output)}")

    inter = [ctx.tensor(i) for i in ctx.op.intermediates]
    ctx.require(len(inter) == 5, f"{len(inter)} intermediate tensors; the integer LSTM needs 5 "
                "(gate scales for layer norm, then the hidden state's quantization)")
    in_scale, in_zp = quant(x, "input")
    h_scale, h_zp = quant(h_state, "output state")
    c_scale, _ = quant(c_state, "cell state")
    y_scale, _ = quant(y, "output")
    hidden_scale, hidden_zp = quant(inter[4], "intermediate 4 (hidden state)")
    gate_scale = [quant(inter[g], f"intermediate {g} ({GATES[g]} gate)")[0] if use_layer_norm
                  else f32(2.0**-12) for g in range(4)]  # Q3.12 without layer norm
    cell_log2 = _checked_log2(c_scale)
    ctx.require(cell_log2 is not None, f"cell state scale {c_scale} is not a power of two")
    ctx.require(-15 <= cell_log2 <= -9, f"cell state scale 2^{cell_log2}: TFLite's integer tanh handles "
                "2^-15 .. 2^-9 only")

    def multiplier(scale: float, what: str, extra_shift: int = 0) -> tuple[int, int]:
        m, s = quantize_multiplier(float(scale))
        ctx.require(-31 <= s + extra_shift <= 30, f"{what} scale {scale} is out of the representable range")
        return m, s

    fields: dict[str, object] = {k: [0] * 4 for k in (
        "input_mult", "input_shift", "recurrent_mult", "recurrent_shift", "cell_mult", "cell_shift",
        "layer_norm_mult", "layer_norm_shift", "variance_guard")}
    for g in gates:
        # float32 as Prepare computes them: weight_scale * activation_scale / gate_scale
        fields["input_mult"][g], fields["input_shift"][g] = multiplier(
            f32(w_x[g].scale) * in_scale / gate_scale[g], f"effective input-to-{GATES[g]}")
        fields["recurrent_mult"][g], fields["recurrent_shift"][g] = multiplier(
            f32(w_h[g].scale) * h_scale / gate_scale[g], f"effective recurrent-to-{GATES[g]}")
        if g in w_c:  # std::pow(2, cell_scale) is double: the product runs in double
            scale = f32(2.0**cell_log2 * float(quant(w_c[g], "peephole weights")[0]) / float(gate_scale[g]))
            fields["cell_mult"][g], fields["cell_shift"][g] = multiplier(scale, f"effective cell-to-{GATES[g]}")
        if use_layer_norm:
            ln_scale = quant(w_ln[g], f"{GATES[g]} layer-norm coefficients")[0]
            fields["layer_norm_mult"][g], fields["layer_norm_shift"][g] = multiplier(
                ln_scale, f"{GATES[g]} layer-norm", extra_shift=12)
            guard = f32(10000) * ln_scale
            ctx.require(guard < 2**31, f"{GATES[g]} layer-norm scale {ln_scale} is too large")
            fields["variance_guard"][g] = max(1, int(guard))
    hidden_mult, hidden_shift = multiplier(f32(2.0**-15 / float(hidden_scale) * 2.0**-15), "effective hidden")
    proj_mult = proj_shift = 0
    if use_projection:
        proj_mult, proj_shift = multiplier(quant(proj_w, "projection weights")[0] * hidden_scale / h_scale,
                                           "effective projection")

    cell_clip, proj_clip = float(ctx.opt("CellClip", 0.0)), float(ctx.opt("ProjClip", 0.0))
    ctx.require(cell_clip >= 0 and proj_clip >= 0, "negative cell or projection clip")
    q_cell_clip = _trunc_clamp(f32(cell_clip) / c_scale, -32768, 32767) if cell_clip > 0 else 0
    q_proj_clip = _trunc_clamp(f32(proj_clip) / y_scale, -128, 127) if proj_clip > 0 else 0

    # Effective biases (PrecomputeZeroPointTimesWeightWithBias): with layer norm the gate bias
    # goes into the normalisation instead.
    eff = np.zeros((8, n_cell), np.int64)
    for g in gates:
        if not use_layer_norm:
            eff[2 * g] = bias[g].data
        eff[2 * g] -= in_zp * w_x[g].data.astype(np.int64).sum(axis=1)
        eff[2 * g + 1] = -h_zp * w_h[g].data.astype(np.int64).sum(axis=1)
    proj_eff = None
    if use_projection:
        pb = proj_b.data.astype(np.int64) if proj_b is not None else np.zeros(n_output, np.int64)
        # +hidden_zp * row sum: the kernel quantizes the hidden state with zero point -hidden_zp
        # before the projection, as TFLite does
        proj_eff = ctx.const(_wrap_int32(pb + hidden_zp * proj_w.data.astype(np.int64).sum(axis=1)),
                             "projection_effective_bias")

    inputs: list[Tensor | None] = [None] * 26
    inputs[INPUT], inputs[OUTPUT_STATE], inputs[CELL_STATE] = x, h_state, c_state
    for g in gates:
        inputs[INPUT_W + g], inputs[RECURRENT_W + g] = w_x[g], w_h[g]
        if use_layer_norm:
            inputs[GATE_BIAS + g], inputs[LAYER_NORM_W + g] = bias[g], w_ln[g]
    for k, g in enumerate(PEEPHOLE_GATES):
        inputs[PEEPHOLE_W + k] = w_c.get(g)
    inputs[PROJ_W] = proj_w if use_projection else None
    inputs[24] = ctx.const(_wrap_int32(eff), "effective_bias")
    inputs[25] = proj_eff
    fields.update(
        time_major=int(time_major), use_cifg=int(use_cifg), use_peephole=int(use_peephole),
        use_layer_norm=int(use_layer_norm), use_projection=int(use_projection), hidden_mult=hidden_mult,
        hidden_shift=hidden_shift, hidden_zp=hidden_zp, proj_mult=proj_mult, proj_shift=proj_shift,
        output_state_zp=h_zp, cell_scale_log2=cell_log2, cell_clip=q_cell_clip, proj_clip=q_proj_clip)
    params = _native.params_struct("pe_lstm_params")
    for name, value in fields.items():
        setattr(params, name, value)
    # scratch: 4 int16 gate buffers and the int8 hidden state, each [n_batch, n_cell]
    return Lowered("UNIDIRECTIONAL_SEQUENCE_LSTM", inputs, [y], _native.struct_bytes(params),
                   scratch=9 * n_batch * n_cell)
