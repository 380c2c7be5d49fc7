"""Seed blobs for the blob-loader fuzzer, built at fuzz time (nothing binary is committed).

Two kinds:
- every real model in tests/models/ that pyedge supports, packed with pyedge.pack_tflite;
- small single-op models (built with tests/tflite_builder.py) for the ops no real model uses,
  so the fuzzer starts inside every kernel's check function and kernel.

A seed that no longer packs (an op's lowering changed, an op is missing) is skipped and named in
the returned notes; it is not an error here: the op tests own that.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "tests" / "models"
MAX_SEED_INPUT = 224 * 224 * 3  # elements of a real model's largest input


def _builder():
    """tests/tflite_builder.py (the tests' model writer), imported from the source tree."""
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import tflite_builder  # noqa: E402

    return tflite_builder


def _q(shape: list[int], dtype: str, scale: float | None = None, zp: int | None = None,
       data: Any = None, **kw: Any) -> dict[str, Any]:
    spec: dict[str, Any] = dict(shape=list(shape), dtype=dtype, **kw)
    if scale is not None:
        spec.update(scale=scale, zero_point=0 if zp is None else zp)
    if data is not None:
        spec["data"] = data
    return spec


def _const(values: Any, dtype: str = "int32") -> dict[str, Any]:
    a = np.asarray(values, dtype)
    return _q(list(a.shape), dtype, data=a)


def _float_op_models(som, rng, conv_opts) -> dict[str, Callable[[], bytes]]:
    """The float32 ops of dynamic-range models (native/kernels/hybrid.h)."""
    def f(shape: list[int]) -> dict[str, Any]:
        return _q(shape, "float32")

    def fc(shape: list[int]) -> dict[str, Any]:
        return _q(shape, "float32", data=rng.standard_normal(shape).astype(np.float32))

    pool = {"Padding": 0, "StrideH": 2, "StrideW": 2, "FilterHeight": 2, "FilterWidth": 2}
    return {
        "fc_float": lambda: som("FULLY_CONNECTED", [f([2, 6]), fc([4, 6]), fc([4])], [f([2, 4])]),
        "conv_float": lambda: som("CONV_2D", [f([1, 5, 5, 2]), fc([3, 3, 3, 2]), fc([3])], [f([1, 3, 3, 3])],
                                  ("Conv2DOptions", conv_opts)),
        "depthwise_float": lambda: som("DEPTHWISE_CONV_2D", [f([1, 5, 5, 2]), fc([1, 3, 3, 4])], [f([1, 3, 3, 4])],
                                       ("DepthwiseConv2DOptions", {**conv_opts, "DepthMultiplier": 2})),
        "add_float": lambda: som("ADD", [f([2, 1, 3]), f([1, 4, 1])], [f([2, 4, 3])],
                                 ("AddOptions", {"FusedActivationFunction": 1})),
        "sub_float": lambda: som("SUB", [f([2, 3]), f([2, 3])], [f([2, 3])]),
        "mul_float": lambda: som("MUL", [f([2, 3]), f([1, 3])], [f([2, 3])]),
        "prelu_float": lambda: som("PRELU", [f([1, 2, 2, 3]), fc([3])], [f([1, 2, 2, 3])]),
        "softmax_float": lambda: som("SOFTMAX", [f([2, 5])], [f([2, 5])], ("SoftmaxOptions", {"Beta": 1.0})),
        "relu_float": lambda: som("RELU", [f([2, 5])], [f([2, 5])]),
        "max_pool_float": lambda: som("MAX_POOL_2D", [f([1, 4, 4, 2])], [f([1, 2, 2, 2])], ("Pool2DOptions", pool)),
        "avg_pool_float": lambda: som("AVERAGE_POOL_2D", [f([1, 4, 4, 2])], [f([1, 2, 2, 2])], ("Pool2DOptions", pool)),
        "mean_float": lambda: som("MEAN", [f([1, 3, 3, 2]), _const([1, 2])], [f([1, 2])]),
        "svdf_hybrid": lambda: som("SVDF", [f([1, 3]), _q([4, 3], "int8", 0.1, 0, data=rng.integers(-127, 128, (4, 3)).astype(np.int8)),
                                           _q([4, 2], "int8", 0.05, 0, data=rng.integers(-127, 128, (4, 2)).astype(np.int8)),
                                           None, _q([1, 8], "float32", is_variable=True)],
                                   [f([1, 2])], ("SVDFOptions", {"Rank": 2, "AsymmetricQuantizeInputs": True})),
        "lstm_hybrid": lambda: __import__("test_hybrid_lstm").HybridLstm(
            batch=2, n_input=3, n_cell=4, time=2, n_output=3, peephole=True, asymmetric=True, cell_clip=0.5).build(),
    }


def _single_op_models() -> dict[str, Callable[[], bytes]]:
    """name -> builder of a small .tflite model with one op (a few with more)."""
    tb = _builder()
    som = tb.single_op_model
    rng = np.random.default_rng(7)
    i8 = lambda shape, s=0.05, z=-3: _q(shape, "int8", s, z)  # noqa: E731
    i16 = lambda shape, s=0.001: _q(shape, "int16", s, 0)  # noqa: E731

    def w8(shape: list[int], scale: Any = 0.02) -> dict[str, Any]:
        return _q(shape, "int8", scale, 0, data=rng.integers(-127, 128, shape).astype(np.int8))

    def bias(n: int, scale: Any = 1e-3, dtype: str = "int32") -> dict[str, Any]:
        return _q([n], dtype, scale, 0, data=rng.integers(-500, 500, n).astype(dtype))

    conv_opts = {"Padding": 1, "StrideH": 1, "StrideW": 1, "DilationHFactor": 1, "DilationWFactor": 1,
                 "FusedActivationFunction": 1}

    def resource_model() -> bytes:
        mb = tb.ModelBuilder("variables")
        init = mb.add_subgraph("init")
        h0 = mb.add_tensor([], "resource", subgraph=init)
        v0 = mb.add_tensor(None, "int8", data=np.arange(6, dtype=np.int8).reshape(2, 3), subgraph=init)
        mb.add_operator("VAR_HANDLE", [], [h0], ("VarHandleOptions", {"Container": "", "SharedName": "v"}),
                        subgraph=init)
        mb.add_operator("ASSIGN_VARIABLE", [h0, v0], [], subgraph=init)
        mb.set_io([], [], subgraph=init)
        mb.add_operator("CALL_ONCE", [], [], ("CallOnceOptions", {"InitSubgraphIndex": init}))
        x = mb.add_tensor([2, 3], "int8", name="x")
        h = mb.add_tensor([], "resource", name="h")
        mb.add_operator("VAR_HANDLE", [], [h], ("VarHandleOptions", {"Container": "", "SharedName": "v"}))
        y = mb.add_tensor([2, 3], "int8", name="y")
        mb.add_operator("READ_VARIABLE", [h], [y])
        mb.add_operator("ASSIGN_VARIABLE", [h, x], [])
        mb.set_io([x], [y])
        return mb.build()

    return {
        "conv_int16x8": lambda: som("CONV_2D", [i16([1, 5, 5, 2]), w8([3, 3, 3, 2], [0.01, 0.02, 0.03]),
                                                bias(3, [1e-5, 2e-5, 3e-5], "int64")],
                                    [i16([1, 3, 3, 3], 0.01)], ("Conv2DOptions", conv_opts)),
        "fc_int8": lambda: som("FULLY_CONNECTED", [i8([2, 6]), w8([4, 6]), bias(4)], [i8([2, 4], 0.1, 2)],
                               ("FullyConnectedOptions", {"FusedActivationFunction": 0})),
        "fc_hybrid": lambda: som("FULLY_CONNECTED", [_q([2, 6], "float32"), w8([4, 6]), _q([4], "float32",
                                 data=rng.standard_normal(4).astype(np.float32))], [_q([2, 4], "float32")],
                                 ("FullyConnectedOptions", {"AsymmetricQuantizeInputs": True})),
        "conv_hybrid": lambda: som("CONV_2D", [_q([1, 5, 5, 2], "float32"), w8([3, 3, 3, 2], [0.01, 0.02, 0.03])],
                                   [_q([1, 3, 3, 3], "float32")], ("Conv2DOptions", conv_opts)),
        "depthwise_hybrid": lambda: som("DEPTHWISE_CONV_2D", [_q([1, 5, 5, 2], "float32"),
                                                              _q([1, 3, 3, 4], "int8", [0.01, 0.02, 0.03, 0.04], 0,
                                                                 data=rng.integers(-127, 128, [1, 3, 3, 4]).astype(np.int8),
                                                                 quantized_dimension=3)],
                                        [_q([1, 3, 3, 4], "float32")],
                                        ("DepthwiseConv2DOptions", {**conv_opts, "DepthMultiplier": 2})),
        **_float_op_models(som, rng, conv_opts),
        "batch_matmul": lambda: som("BATCH_MATMUL", [i8([2, 3, 4], 0.05, 0), i8([2, 4, 5], 0.04, 0)],
                                    [i8([2, 3, 5], 0.3, 1)], ("BatchMatMulOptions", {"AdjX": False, "AdjY": False})),
        "add_broadcast": lambda: som("ADD", [i8([2, 1, 3]), i8([1, 4, 1], 0.03, 5)], [i8([2, 4, 3], 0.1, -1)],
                                     ("AddOptions", {"FusedActivationFunction": 0})),
        "sub_int16": lambda: som("SUB", [i16([3, 4]), i16([3, 4], 0.002)], [i16([3, 4], 0.003)],
                                 ("SubOptions", {"FusedActivationFunction": 0})),
        "mul_int8": lambda: som("MUL", [i8([4, 3]), i8([1, 3], 0.1, 1)], [i8([4, 3], 0.02, 0)],
                                ("MulOptions", {"FusedActivationFunction": 0})),
        "minimum": lambda: som("MINIMUM", [i8([2, 3]), i8([2, 3])], [i8([2, 3])]),
        "maximum": lambda: som("MAXIMUM", [i8([3, 1]), i8([1, 4])], [i8([3, 4])]),
        "prelu": lambda: som("PRELU", [i8([2, 4]), _q([4], "int8", 0.02, 0, data=np.array([1, -3, 5, 100], np.int8))],
                             [i8([2, 4], 0.04, 1)]),
        "softmax_int16": lambda: som("SOFTMAX", [i16([2, 8])], [_q([2, 8], "int16", 1 / 32768, 0)],
                                     ("SoftmaxOptions", {"Beta": 1.0})),
        "logistic": lambda: som("LOGISTIC", [i8([16])], [_q([16], "int8", 1 / 256, -128)]),
        "tanh": lambda: som("TANH", [i8([16])], [_q([16], "int8", 1 / 128, 0)]),
        "relu": lambda: som("RELU", [i8([8])], [i8([8], 0.04, -128)]),
        "relu6": lambda: som("RELU6", [i8([8])], [i8([8], 0.03, -128)]),
        "hard_swish": lambda: som("HARD_SWISH", [i8([4, 8], 0.05, 3)], [i8([4, 8], 0.04, -10)]),
        "leaky_relu": lambda: som("LEAKY_RELU", [i8([16])], [i8([16], 0.04, 1)],
                                  ("LeakyReluOptions", {"Alpha": 0.2})),
        "rsqrt": lambda: som("RSQRT", [i8([16], 0.01, -128)], [i8([16], 0.05, -20)], version=2),
        "quantize_requant": lambda: som("QUANTIZE", [i8([10])], [i8([10], 0.02, 7)]),
        "dequantize": lambda: som("DEQUANTIZE", [i8([6])], [_q([6], "float32")]),
        "max_pool": lambda: som("MAX_POOL_2D", [i8([1, 4, 4, 2])], [i8([1, 2, 2, 2])],
                                ("Pool2DOptions", {"Padding": 1, "StrideH": 2, "StrideW": 2, "FilterHeight": 2,
                                                   "FilterWidth": 2, "FusedActivationFunction": 0})),
        "mean": lambda: som("MEAN", [i8([2, 4, 3]), _const([1])], [i8([2, 3], 0.02, 1)],
                            ("ReducerOptions", {"KeepDims": False})),
        "sum": lambda: som("SUM", [i8([2, 4, 3]), _const([0, 2])], [i8([4], 0.3, 0)],
                           ("ReducerOptions", {"KeepDims": False})),
        "arg_max": lambda: som("ARG_MAX", [i8([3, 5]), _const([1])], [_q([3], "int32")],
                               ("ArgMaxOptions", {"OutputType": 2})),
        "arg_min": lambda: som("ARG_MIN", [i8([3, 5]), _const([0])], [_q([5], "int32")],
                               ("ArgMinOptions", {"OutputType": 2})),
        "resize_nn": lambda: som("RESIZE_NEAREST_NEIGHBOR", [i8([1, 2, 3, 2]), _const([5, 4])], [i8([1, 5, 4, 2])],
                                 ("ResizeNearestNeighborOptions", {"AlignCorners": False, "HalfPixelCenters": True})),
        "resize_bilinear": lambda: som("RESIZE_BILINEAR", [i8([1, 3, 2, 1]), _const([4, 5])], [i8([1, 4, 5, 1])],
                                       ("ResizeBilinearOptions", {"AlignCorners": True, "HalfPixelCenters": False})),
        "concatenation": lambda: som("CONCATENATION", [i8([2, 3]), i8([2, 2])], [i8([2, 5])],
                                     ("ConcatenationOptions", {"Axis": 1, "FusedActivationFunction": 0})),
        "pad": lambda: som("PAD", [i8([2, 3]), _const([[1, 0], [2, 1]])], [i8([3, 6])]),
        "transpose": lambda: som("TRANSPOSE", [i8([2, 3, 4]), _const([2, 0, 1])], [i8([4, 2, 3])]),
        "strided_slice": lambda: som("STRIDED_SLICE", [i8([3, 5, 4]), _const([2, 0, 1]), _const([0, 5, 4]),
                                                        _const([-1, 2, 2])], [i8([2, 3, 2])],
                                     ("StridedSliceOptions", {})),
        "split": lambda: som("SPLIT", [_const(1), i8([2, 6])], [i8([2, 3])] * 2, ("SplitOptions", {"NumSplits": 2})),
        "gather": lambda: som("GATHER", [i8([4, 3]), _const([3, 0, 2])], [i8([3, 3])], ("GatherOptions", {"Axis": 0})),
        "gather_input_indices": lambda: som("GATHER", [i8([5]), _q([4], "int32")], [i8([4])],
                                            ("GatherOptions", {"Axis": 0})),
        "gather_nd": lambda: som("GATHER_ND", [i8([3, 4, 2]), _const([[2, 1], [0, 3]])], [i8([2, 2])]),
        "gather_nd_input_indices": lambda: som("GATHER_ND", [i8([5, 3]), _q([4, 1], "int32")], [i8([4, 3])]),
        "cast": lambda: som("CAST", [_q([2, 3], "float32")], [_q([2, 3], "int32")]),
        "floor_div": lambda: som("FLOOR_DIV", [_q([2, 3], "int32"), _const([3, -2, 5])], [_q([2, 3], "int32")]),
        "div": lambda: som("DIV", [_q([2, 3], "float32"), _q([3], "float32")], [_q([2, 3], "float32")],
                           ("DivOptions", {"FusedActivationFunction": 0})),
        "sqrt": lambda: som("SQRT", [_q([2, 3], "float32")], [_q([2, 3], "float32")]),
        "resource_variables": resource_model,
    }


def real_model_blobs() -> tuple[dict[str, bytes], list[str]]:
    """Every supported tests/models/*.tflite packed: (name -> blob, notes on skipped models)."""
    import pyedge

    blobs, notes = {}, []
    for path in sorted(MODELS.glob("*.tflite")):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                it = pyedge.Interpreter(model_path=str(path))
                size = max(int(np.prod(d["shape"])) for d in it.get_input_details())
                if size > MAX_SEED_INPUT:  # one sanitized invoke would outlast the fuzzer's timeout
                    notes.append(f"{path.stem}: not a seed (an input of {size} elements)")
                    continue
                blobs[path.stem] = pyedge.pack_tflite(path.read_bytes())
        except pyedge.PyedgeError as exc:
            notes.append(f"{path.stem}: not packed ({type(exc).__name__}: {str(exc).splitlines()[0]})")
    return blobs, notes


def single_op_blobs() -> tuple[dict[str, bytes], list[str]]:
    """The single-op seed models packed: (name -> blob, notes on skipped ones)."""
    import pyedge

    blobs, notes = {}, []
    for name, build in _single_op_models().items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. SUM's note on TFLite's uint8 accumulation
                blobs["op_" + name] = pyedge.pack_tflite(build())
        except Exception as exc:  # noqa: BLE001 - a stale seed is skipped, not fatal
            notes.append(f"op_{name}: not packed ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})")
    return blobs, notes


def write_seeds(directory: Path, real: bool = True, single_ops: bool = True,
                max_bytes: int | None = None) -> tuple[list[Path], list[str]]:
    """Write seed blobs as DIRECTORY/NAME.peb; returns (paths, notes). Seeds larger than
    `max_bytes` are left out (and noted)."""
    directory.mkdir(parents=True, exist_ok=True)
    blobs: dict[str, bytes] = {}
    notes: list[str] = []
    for enabled, make in ((real, real_model_blobs), (single_ops, single_op_blobs)):
        if enabled:
            b, n = make()
            blobs.update(b)
            notes += n
    paths = []
    for name, blob in blobs.items():
        if max_bytes is not None and len(blob) > max_bytes:
            notes.append(f"{name}: {len(blob)} bytes > {max_bytes}, left out")
            continue
        p = directory / f"{name}.peb"
        p.write_bytes(blob)
        paths.append(p)
    return paths, notes


if __name__ == "__main__":
    import argparse

    sys.path.insert(0, str(ROOT))  # run from a source tree without `pip install -e .`

    ap = argparse.ArgumentParser(description="write the fuzzer's seed blobs")
    ap.add_argument("directory", type=Path)
    ap.add_argument("--max-bytes", type=int)
    a = ap.parse_args()
    ps, ns = write_seeds(a.directory, max_bytes=a.max_bytes)
    for p in ps:
        print(f"{p} {p.stat().st_size}")
    for n in ns:
        print("note:", n)
