"""UNIDIRECTIONAL_SEQUENCE_LSTM (fully integer: int8 activations, int16 cell state) against
TFLite's reference kernels, bit for bit: single-op models sweeping sizes, layouts, quantization
and the optional parts (CIFG, peephole, layer norm, projection, clipping), the LSTMs of two real
models in isolation, the real models end to end, and the variants pyedge rejects."""
from __future__ import annotations

import os
import re
import struct
import zlib
from dataclasses import dataclass, replace

import numpy as np
import pytest
import tflite

import pyedge
from pyedge import blob as peb
from pyedge._native import ffi
from optest import check_model
from tflite_builder import ModelBuilder

TANH = tflite.ActivationFunctionType.TANH
MODELS = os.path.join(os.path.dirname(__file__), "models")
OPTIONS = "UnidirectionalSequenceLSTMOptions"


@dataclass(frozen=True)
class Lstm:
    """One single-op LSTM configuration; scales are chosen from `gain` (effective gate multiplier
    x sqrt(fan-in)), so gates land in the interesting part of sigmoid / tanh."""
    batch: int = 2
    n_input: int = 5
    n_cell: int = 4
    time: int = 3
    n_output: int | None = None       # projection to n_output units when set
    time_major: bool = False
    cifg: bool = False
    peephole: bool = False
    layer_norm: bool = False
    proj_bias: bool = True
    gain: float = 1.5
    input_q: tuple[float, int] = (0.02, 3)
    state_zp: int = -4                # output state zero point
    hidden_zp: int | None = None      # intermediate 4 zero point (default: state_zp)
    cell_log2: int = -11
    cell_clip: float = 0.0
    proj_clip: float = 0.0
    legacy_inputs: bool = False       # the deprecated 20-input form (no layer-norm inputs)
    input_dtype: str = "int8"
    activation: int = TANH            # TFLite's integer kernel ignores it (always tanh)
    seed: int = 0

    def build(self) -> bytes:
        rng = np.random.default_rng(self.seed)
        n_out = self.n_output or self.n_cell
        projected = self.n_output is not None
        jitter = lambda: float(rng.uniform(0.6, 1.6))  # noqa: E731
        gate_scale = [2.0**-12 * (float(rng.uniform(0.5, 3.0)) if self.layer_norm else 1.0) for _ in range(4)]
        in_scale, in_zp = self.input_q
        hidden_scale = 1 / 128 * jitter()
        hidden_zp = self.state_zp if self.hidden_zp is None else self.hidden_zp
        state_scale = hidden_scale if not projected else 1 / 100 * jitter()

        mb = ModelBuilder("lstm test")
        x_shape = [self.time, self.batch, self.n_input] if self.time_major else [self.batch, self.time, self.n_input]
        x = mb.add_tensor(x_shape, self.input_dtype, name="input", scale=in_scale, zero_point=in_zp)

        def weights(shape, act_scale, fan_in, g):
            mult = self.gain / np.sqrt(fan_in) / 74.0**2 * 4096 * jitter()  # ~gain in Q3.12 per unit
            scale = mult * gate_scale[g] / act_scale
            return mb.add_tensor(shape, "int8", data=rng.integers(-127, 128, shape), scale=scale), mult

        gates = [g for g in range(4) if g != 0 or not self.cifg]
        w_x, w_h, bias, peep, ln = {}, {}, {}, {}, {}
        for g in gates:
            w_x[g], mult = weights([self.n_cell, self.n_input], in_scale, self.n_input, g)
            w_h[g], _ = weights([self.n_cell, n_out], state_scale, n_out, g)
            if self.layer_norm:  # bias enters the normalisation: real bias = bias / 1024 * ln scale
                bias[g] = mb.add_tensor([self.n_cell], "int32", data=rng.integers(-2**22, 2**22, self.n_cell),
                                        scale=1e-6)
                ln[g] = mb.add_tensor([self.n_cell], "int16", data=rng.integers(-32767, 32768, self.n_cell),
                                      scale=3e-5 * jitter())
            else:
                bias[g] = mb.add_tensor([self.n_cell], "int32",
                                        data=rng.integers(-4096, 4097, self.n_cell) / mult, scale=1e-6)
            if self.peephole and g != 2:
                peep[g] = mb.add_tensor([self.n_cell], "int16", data=rng.integers(-32767, 32768, self.n_cell),
                                        scale=4e-5 * gate_scale[g] / 2.0**self.cell_log2 * jitter())
        proj_w = proj_b = -1
        if projected:
            proj_scale = 0.02 / np.sqrt(self.n_cell) * state_scale / hidden_scale * jitter()
            proj_w = mb.add_tensor([n_out, self.n_cell], "int8", data=rng.integers(-127, 128, (n_out, self.n_cell)),
                                   scale=proj_scale)
            if self.proj_bias:
                proj_b = mb.add_tensor([n_out], "int32", data=rng.integers(-3000, 3001, n_out), scale=1e-6)
        h = mb.add_tensor([self.batch, n_out], "int8", name="output_state", scale=state_scale,
                          zero_point=self.state_zp, is_variable=True)
        c = mb.add_tensor([self.batch, self.n_cell], "int16", name="cell_state", scale=2.0**self.cell_log2,
                          is_variable=True)
        inter = [mb.add_tensor([0], "int16", scale=gate_scale[g]) if self.layer_norm
                 else mb.add_tensor([0], "float32") for g in range(4)]
        inter.append(mb.add_tensor([0], "int8", scale=hidden_scale, zero_point=hidden_zp))
        y_shape = x_shape[:2] + [n_out]
        y = mb.add_tensor(y_shape, "int8", name="output", scale=state_scale, zero_point=self.state_zp)

        get = lambda d, g: d.get(g, -1)  # noqa: E731
        inputs = ([x] + [get(w_x, g) for g in range(4)] + [get(w_h, g) for g in range(4)]
                  + [get(peep, g) for g in (0, 1, 3)] + [get(bias, g) for g in range(4)]
                  + [proj_w, proj_b, h, c] + [get(ln, g) for g in range(4)])
        if self.legacy_inputs:
            assert not self.layer_norm
            inputs = inputs[:20]
        mb.add_operator("UNIDIRECTIONAL_SEQUENCE_LSTM", inputs, [y],
                        (OPTIONS, {"FusedActivationFunction": self.activation, "CellClip": self.cell_clip,
                                   "ProjClip": self.proj_clip, "TimeMajor": self.time_major}),
                        intermediates=inter)
        mb.set_io([x], [y])
        return mb.build()


# --- single-op sweeps ----------------------------------------------------------------------

SIZES = [  # batch, n_input, n_cell, time
    (1, 1, 1, 1), (1, 3, 2, 5), (2, 5, 4, 3), (3, 17, 7, 2), (1, 8, 17, 4), (3, 11, 16, 5), (2, 2, 9, 1),
]


@pytest.mark.parametrize("time_major", [False, True])
@pytest.mark.parametrize("batch, n_input, n_cell, time", SIZES)
def test_sizes(batch: int, n_input: int, n_cell: int, time: int, time_major: bool) -> None:
    cfg = Lstm(batch, n_input, n_cell, time, time_major=time_major, seed=batch * 100 + n_cell)
    check_model(cfg.build(), seeds=(0, 1), invokes=2)


VARIANTS = {
    "cifg": Lstm(cifg=True),
    "peephole": Lstm(peephole=True, n_cell=6),
    "cifg_peephole": Lstm(cifg=True, peephole=True, batch=3, time_major=True),
    "layer_norm": Lstm(layer_norm=True, n_cell=8),
    "layer_norm_odd": Lstm(layer_norm=True, n_cell=7, batch=3, time_major=True),
    "layer_norm_cifg": Lstm(layer_norm=True, cifg=True, n_cell=5),
    "layer_norm_one_cell": Lstm(layer_norm=True, n_cell=1, batch=3),      # zero variance: the guard
    "layer_norm_saturated": Lstm(layer_norm=True, n_cell=17, gain=60.0),  # variance >= 2^29
    "projection": Lstm(n_output=3, n_cell=6),
    "projection_wider": Lstm(n_output=9, n_cell=5, time_major=True, batch=3),
    "projection_no_bias": Lstm(n_output=4, n_cell=6, proj_bias=False, hidden_zp=7),
    "projection_clip": Lstm(n_output=5, n_cell=8, proj_clip=0.25),
    "projection_peephole": Lstm(n_output=3, n_cell=6, peephole=True, batch=3, time_major=True),
    "projection_peephole_batch_major": Lstm(n_output=4, n_cell=7, peephole=True, batch=2),
    "everything": Lstm(n_output=5, n_cell=8, peephole=True, layer_norm=True, proj_clip=0.3, cell_clip=2.0,
                       batch=3, time=4, time_major=True),
    "everything_cifg": Lstm(n_output=3, n_cell=4, cifg=True, peephole=True, layer_norm=True, batch=2),
    "cell_clip": Lstm(cell_clip=1.0, gain=4.0, time=5),
    "cell_clip_saturating": Lstm(cell_clip=100.0, gain=6.0, time=5),
    "hidden_zp_differs": Lstm(hidden_zp=-20, state_zp=5),
    "legacy_20_inputs": Lstm(legacy_inputs=True, n_output=3, n_cell=5, peephole=True),
    "activation_relu_is_ignored": Lstm(activation=tflite.ActivationFunctionType.RELU),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variants(name: str) -> None:
    check_model(VARIANTS[name].build(), seeds=(0, 1), invokes=3, context=name)


QUANT = [  # input (scale, zp), output state zp, gain, cell scale log2
    ((0.02, -128), 0, 0.3, -11),
    ((0.004, 127), 127, 1.0, -12),
    ((0.05, 0), -128, 8.0, -10),     # effective multipliers above one, saturated gates
    ((0.01, -7), 60, 0.05, -15),
    ((0.3, 10), -30, 3.0, -9),
    ((0.02, 3), -4, 2.0, -13),
]


@pytest.mark.parametrize("input_q, state_zp, gain, cell_log2", QUANT)
def test_quantization(input_q: tuple[float, int], state_zp: int, gain: float, cell_log2: int) -> None:
    base = Lstm(batch=2, n_input=6, n_cell=5, time=4, input_q=input_q, state_zp=state_zp, gain=gain,
                cell_log2=cell_log2, seed=abs(state_zp))
    check_model(base.build(), seeds=(0, 1), invokes=2)
    check_model(replace(base, n_output=3, layer_norm=True, peephole=True).build(), seeds=(2,), invokes=2)


# --- real models -------------------------------------------------------------------------------

def _lstm_submodel(path: str, op_index: int) -> bytes:
    """The model's op `op_index` (an LSTM) alone, with its weights, states and intermediates."""
    raw = open(path, "rb").read()
    model = tflite.Model.GetRootAs(raw, 0)
    sg = model.Subgraphs(0)
    op = sg.Operators(op_index)
    mb = ModelBuilder("lstm from " + os.path.basename(path))
    mapping: dict[int, int] = {}

    def copy(i: int) -> int:
        if i < 0:
            return -1
        if i not in mapping:
            t = sg.Tensors(i)
            q = t.Quantization()
            scale = zp = None
            if q is not None and q.ScaleLength():
                scale, zp = q.ScaleAsNumpy().tolist(), q.ZeroPointAsNumpy().tolist()
            buf = model.Buffers(t.Buffer())
            data = buf.DataAsNumpy().tobytes() if buf.DataLength() else None
            dtype = {v: k for k, v in tflite.TensorType.__dict__.items() if not k.startswith("_")}[t.Type()]
            mapping[i] = mb.add_tensor(t.ShapeAsNumpy().tolist(), dtype.lower(), data=data, scale=scale,
                                       zero_point=zp, is_variable=t.IsVariable(), name=t.Name().decode())
        return mapping[i]

    ins = [copy(int(i)) for i in op.InputsAsNumpy()]
    inter = [copy(int(i)) for i in op.IntermediatesAsNumpy()]
    outs = [copy(int(i)) for i in op.OutputsAsNumpy()]
    opts = tflite.UnidirectionalSequenceLSTMOptions()
    table = op.BuiltinOptions()
    opts.Init(table.Bytes, table.Pos)
    mb.add_operator("UNIDIRECTIONAL_SEQUENCE_LSTM", ins, outs,
                    (OPTIONS, {"FusedActivationFunction": opts.FusedActivationFunction(),
                               "CellClip": opts.CellClip(), "ProjClip": opts.ProjClip(),
                               "TimeMajor": opts.TimeMajor()}), intermediates=inter)
    mb.set_io([ins[0]], outs)
    return mb.build()


@pytest.mark.parametrize("model, op_index", [
    ("tflm_trained_lstm_int8.tflite", 0),
    ("tflm_dtln_noise_suppression.tflite", 0),
    ("tflm_dtln_noise_suppression.tflite", 1),  # hidden zero point -4, no projection
])
def test_real_model_lstm(model: str, op_index: int) -> None:
    check_model(_lstm_submodel(os.path.join(MODELS, model), op_index), seeds=(0, 1, 2), invokes=3)


@pytest.mark.parametrize("model", ["tflm_trained_lstm_int8.tflite", "tflm_dtln_noise_suppression.tflite"])
def test_real_model(model: str) -> None:
    """The whole model (LSTM, then RESHAPE / FULLY_CONNECTED / SOFTMAX or LOGISTIC) end to end."""
    check_model(open(os.path.join(MODELS, model), "rb").read(), seeds=(0, 1, 2), invokes=3)


# --- rejected variants -----------------------------------------------------------------------

def _float_lstm(weights_dtype: str) -> bytes:
    """A float32-input LSTM: float weights (float kernel) or int8 weights (hybrid kernel)."""
    mb = ModelBuilder("float lstm")
    x = mb.add_tensor([1, 2, 3], "float32")
    rng = np.random.default_rng(0)
    q = dict(scale=0.01) if weights_dtype == "int8" else {}

    def w(shape):
        data = rng.integers(-100, 100, shape) if weights_dtype == "int8" else rng.standard_normal(shape)
        return mb.add_tensor(shape, weights_dtype, data=data, **q)

    ws = [w([4, 3]) for _ in range(4)] + [w([4, 4]) for _ in range(4)]
    biases = [mb.add_tensor([4], "float32", data=np.zeros(4)) for _ in range(4)]
    h = mb.add_tensor([1, 4], "float32", is_variable=True)
    c = mb.add_tensor([1, 4], "float32", is_variable=True)
    y = mb.add_tensor([1, 2, 4], "float32")
    mb.add_operator("UNIDIRECTIONAL_SEQUENCE_LSTM", [x] + ws + [-1, -1, -1] + biases + [-1, -1, h, c],
                    [y], (OPTIONS, {"FusedActivationFunction": TANH}))
    mb.set_io([x], [y])
    return mb.build()


@pytest.mark.parametrize("content, why", [
    (_float_lstm("float32"), "float32 LSTM is not supported"),
    (Lstm(cell_log2=-8).build(), "cell state scale 2^-8"),
    (Lstm(cell_log2=-16).build(), "cell state scale 2^-16"),
    (Lstm(input_dtype="int16").build(), "input type INT16"),
    (Lstm(n_output=9, n_cell=5, peephole=True).build(), "peephole with 9 outputs > 5 cells"),
])
def test_unsupported_variants_raise(content: bytes, why: str) -> None:
    with pytest.raises(pyedge.UnsupportedOpError, match=re.escape(why)):
        pyedge.Interpreter(model_content=content)


def test_output_width_must_match_cells_without_projection() -> None:
    """Without a projection TFLite writes n_cell values into the n_output-wide state: refused."""
    with pytest.raises(pyedge.UnsupportedOpError, match="3 outputs for 4 cells without a projection"):
        pyedge.Interpreter(model_content=_narrow_state_lstm(n_cell=4, n_output=3))


def _narrow_state_lstm(n_cell: int, n_output: int) -> bytes:
    """An LSTM with [n_cell, n_output] recurrent weights and an n_output-wide state, no projection."""
    cfg = Lstm(n_cell=n_cell)
    rng = np.random.default_rng(0)
    mb = ModelBuilder("bad lstm")
    x = mb.add_tensor([cfg.batch, cfg.time, cfg.n_input], "int8", scale=0.02)
    w = lambda shape: mb.add_tensor(shape, "int8", data=rng.integers(-9, 9, shape), scale=0.01)  # noqa: E731
    ws = [w([n_cell, cfg.n_input]) for _ in range(4)] + [w([n_cell, n_output]) for _ in range(4)]
    biases = [mb.add_tensor([n_cell], "int32", data=np.zeros(n_cell), scale=1e-4) for _ in range(4)]
    h = mb.add_tensor([cfg.batch, n_output], "int8", scale=0.01, is_variable=True)
    c = mb.add_tensor([cfg.batch, n_cell], "int16", scale=2.0**-11, is_variable=True)
    inter = [mb.add_tensor([0], "float32") for _ in range(4)] + [mb.add_tensor([0], "int8", scale=0.01)]
    y = mb.add_tensor([cfg.batch, cfg.time, n_output], "int8", scale=0.01)
    mb.add_operator("UNIDIRECTIONAL_SEQUENCE_LSTM", [x] + ws + [-1, -1, -1] + biases + [-1, -1, h, c],
                    [y], (OPTIONS, {"FusedActivationFunction": TANH}), intermediates=inter)
    mb.set_io([x], [y])
    return mb.build()


# --- hostile blobs: the core's check refuses what the kernel cannot run safely ----------------

def _patch(blob: bytes, offset_in_op_params: int | None, value: int, op_field_offset: int | None = None) -> bytes:
    """The blob with an int32 of op 0's params (or of its op record) replaced, checksum redone."""
    info = peb.read_blob(blob)
    buf = bytearray(blob)
    op_rec = info.sections[peb.SEC_OPS][0]
    if op_field_offset is not None:
        struct.pack_into("<i", buf, op_rec + op_field_offset, value)
    else:
        params = peb.OP.unpack_from(buf, op_rec)[5]
        struct.pack_into("<i", buf, info.sections[peb.SEC_PARAMS][0] + params + offset_in_op_params, value)
    struct.pack_into("<I", buf, peb.CHECKSUM_OFFSET, 0)
    struct.pack_into("<I", buf, peb.CHECKSUM_OFFSET, zlib.crc32(bytes(buf[:info.header["total_size"]])))
    return bytes(buf)


def _field(name: str, index: int = 0) -> int:
    return ffi.offsetof("pe_lstm_params", name) + 4 * index


@pytest.mark.parametrize("field, index, value, status", [
    ("time_major", 0, 2, "PE_ERR_BAD_PARAMS"),
    ("time_major", 0, 1, "PE_ERR_SHAPE"),          # output layout then disagrees with the input's
    ("use_cifg", 0, 1, "PE_ERR_SHAPE"),            # input gate tensors are present
    ("use_peephole", 0, 1, "PE_ERR_SHAPE"),        # no peephole weights
    ("use_layer_norm", 0, 1, "PE_ERR_SHAPE"),      # no layer-norm weights
    ("use_projection", 0, 1, "PE_ERR_SHAPE"),      # no projection weights
    ("use_projection", 0, -1, "PE_ERR_BAD_PARAMS"),
    ("input_shift", 1, 31, "PE_ERR_BAD_PARAMS"),
    ("recurrent_mult", 2, -5, "PE_ERR_BAD_PARAMS"),
    ("hidden_shift", 0, -32, "PE_ERR_BAD_PARAMS"),
    ("cell_scale_log2", 0, -8, "PE_ERR_BAD_PARAMS"),
    ("cell_scale_log2", 0, -16, "PE_ERR_BAD_PARAMS"),
    ("cell_clip", 0, -1, "PE_ERR_BAD_PARAMS"),
    ("hidden_zp", 0, 300, "PE_ERR_BAD_PARAMS"),
])
def test_blob_with_bad_params_is_refused(field: str, index: int, value: int, status: str) -> None:
    blob = pyedge.pack_tflite(Lstm(batch=2, time=3).build())
    pyedge.Interpreter(model_content=blob)  # the unpatched blob loads
    with pytest.raises(pyedge.BlobError, match=status):
        pyedge.Interpreter(model_content=_patch(blob, _field(field, index), value))


@pytest.mark.parametrize("field, value", [
    ("layer_norm_shift", 19), ("layer_norm_shift", -44), ("layer_norm_shift", 2**31 - 1), ("proj_clip", 128),
    ("proj_shift", 31),
])
def test_blob_with_bad_layer_norm_or_projection_params_is_refused(field: str, value: int) -> None:
    blob = pyedge.pack_tflite(Lstm(layer_norm=True, n_output=3, n_cell=4).build())
    pyedge.Interpreter(model_content=blob)
    with pytest.raises(pyedge.BlobError, match="PE_ERR_BAD_PARAMS"):
        pyedge.Interpreter(model_content=_patch(blob, _field(field, 1 if field == "layer_norm_shift" else 0),
                                                value))


def test_blob_with_small_scratch_is_refused() -> None:
    blob = pyedge.pack_tflite(Lstm(batch=3, n_cell=5).build())
    scratch_size = peb.read_blob(blob).ops[0]["scratch_size"]
    assert scratch_size == 9 * 3 * 5
    with pytest.raises(pyedge.BlobError, match="PE_ERR_BAD_PARAMS"):
        pyedge.Interpreter(model_content=_patch(blob, None, scratch_size - 1, op_field_offset=24))
