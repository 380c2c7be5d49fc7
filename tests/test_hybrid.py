"""Dynamic-range ("hybrid") ops: float32 activations with int8 weights, quantized per row when the
op runs. FULLY_CONNECTED, CONV_2D and DEPTHWISE_CONV_2D against TFLite's reference kernels bit
for bit on every kernel path; per-channel FULLY_CONNECTED, where TFLite 2.14 is wrong, against a
NumPy model of the corrected arithmetic (docs/oracles.md); the build without the float kernels;
`pyedge quantize --dynamic`."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import tflite

import pyedge
from optest import check_model, kernel_paths, interpreter_factory
from oracle import assert_bit_exact, reference_interpreter, run_model
from pyedge._manifest import NATIVE, include_dirs
from tflite_builder import single_op_model

F32 = np.float32
SAME, VALID = tflite.Padding.SAME, tflite.Padding.VALID
ACTS = {"none": 0, "relu": 1, "relu_n1": 2, "relu6": 3}


def fc_model(batches, depth, units, *, asym=False, scales=(0.02,), act=0, bias=True, keep_dims=None, seed=0,
             zero_point=0) -> bytes:
    rng = np.random.default_rng(seed)
    w = rng.integers(-127, 128, size=(units, depth), dtype=np.int8)
    in_shape = [batches, depth] if keep_dims is None else list(keep_dims) + [depth]
    out_shape = [batches, units] if keep_dims is None else list(keep_dims) + [units]
    inputs = [dict(shape=in_shape, dtype="float32"),
              dict(shape=None, data=w, dtype="int8", scale=list(scales), zero_point=zero_point)]
    if bias:
        inputs.append(dict(shape=None, data=rng.standard_normal(units).astype(F32), dtype="float32"))
    opts = {"AsymmetricQuantizeInputs": asym, "FusedActivationFunction": act}
    if keep_dims is not None:
        opts["KeepNumDims"] = True
    return single_op_model("FULLY_CONNECTED", inputs, [dict(shape=out_shape, dtype="float32")],
                           ("FullyConnectedOptions", opts))


@pytest.mark.parametrize("asym", [False, True], ids=["symmetric", "asymmetric"])
@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 7, 3), (3, 33, 17), (2, 300, 9), (5, 64, 16), (1, 129, 31)])
def test_fully_connected_per_tensor(asym, shape):
    check_model(fc_model(*shape, asym=asym, seed=sum(shape)), context=f"FC hybrid {shape} asym={asym}")


@pytest.mark.parametrize("act", list(ACTS), ids=list(ACTS))
@pytest.mark.parametrize("asym", [False, True], ids=["symmetric", "asymmetric"])
def test_fully_connected_activations_and_scales(act, asym):
    # a tiny and a large weight scale: the float rescale is exact to the bit, not to a tolerance
    for scale in (1e-4, 0.5):
        check_model(fc_model(4, 19, 6, asym=asym, scales=(scale,), act=ACTS[act], seed=3),
                    context=f"act {act} scale {scale}")


def test_fully_connected_no_bias_keep_num_dims_and_zero_input():
    check_model(fc_model(1, 10, 4, bias=False, asym=True))
    check_model(fc_model(6, 12, 5, keep_dims=(2, 3), asym=True))
    # an all-zero input skips the matrix product in TFLite: the output is the activated bias
    m = fc_model(2, 8, 3, act=1)
    check_model(m, inputs=[np.zeros((2, 8), F32)])
    # a zero row among non-zero ones, rows of one sign, ties at the rounding points
    x = np.array([[0.0] * 8, [0.5, -0.5, 1.5, 2.5, -127.0, 127.0, 63.5, -0.25]], F32)
    check_model(fc_model(2, 8, 3, asym=True), inputs=[x])
    check_model(fc_model(2, 8, 3), inputs=[x])
    check_model(fc_model(2, 8, 3, asym=True), inputs=[np.abs(x) + 1])
    check_model(fc_model(2, 8, 3, asym=True), inputs=[-np.abs(x) - 1])


def _roundf(v: np.ndarray) -> np.ndarray:
    a = np.abs(v)
    f = np.floor(a)
    return np.copysign(np.where(a - f >= F32(0.5), f + 1, f), v)


def _quantize_row(x: np.ndarray, asym: bool) -> tuple[np.ndarray, F32, int]:
    """tensor_utils' SymmetricQuantizeFloats / AsymmetricQuantizeFloats, in NumPy."""
    if not asym:
        rng = max(F32(abs(x.min())), F32(abs(x.max())))
        if rng == 0:
            return np.zeros(x.size, np.int32), F32(1), 0
        inv = F32(F32(127) / rng)
        return np.clip(_roundf((x * inv).astype(F32)), -127, 127).astype(np.int32), F32(rng / F32(127)), 0
    rmin, rmax = min(0.0, float(x.min())), max(0.0, float(x.max()))
    if rmin == rmax:
        return np.zeros(x.size, np.int32), F32(1), 0
    s = (rmax - rmin) / 255.0
    zp = -128 - rmin / s if 128 + abs(rmin / s) < 127 + abs(rmax / s) else 127 - rmax / s
    zp = -128 if zp <= -128 else 127 if zp >= 127 else int(np.sign(zp) * np.floor(abs(zp) + 0.5))
    inv = F32(1.0 / float(F32(s)))
    q = np.clip(_roundf((F32(zp) + (x * inv).astype(F32)).astype(F32)), -128, 127).astype(np.int32)
    return q, F32(s), zp


def _fc_reference(x, w, scales, bias, asym):
    """The hybrid FULLY_CONNECTED arithmetic with one weight scale per unit (TFLite's
    MatrixBatchVectorMultiplyAccumulate with per_channel_scale), in NumPy float32."""
    units, depth = w.shape
    x = x.reshape(-1, depth)
    out = np.tile(bias.astype(F32), (len(x), 1))
    if not np.any(x):
        return out
    sums = w.astype(np.int32).sum(axis=1)
    for b, row in enumerate(x):
        q, sf, zp = _quantize_row(row, asym)
        dots = w.astype(np.int32) @ q
        for u in range(units):
            d = int(np.trunc(F32(F32(dots[u]) - F32(sums[u]) * F32(zp)))) if asym else int(dots[u])
            out[b, u] = F32(out[b, u] + F32(F32(d) * F32(sf * F32(scales[u]))))
    return out


@pytest.mark.parametrize("asym", [False, True], ids=["symmetric", "asymmetric"])
def test_fully_connected_per_channel_against_fixed_reference(asym):
    """TFLite 2.14 multiplies a per-channel hybrid FULLY_CONNECTED by the tensor's legacy scale,
    which is 0 for per-channel weights: its output is the bias alone (checked here, so the test
    notices when the oracle changes). pyedge applies each unit's scale."""
    rng = np.random.default_rng(11)
    for batches, depth, units in ((1, 7, 3), (3, 40, 9)):
        scales = rng.uniform(0.001, 0.05, units).astype(F32)
        m = fc_model(batches, depth, units, asym=asym, scales=tuple(scales), seed=units)
        w = np.random.default_rng(units).integers(-127, 128, size=(units, depth), dtype=np.int8)
        bias = np.random.default_rng(units)
        bias.integers(-127, 128, size=(units, depth), dtype=np.int8)
        bias = bias.standard_normal(units).astype(F32)
        x = (rng.standard_normal((batches, depth)) * 2).astype(F32)
        tfl = run_model(reference_interpreter, m, [x])[0][0]
        assert_bit_exact([tfl], [np.tile(bias, (batches, 1))], "TFLite 2.14's per-channel hybrid FC")
        want = _fc_reference(x, w, scales, bias, asym)
        for label, kw in kernel_paths():
            got = run_model(interpreter_factory(**kw), m, [x])[0][0]
            assert_bit_exact([got], [want], f"per-channel hybrid FC [{label}]")


def conv_model(depthwise, per_channel, shape=(1, 6, 7, 3), k=(3, 3), oc=4, stride=1, pad=SAME, act=0, dil=1,
               bias=True, seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    n, h, w_, c = shape
    wshape, axis = ((1, k[0], k[1], oc), 3) if depthwise else ((oc, k[0], k[1], c), 0)
    w = rng.integers(-127, 128, size=wshape, dtype=np.int8)
    scales = list(rng.uniform(0.005, 0.05, oc).astype(F32)) if per_channel else [0.02]
    eff = [(kk - 1) * dil + 1 for kk in k]
    oh, ow = ((-(-h // stride), -(-w_ // stride)) if pad == SAME else
              ((h - eff[0]) // stride + 1, (w_ - eff[1]) // stride + 1))
    opts = dict(Padding=pad, StrideH=stride, StrideW=stride, FusedActivationFunction=act,
                DilationHFactor=dil, DilationWFactor=dil)
    if depthwise:
        opts["DepthMultiplier"] = oc // c
    inputs = [dict(shape=list(shape), dtype="float32"),
              dict(shape=None, data=w, dtype="int8", scale=scales, zero_point=0, quantized_dimension=axis)]
    if bias:
        inputs.append(dict(shape=None, data=rng.standard_normal(oc).astype(F32), dtype="float32"))
    return single_op_model("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", inputs,
                           [dict(shape=[n, oh, ow, oc], dtype="float32")],
                           ("DepthwiseConv2DOptions" if depthwise else "Conv2DOptions", opts))


CONV_CASES = {
    "3x3_same": dict(),
    "batch2_stride2_relu": dict(shape=(2, 9, 8, 5), oc=7, stride=2, act=1),
    "valid_dilated_relu6": dict(shape=(1, 11, 10, 2), oc=4, pad=VALID, dil=2, act=3),
    "1x1_relu_n1": dict(shape=(1, 5, 5, 16), k=(1, 1), oc=17, act=2),
    "5x3_odd": dict(shape=(3, 7, 13, 3), k=(5, 3), oc=3, stride=3),
}


@pytest.mark.parametrize("per_channel", [False, True], ids=["per_tensor", "per_channel"])
@pytest.mark.parametrize("case", list(CONV_CASES))
def test_conv_2d(case, per_channel):
    check_model(conv_model(False, per_channel, **CONV_CASES[case], seed=len(case)), context=case)


DW_CASES = {
    "3x3_same_mult2": dict(shape=(1, 6, 7, 2), oc=4),
    "batch2_stride2_relu_mult1": dict(shape=(2, 9, 8, 5), oc=5, stride=2, act=1),
    "valid_dilated_relu6_mult3": dict(shape=(1, 11, 10, 2), oc=6, pad=VALID, dil=2, act=3),
    "no_bias_16ch": dict(shape=(1, 4, 5, 16), oc=16, bias=False, act=2),
}


@pytest.mark.parametrize("case", list(DW_CASES))
def test_depthwise_conv_2d(case):
    check_model(conv_model(True, True, **DW_CASES[case], seed=len(case)), context=case)


def _refusal(model: bytes) -> str:
    with pytest.raises(pyedge.UnsupportedOpError) as e:
        pyedge.Interpreter(model_content=model)
    return str(e.value)


def test_refusals_name_the_problem():
    # TFLite refuses a per-tensor hybrid depthwise filter too
    assert "one per output channel" in _refusal(conv_model(True, False, shape=(1, 5, 5, 2), oc=4))
    assert "zero points must be 0" in _refusal(fc_model(2, 6, 3, zero_point=3))
    assert "fused activation TANH" in _refusal(fc_model(2, 6, 3, act=4))
    rng = np.random.default_rng(0)
    grouped = single_op_model("CONV_2D", [dict(shape=[1, 4, 4, 4], dtype="float32"), dict(
        shape=None, data=rng.integers(-127, 128, (2, 1, 1, 2), dtype=np.int8), dtype="int8", scale=[0.1],
        zero_point=0)], [dict(shape=[1, 4, 4, 2], dtype="float32")],
        ("Conv2DOptions", dict(Padding=VALID, StrideH=1, StrideW=1)))
    assert "grouped hybrid conv" in _refusal(grouped)


def test_hostile_blob_row_sums_are_checked():
    """The asymmetric FC's row sums are constants of the blob; the loader recomputes them."""
    import struct
    import zlib

    from pyedge import blob as blobmod
    from pyedge.errors import BlobError
    from pyedge.pack import pack_tflite

    good = pack_tflite(fc_model(2, 5, 3, asym=True))
    pyedge.Interpreter(model_content=good)
    w = np.random.default_rng(0).integers(-127, 128, size=(3, 5), dtype=np.int8)
    sums = w.astype(np.int32).sum(axis=1).astype("<i4").tobytes()
    at = good.find(sums)
    assert at > 0
    bad = bytearray(good)
    bad[at] ^= 1
    total = struct.unpack_from("<I", bad, 12)[0]
    struct.pack_into("<I", bad, blobmod.CHECKSUM_OFFSET, 0)
    struct.pack_into("<I", bad, blobmod.CHECKSUM_OFFSET, zlib.crc32(bytes(bad[:total])) & 0xFFFFFFFF)
    with pytest.raises(BlobError, match="BAD_PARAMS"):
        pyedge.Interpreter(model_content=bytes(bad))


# ------------------------------------------------------------------ the build without float kernels

def _defined(nm: str, obj) -> set[str]:
    out = subprocess.run([nm, "--defined-only", str(obj)], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def _undefined(nm: str, obj) -> set[str]:
    out = subprocess.run([nm, "--undefined-only", str(obj)], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


@pytest.mark.parametrize("cc", ["arm-none-eabi-gcc", "cc"])
def test_no_float_kernels_build_links_no_hybrid_code(cc, tmp_path):
    """With PE_NO_FLOAT_KERNELS the hybrid source compiles to nothing and the op table names none
    of its kernels, so an integer-only firmware image links none of them."""
    gcc = shutil.which(cc)
    if gcc is None:
        pytest.skip(f"{cc} not installed (tools/test.sh installs gcc-arm-none-eabi)")
    nm = shutil.which(cc[:-3] + "nm") if cc.endswith("gcc") else shutil.which("nm")
    if nm is None:
        pytest.skip(f"no nm for {cc}")
    flags = (["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"] if "arm" in cc else []) + \
        ["-O2", "-std=c99", "-Wall", "-Wextra", "-Werror", "-DPE_SCALAR_ONLY"] + [f"-I{d}" for d in include_dirs()]
    objs = {}
    for define in ([], ["-DPE_NO_FLOAT_KERNELS"]):
        for src in ("kernels/hybrid_scalar.c", "src/ops.c"):
            o = tmp_path / f"{src.replace('/', '_')}{'_nofloat' if define else ''}.o"
            subprocess.run([gcc, *flags, *define, "-c", str(NATIVE / src), "-o", str(o)], check=True)
            objs[(src, bool(define))] = o
    with_float = _defined(nm, objs[("kernels/hybrid_scalar.c", False)])
    assert {"pe_fully_connected_hybrid__scalar", "pe_conv_2d_hybrid__scalar"} <= with_float
    assert "pe_fully_connected_hybrid__scalar" in _undefined(nm, objs[("src/ops.c", False)])
    assert not _defined(nm, objs[("kernels/hybrid_scalar.c", True)])
    assert not {s for s in _undefined(nm, objs[("src/ops.c", True)]) if "hybrid" in s}


# ------------------------------------------------------------------ pyedge quantize --dynamic

def float_mlp(depth=64, hidden=48, units=10, batches=3, seed=5) -> bytes:
    """FC(relu) -> FC -> FC(relu6) -> FC -> BATCH_MATMUL in float32, weights of 3072, 480 (stays
    float: below the converter's 1024-element threshold), 1280, 2048 and 1024 elements."""
    from tflite_builder import ModelBuilder

    rng = np.random.default_rng(seed)
    mb = ModelBuilder("float mlp")
    x = mb.add_tensor([batches, depth], "float32", name="x")
    w1 = mb.add_tensor(None, "float32", data=(rng.standard_normal((hidden, depth)) * 0.2).astype(F32), name="w1")
    b1 = mb.add_tensor(None, "float32", data=(rng.standard_normal(hidden) * 0.1).astype(F32), name="b1")
    h1 = mb.add_tensor([batches, hidden], "float32", name="h1")
    mb.add_operator("FULLY_CONNECTED", [x, w1, b1], [h1], ("FullyConnectedOptions", {"FusedActivationFunction": 1}))
    w2 = mb.add_tensor(None, "float32", data=(rng.standard_normal((units, hidden)) * 0.2).astype(F32), name="w2")
    h2 = mb.add_tensor([batches, units], "float32", name="h2")
    mb.add_operator("FULLY_CONNECTED", [h1, w2, -1], [h2], ("FullyConnectedOptions", {}))
    w3 = mb.add_tensor(None, "float32", data=(rng.standard_normal((128, units)) * 0.3).astype(F32), name="w3")
    h3 = mb.add_tensor([batches, 128], "float32", name="h3")
    mb.add_operator("FULLY_CONNECTED", [h2, w3, -1], [h3], ("FullyConnectedOptions", {"FusedActivationFunction": 3}))
    w4 = mb.add_tensor(None, "float32", data=(rng.standard_normal((16, 128)) * 0.1).astype(F32), name="w4")
    h4 = mb.add_tensor([batches, 16], "float32", name="h4")
    mb.add_operator("FULLY_CONNECTED", [h3, w4, -1], [h4], ("FullyConnectedOptions", {}))
    w5 = mb.add_tensor(None, "float32", data=(rng.standard_normal((16, 64)) * 0.2).astype(F32), name="w5")
    y = mb.add_tensor([batches, 64], "float32", name="y")
    mb.add_operator("BATCH_MATMUL", [h4, w5], [y], ("BatchMatMulOptions", {"AdjX": False, "AdjY": False}))
    mb.set_io([x], [y])
    return mb.build()


@pytest.mark.parametrize("asym", [True, False], ids=["asymmetric_inputs", "symmetric_inputs"])
def test_quantize_dynamic_runs_in_tflite_and_pyedge_identically(asym):
    from pyedge.quantize.dynamic import quantize_dynamic
    from pyedge.tflite_reader import read_tflite

    fm = float_mlp()
    q = quantize_dynamic(fm, asymmetric_inputs=asym)
    g = read_tflite(q)
    T = g.subgraphs[0].tensors
    ws = {T[op.inputs[1]].name: T[op.inputs[1]] for op in g.subgraphs[0].operators}
    # >= 1024 elements: int8 per tensor; fewer stay float
    assert ws["w1"].type_code == 9 and len(ws["w1"].scales) == 1
    assert ws["w2"].type_code == 0, "480 weights stay float"
    assert ws["w3"].type_code == 9 and ws["w4"].type_code == 9 and ws["w5"].type_code == 9
    assert all(op.options.get("AsymmetricQuantizeInputs", False) == asym
               for op in g.subgraphs[0].operators if T[op.inputs[1]].type_code == 9)
    xs = [np.random.default_rng(s).standard_normal((3, 64)).astype(F32) for s in range(3)]
    for x in xs:
        want = run_model(reference_interpreter, q, [x])[0]
        for label, kw in kernel_paths():
            assert_bit_exact(run_model(interpreter_factory(**kw), q, [x])[0], want, f"--dynamic MLP [{label}]")
        # and it stays close to the float model
        f = run_model(reference_interpreter, fm, [x])[0][0]
        err = np.sum((f - want[0]) ** 2) / np.sum(f ** 2)
        assert 10 * np.log10(1 / err) > 25


def test_quantize_dynamic_conv_models_and_cli(tmp_path, capsys):
    """The digits CNN: per-channel int8 conv filters, per-tensor FC weights, small weights float;
    TFLite's reference kernels run the result close to the float model."""
    from pyedge.cli import main
    from pyedge.tflite_reader import read_tflite
    from quantize_models import digits_held_out, float_model

    src = tmp_path / "digits.tflite"
    src.write_bytes(float_model("digits_cnn_float"))
    out = tmp_path / "digits_dyn.tflite"
    assert main(["quantize", str(src), "--dynamic", "-o", str(out)]) == 0
    assert "dynamic range" in capsys.readouterr().out
    g = read_tflite(out.read_bytes())
    T = g.subgraphs[0].tensors
    for op in g.subgraphs[0].operators:
        if op.opcode in ("CONV_2D", "FULLY_CONNECTED"):
            w = T[op.inputs[1]]
            if w.data.size >= 1024:
                assert w.type_code == 9
                assert len(w.scales) == (w.shape[0] if op.opcode == "CONV_2D" else 1)
            else:
                assert w.type_code == 0
    x, _ = digits_held_out()
    f = np.concatenate([run_model(reference_interpreter, src.read_bytes(), [s[None]])[0][0] for s in x[:40]])
    q = np.concatenate([run_model(reference_interpreter, out.read_bytes(), [s[None]])[0][0] for s in x[:40]])
    assert np.mean(np.argmax(f, 1) == np.argmax(q, 1)) >= 0.95
    with pytest.raises(SystemExit, match="takes no --calibration"):
        main(["quantize", str(src), "--dynamic", "--calibration", "x.npz", "-o", str(out)])


@pytest.mark.parametrize("name", ["digits_cnn_float", "digits_dwcnn_float", "tflm_sine_float",
                                  "mediapipe_face_detection_short_range", "mediapipe_face_landmark"])
def test_dynamic_real_models_bit_exact(name):
    """The float test models after --dynamic, on every kernel path, against BUILTIN_REF: the
    trained digits CNNs (held-out digits), TFLM's sine model (every weight is below the
    threshold, so it stays float) and the two MediaPipe models (image-like inputs; int8
    per-channel convs among float ADD, RELU / PRELU, PAD, MAX_POOL_2D, RESHAPE, CONCATENATION)."""
    from pyedge.quantize.dynamic import quantize_dynamic
    from quantize_models import SHIPPED, digits_held_out, float_model, smooth_images

    q = quantize_dynamic(float_model(name))
    if name.startswith("digits"):
        xs = digits_held_out()[0][:12]
    elif name in SHIPPED:
        size, lo, hi = SHIPPED[name]
        xs = smooth_images(3, size, lo, hi, seed=1)
    else:
        xs = np.linspace(0, 2 * np.pi, 12, dtype=F32).reshape(12, 1)
    paths = kernel_paths()
    for k, x in enumerate(xs):
        want = run_model(reference_interpreter, q, [x[None]])[0]
        for label, kw in paths if k < 3 else paths[:1]:
            assert_bit_exact(run_model(interpreter_factory(**kw), q, [x[None]])[0], want, f"{name} #{k} [{label}]")


# ------------------------------------------------------------------ float32 companions


@pytest.mark.parametrize("depthwise", [False, True], ids=["conv", "depthwise"])
@pytest.mark.parametrize("case", ["same", "stride2_relu", "valid_dilated_relu6"])
def test_float_conv(depthwise, case):
    rng = np.random.default_rng(len(case))
    shape, oc, opts = {"same": ((1, 6, 7, 2), 4, dict(Padding=SAME, StrideH=1, StrideW=1)),
                       "stride2_relu": ((2, 9, 8, 3), 6, dict(Padding=SAME, StrideH=2, StrideW=2,
                                                               FusedActivationFunction=1)),
                       "valid_dilated_relu6": ((1, 11, 10, 2), 4, dict(Padding=VALID, StrideH=1, StrideW=1,
                                                                       DilationHFactor=2, DilationWFactor=2,
                                                                       FusedActivationFunction=3))}[case]
    n, h, w_, c = shape
    wshape = (1, 3, 3, oc) if depthwise else (oc, 3, 3, c)
    d = opts.get("DilationHFactor", 1)
    s = opts["StrideH"]
    oh, ow = ((-(-h // s), -(-w_ // s)) if opts["Padding"] == SAME else ((h - 2 * d - 1) // s + 1, (w_ - 2 * d - 1) // s + 1))
    if depthwise:
        opts = {**opts, "DepthMultiplier": oc // c}
    m = single_op_model("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D",
                        [dict(shape=list(shape), dtype="float32"),
                         dict(shape=None, data=rng.standard_normal(wshape).astype(F32), dtype="float32"),
                         dict(shape=None, data=rng.standard_normal(oc).astype(F32), dtype="float32")],
                        [dict(shape=[n, oh, ow, oc], dtype="float32")],
                        ("DepthwiseConv2DOptions" if depthwise else "Conv2DOptions", opts))
    check_model(m, context=case)


@pytest.mark.parametrize("op", ["MAX_POOL_2D", "AVERAGE_POOL_2D"])
@pytest.mark.parametrize("padding", [SAME, VALID], ids=["same", "valid"])
def test_float_pool(op, padding):
    n, h, w, c, f, s = 2, 9, 7, 3, 3, 2
    oh, ow = ((-(-h // s), -(-w // s)) if padding == SAME else ((h - f) // s + 1, (w - f) // s + 1))
    m = single_op_model(op, [dict(shape=[n, h, w, c], dtype="float32")], [dict(shape=[n, oh, ow, c], dtype="float32")],
                        ("Pool2DOptions", dict(Padding=padding, StrideH=s, StrideW=s, FilterHeight=f, FilterWidth=f,
                                               FusedActivationFunction=1)))
    check_model(m)


@pytest.mark.parametrize("beta", [1.0, 0.37])
def test_float_softmax_and_fc(beta):
    m = single_op_model("SOFTMAX", [dict(shape=[3, 2, 11], dtype="float32")], [dict(shape=[3, 2, 11], dtype="float32")],
                        ("SoftmaxOptions", {"Beta": beta}))
    check_model(m)
    check_model(m, inputs=[np.random.default_rng(1).standard_normal((3, 2, 11)).astype(F32) * 40])
    rng = np.random.default_rng(2)
    fc = single_op_model("FULLY_CONNECTED", [dict(shape=[4, 37], dtype="float32"),
                                             dict(shape=None, data=rng.standard_normal((9, 37)).astype(F32), dtype="float32")],
                         [dict(shape=[4, 9], dtype="float32")], ("FullyConnectedOptions", {"FusedActivationFunction": 2}))
    check_model(fc)


def bmm_model(lhs_shape, k_n, *, asym=False, adj_y=False, seed=0, rhs_rank=2) -> bytes:
    rng = np.random.default_rng(seed)
    k, n = k_n
    rshape = (n, k) if adj_y else (k, n)
    rhs = rng.integers(-127, 128, size=rshape, dtype=np.int8).reshape((1,) * (rhs_rank - 2) + rshape)
    out = list(lhs_shape[:-1]) + [n]
    if rhs_rank > len(lhs_shape):
        out = [1] * (rhs_rank - len(lhs_shape)) + out
    return single_op_model("BATCH_MATMUL", [dict(shape=list(lhs_shape), dtype="float32"),
                                            dict(shape=None, data=rhs, dtype="int8", scale=[0.03], zero_point=0)],
                           [dict(shape=out, dtype="float32")],
                           ("BatchMatMulOptions", {"AdjX": False, "AdjY": adj_y, "AsymmetricQuantizeInputs": asym}))


@pytest.mark.parametrize("asym", [False, True], ids=["symmetric", "asymmetric"])
@pytest.mark.parametrize("case", [((3, 5), (5, 4), {}), ((2, 3, 17), (17, 9), {}), ((1, 2, 3, 8), (8, 3), {"adj_y": True}),
                                  ((1, 4, 33), (33, 16), {"rhs_rank": 3})], ids=["2d", "3d", "4d_adj_y", "rank3_rhs"])
def test_batch_matmul(case, asym):
    lhs, kn, kw = case
    check_model(bmm_model(lhs, kn, asym=asym, seed=len(lhs), **kw), context=str(case))


@pytest.mark.parametrize("asym", [False, True], ids=["symmetric", "asymmetric"])
def test_batch_matmul_several_batch_dims_against_fixed_reference(asym):
    """With two or more lhs batch dimensions above 1, TFLite 2.14's hybrid BATCH_MATMUL scales
    the later batches' rows with other rows' scaling factors (errors of whole units against the
    float product; pinned here). pyedge quantizes and scales each row as its own, as the
    one-batch-dimension case, which TFLite gets right."""
    for lhs in ((2, 2, 3, 8), (3, 2, 2, 3, 8)):
        m = bmm_model(lhs, (8, 3), asym=asym, seed=4)
        rhs = np.random.default_rng(4).integers(-127, 128, size=(8, 3), dtype=np.int8)
        x = np.random.default_rng(0).standard_normal(lhs).astype(F32)
        exact = x @ (rhs.astype(np.float64) * np.float64(F32(0.03)))
        tfl = run_model(reference_interpreter, m, [x])[0][0]
        assert np.abs(tfl - exact).max() > 0.5, "TFLite 2.14's hybrid BATCH_MATMUL changed: re-check docs/oracles.md"
        want = _fc_reference(x, np.ascontiguousarray(rhs.T), np.full(3, F32(0.03)), np.zeros(3, F32), asym)
        want = want.reshape(tfl.shape)
        assert np.abs(want - exact).max() < 0.2
        for label, kw in kernel_paths():
            assert_bit_exact(run_model(interpreter_factory(**kw), m, [x])[0], [want], f"BATCH_MATMUL {lhs} [{label}]")


@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL", "PRELU"])
@pytest.mark.parametrize("shapes", [((2, 3, 4), (2, 3, 4)), ((2, 1, 4), (1, 3, 1)), ((1, 5, 5, 3), (3,))],
                         ids=["same", "both_broadcast", "channel"])
def test_float_binary(op, shapes):
    a, b = shapes
    if op == "PRELU" and np.broadcast_shapes(a, b) != a:
        b = (1, 1, a[-1])  # TFLite's PRELU broadcasts alpha into the input only
    out = list(np.broadcast_shapes(a, b))
    if op == "PRELU":
        rng = np.random.default_rng(3)
        inputs = [dict(shape=list(a), dtype="float32"),
                  dict(shape=None, data=rng.uniform(0, 0.5, b).astype(F32), dtype="float32")]
        opts = None
    else:
        inputs = [dict(shape=list(a), dtype="float32"), dict(shape=list(b), dtype="float32")]
        opts = (f"{op.title()}Options", {"FusedActivationFunction": 1 if op == "ADD" else 0})
    check_model(single_op_model(op, inputs, [dict(shape=out, dtype="float32")], opts))


@pytest.mark.parametrize("op", ["RELU", "RELU6", "RELU_N1_TO_1"])
def test_float_relu(op):
    m = single_op_model(op, [dict(shape=[3, 7], dtype="float32")], [dict(shape=[3, 7], dtype="float32")])
    check_model(m, inputs=[(np.random.default_rng(0).standard_normal((3, 7)) * 5).astype(F32)])


@pytest.mark.parametrize("axes,keep", [([1, 2], True), ([1, 2], False), ([0], False), ([-1, 1], True)])
def test_float_mean(axes, keep):
    shape = [2, 5, 6, 3]
    kept = [d for d in range(4) if d not in [a % 4 for a in axes]]
    out = [1 if d not in kept else shape[d] for d in range(4)] if keep else [shape[d] for d in kept]
    m = single_op_model("MEAN", [dict(shape=shape, dtype="float32"),
                                 dict(shape=None, data=np.array(axes, np.int32), dtype="int32")],
                        [dict(shape=out, dtype="float32")], ("ReducerOptions", {"KeepDims": keep}))
    check_model(m)


def test_integer_only_firmware_links_no_float_kernels(tmp_path):
    """tools/firmware_size.py --no-float: a Cortex-M4 image of an int8 model with the integer-only
    core holds none of hybrid.h's kernels; the default core holds them all."""
    import importlib.util

    from pyedge._manifest import ROOT

    spec = importlib.util.spec_from_file_location("firmware_size", ROOT / "tools" / "firmware_size.py")
    fw = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fw)
    try:
        fw.find_toolchain()
    except fw.ToolchainMissing as exc:
        pytest.skip(f"integer-only firmware link not checked: {exc}")
    nm = shutil.which("arm-none-eabi-nm")
    model = [ROOT / "tests/models/tflm_micro_speech_quantized.tflite"]
    sizes = {}
    for no_float in (False, True):
        work = tmp_path / ("int" if no_float else "all")
        r = fw.measure(model, "Os", workdir=work, no_float=no_float)
        syms = _defined(nm, work / "model0.elf")
        hybrid = {s for s in syms if s.startswith("pe_") and ("_hybrid" in s or "_float_" in s or s.endswith("_float__scalar"))}
        if no_float:
            assert not hybrid, f"integer-only firmware links {sorted(hybrid)[:5]}"
        else:
            assert {"pe_fully_connected_hybrid__scalar", "pe_softmax_float__scalar"} <= hybrid
        sizes[no_float] = r["models"][0]["flash_bytes"]
    assert sizes[True] < sizes[False]
    print(f"\nCortex-M4 -Os flash, micro_speech: {sizes[False]} B with the float kernels, {sizes[True]} B without")


@pytest.mark.parametrize("arch,cpu", [("aarch64", "cortex-a72"), ("armhf", "cortex-a7")])
def test_dynamic_models_bit_identical_under_qemu(arch, cpu, tmp_path):
    """The hybrid and float kernels give the host's bytes on Arm (no fused multiply-adds: the
    file is compiled with contraction off), through the cross-built model runner under QEMU."""
    from test_cross_arm import cross_build, qemu

    from pyedge.quantize.dynamic import quantize_dynamic
    from quantize_models import SHIPPED, digits_held_out, float_model, smooth_images

    out = cross_build(arch)
    for name in ("digits_cnn_float", "mediapipe_face_landmark"):
        blob = pyedge.pack_tflite(quantize_dynamic(float_model(name)))
        it = pyedge.Interpreter(model_content=blob)
        it.allocate_tensors()
        d = it.get_input_details()[0]
        x = (digits_held_out()[0][:1] if name.startswith("digits") else smooth_images(1, *SHIPPED[name]))
        x = x.astype(np.float32).reshape(d["shape"])
        it.set_tensor(d["index"], x)
        it.invoke()
        want = b"".join(it.get_tensor(o["index"]).tobytes() for o in it.get_output_details())
        (tmp_path / "m.peb").write_bytes(blob)
        (tmp_path / "in.bin").write_bytes(x.tobytes())
        r = qemu(arch, cpu, [out / "pe_run_model_file", "-m", tmp_path / "m.peb", "-n", 1, "-i",
                             tmp_path / "in.bin", "-o", tmp_path / "out.bin"], text=True, timeout=600)
        assert r.returncode == 0, f"{name} on {arch}: exit {r.returncode}\n{r.stderr[-2000:]}"
        assert (tmp_path / "out.bin").read_bytes() == want, f"{name} on {arch} -cpu {cpu} differs from the host"


def svdf_model(batch, n_input, n_filter, n_memory, rank, *, asym=False, act=0, bias=True, seed=0) -> bytes:
    from tflite_builder import ModelBuilder

    rng = np.random.default_rng(seed)
    mb = ModelBuilder("hybrid svdf")
    x = mb.add_tensor([batch, n_input], "float32", name="x")
    wf = mb.add_tensor(None, "int8", data=rng.integers(-127, 128, (n_filter, n_input), dtype=np.int8),
                       scale=[0.02], zero_point=0, name="wf")
    wt = mb.add_tensor(None, "int8", data=rng.integers(-127, 128, (n_filter, n_memory), dtype=np.int8),
                       scale=[0.01], zero_point=0, name="wt")
    b = mb.add_tensor(None, "float32", data=rng.standard_normal(n_filter // rank).astype(F32), name="b") if bias else -1
    st = mb.add_tensor([batch, n_memory * n_filter], "float32", is_variable=True, name="state")
    y = mb.add_tensor([batch, n_filter // rank], "float32", name="y")
    mb.add_operator("SVDF", [x, wf, wt, b, st], [y],
                    ("SVDFOptions", {"Rank": rank, "FusedActivationFunction": act, "AsymmetricQuantizeInputs": asym}))
    mb.set_io([x], [y])
    return mb.build()


@pytest.mark.parametrize("asym", [False, True], ids=["symmetric", "asymmetric"])
@pytest.mark.parametrize("shape", [(1, 7, 4, 3, 1), (2, 16, 12, 10, 3), (3, 33, 8, 5, 2)])
def test_svdf_hybrid(shape, asym):
    """Several invokes: the float state carries over."""
    check_model(svdf_model(*shape, asym=asym, act=1 if shape[0] == 2 else 0, seed=shape[1]), invokes=4,
                seeds=(0, 1))
