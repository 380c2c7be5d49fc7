"""Dynamic-range ("hybrid") UNIDIRECTIONAL_SEQUENCE_LSTM: float32 input, states and output with
int8 weights, as TensorFlow's converter writes it without a representative dataset. Against
TFLite's reference kernels bit for bit on every kernel path, over sizes, both layouts, symmetric
and asymmetric input quantization, CIFG, peephole, projection, clipping, cell activations,
all-zero inputs and several invokes (the float states persist); and TFLite's sigmoid and tanh
(Eigen's, in TFLite 2.14) over their whole range."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pytest
import tflite

import pyedge
from optest import check_model
from tflite_builder import ModelBuilder

F32 = np.float32
A = tflite.ActivationFunctionType
OPTIONS = "UnidirectionalSequenceLSTMOptions"


@dataclass(frozen=True)
class HybridLstm:
    batch: int = 2
    n_input: int = 5
    n_cell: int = 4
    time: int = 3
    n_output: int | None = None  # projection to n_output units when set
    time_major: bool = False
    cifg: bool = False
    peephole: bool = False
    proj_bias: bool = True
    asymmetric: bool = False
    cell_clip: float = 0.0
    proj_clip: float = 0.0
    activation: int = A.TANH
    int8_peephole: bool = True
    layer_norm: bool = False
    seed: int = 0

    def build(self) -> bytes:
        rng = np.random.default_rng(self.seed)
        n_out = self.n_output or self.n_cell
        mb = ModelBuilder("hybrid lstm")
        x_shape = [self.time, self.batch, self.n_input] if self.time_major else [self.batch, self.time, self.n_input]
        x = mb.add_tensor(x_shape, "float32", name="input")

        def w(shape, fan_in):
            return mb.add_tensor(shape, "int8", data=rng.integers(-127, 128, shape),
                                 scale=float(1.6 / np.sqrt(fan_in) / 127 * rng.uniform(0.7, 1.4)))

        gates = [g for g in range(4) if g != 0 or not self.cifg]
        w_x = {g: w([self.n_cell, self.n_input], self.n_input) for g in gates}
        w_h = {g: w([self.n_cell, n_out], n_out) for g in gates}
        bias = {g: mb.add_tensor([self.n_cell], "float32", data=rng.uniform(-1, 1, self.n_cell).astype(F32))
                for g in gates}
        peep = {}
        if self.peephole:
            for g in (0, 1, 3):
                if g in gates:
                    peep[g] = (mb.add_tensor([self.n_cell], "int8", data=rng.integers(-127, 128, self.n_cell), scale=0.004)
                               if self.int8_peephole else
                               mb.add_tensor([self.n_cell], "float32", data=rng.uniform(-0.5, 0.5, self.n_cell).astype(F32)))
        ln = {}
        if self.layer_norm:
            ln = {g: mb.add_tensor([self.n_cell], "float32", data=np.ones(self.n_cell, F32)) for g in gates}
        proj_w = proj_b = -1
        if self.n_output is not None:
            proj_w = w([n_out, self.n_cell], self.n_cell)
            if self.proj_bias:
                proj_b = mb.add_tensor([n_out], "float32", data=rng.uniform(-0.3, 0.3, n_out).astype(F32))
        h = mb.add_tensor([self.batch, n_out], "float32", name="output_state", is_variable=True)
        c = mb.add_tensor([self.batch, self.n_cell], "float32", name="cell_state", is_variable=True)
        y = mb.add_tensor(x_shape[:2] + [n_out], "float32", name="output")
        get = lambda d, g: d.get(g, -1)  # noqa: E731
        inputs = ([x] + [get(w_x, g) for g in range(4)] + [get(w_h, g) for g in range(4)]
                  + [get(peep, g) for g in (0, 1, 3)] + [get(bias, g) for g in range(4)]
                  + [proj_w, proj_b, h, c] + [get(ln, g) for g in range(4)])
        mb.add_operator("UNIDIRECTIONAL_SEQUENCE_LSTM", inputs, [y],
                        (OPTIONS, {"FusedActivationFunction": self.activation, "CellClip": self.cell_clip,
                                   "ProjClip": self.proj_clip, "TimeMajor": self.time_major,
                                   "AsymmetricQuantizeInputs": self.asymmetric}))
        mb.set_io([x], [y])
        return mb.build()

    def inputs(self, seed: int) -> list[list[np.ndarray]]:
        """Three invokes of float inputs; one time step of the second is all zeros."""
        rng = np.random.default_rng(100 + seed)
        shape = (self.time, self.batch, self.n_input) if self.time_major else (self.batch, self.time, self.n_input)
        sets = [[(rng.standard_normal(shape) * rng.uniform(0.3, 3)).astype(F32)] for _ in range(3)]
        if self.time_major:
            sets[1][0][0] = 0
        else:
            sets[1][0][:, 0] = 0
        return sets


def check(cfg: HybridLstm, seeds=(0, 1)) -> None:
    model = cfg.build()
    for s in seeds:
        check_model(model, inputs=cfg.inputs(s), invokes=3, context=str(cfg))


SIZES = [(1, 1, 1, 1), (1, 3, 2, 5), (2, 5, 4, 3), (3, 17, 7, 2), (1, 8, 17, 4), (3, 11, 16, 5), (2, 33, 9, 2)]


@pytest.mark.parametrize("asymmetric", [False, True], ids=["symmetric", "asymmetric"])
@pytest.mark.parametrize("time_major", [False, True], ids=["batch_major", "time_major"])
@pytest.mark.parametrize("batch, n_input, n_cell, time", SIZES, ids=str)
def test_sizes(batch, n_input, n_cell, time, time_major, asymmetric):
    check(HybridLstm(batch=batch, n_input=n_input, n_cell=n_cell, time=time, time_major=time_major,
                     asymmetric=asymmetric, seed=n_cell))


@pytest.mark.parametrize("cfg", [
    HybridLstm(cifg=True),
    HybridLstm(peephole=True),
    HybridLstm(peephole=True, time_major=True, batch=3, n_cell=7),
    HybridLstm(cifg=True, peephole=True, asymmetric=True),
    HybridLstm(n_output=3, n_cell=6),
    HybridLstm(n_output=7, n_cell=5, proj_bias=False, asymmetric=True, time_major=True),
    HybridLstm(n_output=3, n_cell=6, peephole=True, cifg=True, proj_clip=0.05),
    HybridLstm(cell_clip=0.3),
    HybridLstm(cell_clip=0.2, n_output=2, proj_clip=0.1, time_major=True, batch=3),
    HybridLstm(activation=A.RELU),
    HybridLstm(activation=A.RELU6, asymmetric=True),
    HybridLstm(activation=A.RELU_N1_TO_1, time_major=True),
], ids=lambda c: re.sub(r"HybridLstm\((.*)\)", r"\1", repr(c)).replace(" ", ""))
def test_variants(cfg):
    check(cfg)


def _gate_probe(values: np.ndarray, act: int, which: str) -> bytes:
    """An LSTM with zero weights, so each gate is its bias: with the input and forget gates
    saturated (bias 30) and RELU, h = sigmoid(output bias) * cell bias; with TANH and the output
    gate saturated, h = tanh(tanh(cell bias))."""
    n = len(values)
    mb = ModelBuilder("gate probe")
    x = mb.add_tensor([1, 1, 1], "float32")
    ws = [mb.add_tensor([n, 1], "int8", data=np.zeros((n, 1)), scale=0.01) for _ in range(4)] + \
         [mb.add_tensor([n, n], "int8", data=np.zeros((n, n)), scale=0.01) for _ in range(4)]
    sat = np.full(n, 30, F32)
    biases = [sat, sat, np.ones(n, F32), values] if which == "sigmoid" else [sat, sat, values, sat]
    bs = [mb.add_tensor([n], "float32", data=b.astype(F32)) for b in biases]
    h = mb.add_tensor([1, n], "float32", is_variable=True)
    c = mb.add_tensor([1, n], "float32", is_variable=True)
    y = mb.add_tensor([1, 1, n], "float32")
    mb.add_operator("UNIDIRECTIONAL_SEQUENCE_LSTM", [x] + ws + [-1, -1, -1] + bs + [-1, -1, h, c], [y],
                    (OPTIONS, {"FusedActivationFunction": act}))
    mb.set_io([x], [y])
    return mb.build()


@pytest.mark.parametrize("which, act", [("sigmoid", A.RELU), ("tanh", A.TANH)])
@pytest.mark.parametrize("cells", [652, 3, 5, 9], ids=lambda n: f"{n}cells")
def test_sigmoid_and_tanh_over_their_range(which, act, cells):
    """TFLite's float sigmoid and tanh, element by element, from where they underflow to where
    they saturate (and across Eigen's cut-offs: tanh's clamp at 7.905, exp's at -104 and 88.4,
    the scalar logistic's at 16.64). With 3, 5 and 9 cells the output gate starts 36, 60 and 108
    bytes into TFLite's scratch buffer, so Eigen evaluates some or all of it one element at a
    time (its scalar logistic), the rest four at a time."""
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.uniform(-120, 100, 300), rng.uniform(-9, 9, 300), rng.uniform(-1e-3, 1e-3, 40),
                             [0.0, -0.0, 7.9053111, -7.9053111, 16.6355324, 17.3, 88.3762626647949, -104.0, -103.9,
                              88.8, -87.5, 1e-30, 16.7, 17.0, 17.2, 16.9, 20.0, -20.0]]).astype(F32)
    assert len(values) == 658
    values = values[:652] if cells == 652 else values[rng.permutation(len(values))[:cells * 12]]
    for part in np.split(values, len(values) // cells):
        check_model(_gate_probe(part, act, which), inputs=[np.zeros((1, 1, 1), F32)])


def test_refusals_name_the_problem():
    for cfg, why in [(HybridLstm(layer_norm=True), "layer-norm coefficients"),
                     (HybridLstm(activation=A.NONE), "cell activation NONE"),
                     (HybridLstm(activation=6), "cell activation 6"),
                     (HybridLstm(peephole=True, int8_peephole=False), "peephole weights FLOAT32"),
                     (HybridLstm(activation=A.SIGN_BIT), "cell activation SIGN_BIT")]:
        with pytest.raises(pyedge.UnsupportedOpError, match=re.escape(why)):
            pyedge.Interpreter(model_content=cfg.build())
