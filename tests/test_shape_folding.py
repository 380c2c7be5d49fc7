"""SHAPE and the arithmetic on it fold at pack time: the tf.keras pattern SHAPE -> STRIDED_SLICE
-> PACK -> RESHAPE (and SHAPE -> GATHER -> CONCATENATION -> RESHAPE) runs bit-exact with
TFLite's reference kernels, with every shape op folded away, also after a resize."""
from __future__ import annotations

import numpy as np
import pytest

import pyedge
from optest import check_model
from oracle import assert_bit_exact, reference_interpreter, run_model
from tflite_builder import ModelBuilder


def _keras_reshape_model(chain: str, batch: int = 1) -> bytes:
    """[N,4,4,8] -> MEAN over H, W -> [N,8] -> RESHAPE to [N,1,1,8] with the new shape computed
    from SHAPE(mean) -> 1x1 CONV_2D -> [N,1,1,6]."""
    rng = np.random.default_rng(2)
    mb = ModelBuilder()
    x = mb.add_tensor([batch, 4, 4, 8], "int8", scale=0.04, zero_point=-5, shape_signature=[-1, 4, 4, 8])
    axes = mb.add_tensor([2], "int32", data=np.array([1, 2], np.int32))
    m = mb.add_tensor([batch, 8], "int8", scale=0.03, zero_point=2, shape_signature=[-1, 8])
    mb.add_operator("MEAN", [x, axes], [m], ("ReducerOptions", {"KeepDims": False}))
    shp = mb.add_tensor([2], "int32")
    mb.add_operator("SHAPE", [m], [shp], ("ShapeOptions", {"OutType": 2}))

    def i32(values, shape=None):
        a = np.array(values, np.int32)
        return mb.add_tensor(list(a.shape if shape is None else shape), "int32", data=a)

    new_shape = mb.add_tensor([4], "int32")
    if chain == "strided_slice_pack":
        n = mb.add_tensor([], "int32")
        mb.add_operator("STRIDED_SLICE", [shp, i32([0]), i32([1]), i32([1])], [n],
                        ("StridedSliceOptions", {"BeginMask": 0, "EndMask": 0, "ShrinkAxisMask": 1}))
        one = i32(1, [])
        eight = i32(8, [])
        mb.add_operator("PACK", [n, one, one, eight], [new_shape], ("PackOptions", {"ValuesCount": 4, "Axis": 0}))
    else:
        n = mb.add_tensor([1], "int32")
        mb.add_operator("GATHER", [shp, i32([0])], [n], ("GatherOptions", {"Axis": 0}))
        mb.add_operator("CONCATENATION", [n, i32([1, 1, 8])], [new_shape], ("ConcatenationOptions", {"Axis": 0}))
    r = mb.add_tensor([batch, 1, 1, 8], "int8", scale=0.03, zero_point=2, shape_signature=[-1, 1, 1, 8])
    mb.add_operator("RESHAPE", [m, new_shape], [r], ("ReshapeOptions", {}))
    f = mb.add_tensor([6, 1, 1, 8], "int8", scale=[0.02] * 6, zero_point=[0] * 6, quantized_dimension=0,
                      data=rng.integers(-127, 128, (6, 1, 1, 8), dtype=np.int8))
    b = mb.add_tensor([6], "int32", scale=[0.0006] * 6, zero_point=[0] * 6,
                      data=rng.integers(-200, 200, 6, dtype=np.int32))
    y = mb.add_tensor([batch, 1, 1, 6], "int8", scale=0.05, zero_point=-1, shape_signature=[-1, 1, 1, 6])
    mb.add_operator("CONV_2D", [r, f, b], [y], ("Conv2DOptions", {"Padding": 1, "StrideW": 1, "StrideH": 1}))
    mb.set_io([x], [y])
    return mb.build()


CHAINS = ["strided_slice_pack", "gather_concat"]


@pytest.mark.parametrize("chain", CHAINS)
@pytest.mark.parametrize("batch", [1, 3])
def test_shape_arithmetic_folds_and_runs_bit_exact(chain, batch):
    model = _keras_reshape_model(chain, batch)
    check_model(model, seeds=(0, 1))
    meta = pyedge.Interpreter(model_content=model)._info.meta
    folded = {r["op"] for r in meta["simplified"]["removed_ops"] if r["action"] == "folded"}
    assert {"SHAPE", "RESHAPE"} - folded == {"RESHAPE"} and "SHAPE" in folded
    ops = [o["op_name"] for o in pyedge.Interpreter(model_content=model)._get_ops_details()]
    assert "SHAPE" not in ops and "STRIDED_SLICE" not in ops and "GATHER" not in ops, ops


@pytest.mark.parametrize("chain", CHAINS)
def test_shape_folding_with_preserved_tensors_and_after_resize(chain):
    model = _keras_reshape_model(chain)
    x = np.random.default_rng(4).integers(-128, 128, (1, 4, 4, 8), dtype=np.int8)
    want = run_model(reference_interpreter, model, [x])[0]
    keep = lambda model_content: pyedge.Interpreter(model_content=model_content,  # noqa: E731
                                                     experimental_preserve_all_tensors=True)
    assert_bit_exact(run_model(keep, model, [x])[0], want, "preserve_all_tensors")
    # a new batch: SHAPE's value changes, and the folded new shape with it
    xb = np.random.default_rng(5).integers(-128, 128, (5, 4, 4, 8), dtype=np.int8)
    got = run_model(pyedge.Interpreter, model, [xb])[0]  # run_model resizes the input
    assert got[0].shape == (5, 1, 1, 6)
    assert_bit_exact(got, run_model(reference_interpreter, model, [xb])[0], "resized to batch 5")
