"""The test model builder writes models tflite-runtime's reference kernels load and run correctly."""

from __future__ import annotations

import numpy as np
import pytest
import tflite

from oracle import assert_bit_exact, random_inputs, reference_interpreter, run_model
from tflite_builder import _VERSIONS, ModelBuilder, single_op_model

RELU = tflite.ActivationFunctionType.RELU


def _int8(values) -> np.ndarray:
    return np.array(values, dtype=np.int8)


def test_model_header_and_opcodes() -> None:
    mb = ModelBuilder("header test")
    x = mb.add_tensor([2], "float32")
    y = mb.add_tensor([2], "float32")
    mb.add_operator("ADD", [x, x], [y])
    mb.add_operator("CALL_ONCE", [], [], ("CallOnceOptions", {"InitSubgraphIndex": 1}))
    mb.add_subgraph("init")
    mb.set_io([x], [y])
    content = mb.build()

    assert content[4:8] == b"TFL3"
    model = tflite.Model.GetRootAs(content)
    assert model.Version() == 3
    assert model.Description() == b"header test"
    assert model.Buffers(0).DataLength() == 0
    assert model.SubgraphsLength() == 2
    codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
    assert [(c.DeprecatedBuiltinCode(), c.BuiltinCode(), c.Version()) for c in codes] == [
        (tflite.BuiltinOperator.ADD, tflite.BuiltinOperator.ADD, 1),
        (127, tflite.BuiltinOperator.CALL_ONCE, 1),
    ]


@pytest.mark.parametrize("activation, expected", [
    (tflite.ActivationFunctionType.NONE, [-125, 5, -52, 127]),
    (RELU, [2, 5, 2, 127]),
])
def test_int8_add_matches_hand_computation(activation: int, expected: list[int]) -> None:
    content = single_op_model(
        "ADD",
        [dict(shape=[1, 4], dtype="int8", scale=0.5, zero_point=-1),
         dict(shape=[1, 4], dtype="int8", scale=0.25, zero_point=3)],
        [dict(shape=[1, 4], dtype="int8", scale=0.5, zero_point=2)],
        ("AddOptions", {"FusedActivationFunction": activation}),
    )
    assert tflite.Model.GetRootAs(content).OperatorCodes(0).Version() == 2
    a = _int8([[-128, 0, 9, 127]])   # real (q + 1) * 0.5:  -63.5, 0.5, 5, 64
    b = _int8([[3, 7, -125, 127]])   # real (q - 3) * 0.25:  0, 1, -32, 31
    # sum -63.5, 1.5, -27, 95 -> q = sum / 0.5 + 2 = -125, 5, -52, 192 (clamped to 127)
    (out,), = run_model(reference_interpreter, content, [a, b])
    assert_bit_exact([out], [_int8([expected])])


def _conv_reference(x, w, bias, stride, in_q, w_scales, out_q) -> np.ndarray:
    """Float-requantised int8 conv with SAME padding (within 1 LSB of TFLite's fixed point)."""
    (in_scale, in_zp), (out_scale, out_zp) = in_q, out_q
    n, h, wd, _ = x.shape
    o, kh, kw, _ = w.shape
    oh, ow = -(-h // stride), -(-wd // stride)
    pad_h = max((oh - 1) * stride + kh - h, 0) // 2
    pad_w = max((ow - 1) * stride + kw - wd, 0) // 2
    xs = np.pad(x.astype(np.int64) - in_zp, ((0, 0), (pad_h, kh), (pad_w, kw), (0, 0)))
    acc = np.zeros((n, oh, ow, o), dtype=np.int64)
    for i in range(oh):
        for j in range(ow):
            patch = xs[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            acc[:, i, j, :] = np.einsum("nhwc,ohwc->no", patch, w.astype(np.int64))
    acc += bias
    real = acc * (in_scale * np.asarray(w_scales) / out_scale)
    return np.clip(np.round(real) + out_zp, -128, 127).astype(np.int8)


def test_per_channel_int8_conv_same_stride2() -> None:
    rng = np.random.default_rng(1)
    in_q, out_q = (0.05, -3), (0.2, 4)
    w_scales = [0.01, 0.02, 0.005, 0.03]
    w = rng.integers(-127, 128, size=(4, 3, 3, 3), dtype=np.int8)
    bias = rng.integers(-2000, 2000, size=4).astype(np.int32)
    content = single_op_model(
        "CONV_2D",
        [dict(shape=[1, 5, 7, 3], dtype="int8", scale=in_q[0], zero_point=in_q[1]),
         dict(shape=w.shape, dtype="int8", data=w, scale=w_scales, zero_point=0),
         dict(shape=[4], dtype="int32", data=bias,
              scale=[in_q[0] * s for s in w_scales], zero_point=0)],
        [dict(shape=[1, 3, 4, 4], dtype="int8", scale=out_q[0], zero_point=out_q[1])],
        ("Conv2DOptions", {"Padding": tflite.Padding.SAME, "StrideW": 2, "StrideH": 2}),
    )
    model = tflite.Model.GetRootAs(content)
    assert model.OperatorCodes(0).Version() == 3
    filt = model.Subgraphs(0).Tensors(1).Quantization()
    np.testing.assert_allclose(filt.ScaleAsNumpy(), w_scales, rtol=1e-7)
    assert filt.ZeroPointAsNumpy().tolist() == [0, 0, 0, 0]
    assert filt.QuantizedDimension() == 0

    interp = reference_interpreter(content)
    interp.allocate_tensors()
    assert interp.get_output_details()[0]["shape"].tolist() == [1, 3, 4, 4]
    (x,) = random_inputs(interp, rng)
    (out,), = run_model(reference_interpreter, content, [x])
    assert out.shape == (1, 3, 4, 4) and out.dtype == np.int8
    want = _conv_reference(x, w, bias, 2, in_q, w_scales, out_q)
    assert np.abs(out.astype(int) - want).max() <= 1


@pytest.mark.parametrize("op, options, in_shape, out_shape", [
    ("RESHAPE", ("ReshapeOptions", {"NewShape": [4, -1]}), [2, 3, 4], [4, 6]),
    ("SQUEEZE", ("SqueezeOptions", {"SqueezeDims": [0, 2]}), [1, 3, 1, 2], [3, 2]),
])
def test_vector_options(op: str, options, in_shape: list[int], out_shape: list[int]) -> None:
    content = single_op_model(op, [dict(shape=in_shape, dtype="float32")],
                              [dict(shape=out_shape, dtype="float32")], options)
    stored = tflite.Model.GetRootAs(content).Subgraphs(0).Operators(0)
    table = getattr(tflite, options[0])()
    table.Init(stored.BuiltinOptions().Bytes, stored.BuiltinOptions().Pos)
    field = next(iter(options[1]))
    assert getattr(table, f"{field}AsNumpy")().tolist() == options[1][field]

    x = np.arange(np.prod(in_shape), dtype=np.float32).reshape(in_shape)
    (out,), = run_model(reference_interpreter, content, [x])
    assert_bit_exact([out], [x.reshape(out_shape)])


def test_omitted_optional_input() -> None:
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    content = single_op_model(
        "FULLY_CONNECTED",
        [dict(shape=[1, 3], dtype="float32"), dict(shape=None, dtype="float32", data=w), None],
        [dict(shape=[1, 2], dtype="float32")],
        ("FullyConnectedOptions", {}),
    )
    stored = tflite.Model.GetRootAs(content).Subgraphs(0).Operators(0)
    assert stored.InputsAsNumpy().tolist() == [0, 1, -1]
    x = np.array([[1.0, -2.0, 0.5]], dtype=np.float32)
    (out,), = run_model(reference_interpreter, content, [x])
    assert_bit_exact([out], [x @ w.T])


def test_variable_tensor_state_persists() -> None:
    """Float SVDF keeps its activation state in a variable tensor across invokes."""
    rng = np.random.default_rng(2)
    batch, inputs, filters, memory, rank = 2, 3, 4, 5, 2
    units = filters // rank
    w_feature = rng.standard_normal((filters, inputs)).astype(np.float32)
    w_time = rng.standard_normal((filters, memory)).astype(np.float32)
    bias = rng.standard_normal(units).astype(np.float32)
    content = single_op_model(
        "SVDF",
        [dict(shape=[batch, inputs], dtype="float32", name="input"),
         dict(shape=None, dtype="float32", data=w_feature),
         dict(shape=None, dtype="float32", data=w_time),
         dict(shape=None, dtype="float32", data=bias),
         dict(shape=[batch, memory * filters], dtype="float32", is_variable=True, name="state")],
        [dict(shape=[batch, units], dtype="float32")],
        ("SVDFOptions", {"Rank": rank}),
    )
    assert tflite.Model.GetRootAs(content).Subgraphs(0).Tensors(4).IsVariable()
    steps = random_inputs(content, rng, count=3)
    outputs = run_model(reference_interpreter, content, steps, invokes=3)

    state = np.zeros((batch, filters, memory), dtype=np.float32)
    for (x,), (out,) in zip(steps, outputs):
        state = np.roll(state, -1, axis=2)
        state[:, :, -1] = x @ w_feature.T
        want = (state * w_time).sum(-1).reshape(batch, units, rank).sum(-1) + bias
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    assert not np.allclose(outputs[1][0], outputs[2][0])


def _counter_model() -> bytes:
    """Streaming counter: init subgraph sets the variable to 10, main adds its input each invoke."""
    mb = ModelBuilder("counter")
    init = mb.add_subgraph("init")
    handle0 = mb.add_tensor([], "resource", subgraph=init)
    start = mb.add_tensor([1], "int32", data=np.array([10], np.int32), subgraph=init)
    mb.add_operator("VAR_HANDLE", [], [handle0], ("VarHandleOptions", {"SharedName": "counter"}),
                    subgraph=init)
    mb.add_operator("ASSIGN_VARIABLE", [handle0, start], [], subgraph=init)
    mb.set_io([], [], subgraph=init)

    x = mb.add_tensor([1], "int32", name="x")
    handle = mb.add_tensor([], "resource", name="handle")
    value = mb.add_tensor([1], "int32", name="value")
    y = mb.add_tensor([1], "int32", name="y")
    mb.add_operator("CALL_ONCE", [], [], ("CallOnceOptions", {"InitSubgraphIndex": init}))
    mb.add_operator("VAR_HANDLE", [], [handle],
                    ("VarHandleOptions", {"Container": "", "SharedName": "counter"}))
    mb.add_operator("READ_VARIABLE", [handle], [value])
    mb.add_operator("ADD", [value, x], [y], ("AddOptions", {}))
    mb.add_operator("ASSIGN_VARIABLE", [handle, y], [])
    mb.set_io([x], [y])
    mb.add_signature("serving_default", {"x": x}, {"y": y})
    return mb.build()


def test_resource_variable_counter_persists_across_invokes() -> None:
    content = _counter_model()
    codes = tflite.Model.GetRootAs(content)
    assert {codes.OperatorCodes(i).DeprecatedBuiltinCode()
            for i in range(codes.OperatorCodesLength())} == {0, 127}
    steps = [[np.array([1], np.int32)], [np.array([5], np.int32)], [np.array([-2], np.int32)]]
    outputs = run_model(reference_interpreter, content, steps, invokes=3)
    assert [out[0].tolist() for out in outputs] == [[11], [16], [14]]


def test_signature_list_and_runner() -> None:
    interp = reference_interpreter(_counter_model())
    assert interp.get_signature_list() == {"serving_default": {"inputs": ["x"], "outputs": ["y"]}}
    runner = interp.get_signature_runner("serving_default")
    assert runner(x=np.array([3], np.int32))["y"].tolist() == [13]
    assert runner(x=np.array([3], np.int32))["y"].tolist() == [16]


@pytest.mark.parametrize("op, dtype", [(op, dt) for op, table in _VERSIONS.items() for dt in table])
def test_default_versions_load_in_reference_resolver(op: str, dtype: str) -> None:
    mb = ModelBuilder()
    tensors = [mb.add_tensor([1], dtype) for _ in range(4)]
    mb.add_operator(op, tensors[:3], tensors[3:])
    mb.set_io(tensors[:3], tensors[3:])
    reference_interpreter(mb.build())  # raises if the resolver lacks this op version


def test_custom_operator_code_and_options() -> None:
    mb = ModelBuilder()
    x = mb.add_tensor([2], "float32")
    y = mb.add_tensor([2], "float32")
    mb.add_operator("CUSTOM", [x], [y], b"\x01\x02", custom_code="MyOp")
    mb.set_io([x], [y])
    model = tflite.Model.GetRootAs(mb.build())
    code = model.OperatorCodes(0)
    assert (code.BuiltinCode(), code.CustomCode()) == (tflite.BuiltinOperator.CUSTOM, b"MyOp")
    assert model.Subgraphs(0).Operators(0).CustomOptionsAsNumpy().tolist() == [1, 2]


def test_unknown_option_field_is_rejected() -> None:
    mb = ModelBuilder()
    x = mb.add_tensor([1], "float32")
    with pytest.raises(ValueError, match="StrideW"):
        mb.add_operator("CONV_2D", [x], [x], ("Conv2DOptions", {"Stride": 2}))


def test_explicit_version_wins() -> None:
    content = single_op_model("ADD", [dict(shape=[1], dtype="int8", scale=1.0)] * 2,
                              [dict(shape=[1], dtype="int8", scale=1.0)], version=1)
    assert tflite.Model.GetRootAs(content).OperatorCodes(0).Version() == 1


def test_random_inputs_and_bit_exact_report() -> None:
    content = single_op_model(
        "MUL",
        [dict(shape=[2, 3], dtype="int16", scale=0.01), dict(shape=[2, 3], dtype="int16", scale=0.02)],
        [dict(shape=[2, 3], dtype="int16", scale=0.05)],
    )
    rng = np.random.default_rng(3)
    inputs = random_inputs(content, rng)
    assert [(x.dtype, x.shape) for x in inputs] == [(np.dtype(np.int16), (2, 3))] * 2
    first = run_model(reference_interpreter, content, inputs)[0]
    assert_bit_exact(first, run_model(reference_interpreter, content, inputs)[0])

    broken = first[0].copy()
    broken.flat[[1, 4]] -= np.sign(broken.flat[[1, 4]] + 0.5).astype(np.int16) * 3
    expected = r"mul: output 0 not bit-exact: max abs diff 3, 2/6 elements differ"
    with pytest.raises(AssertionError, match=expected):
        assert_bit_exact([broken], first, context="mul")
    with pytest.raises(AssertionError, match="dtype"):
        assert_bit_exact([broken.astype(np.int32)], first)
