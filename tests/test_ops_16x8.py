"""16x8 (int16 activations, int8 weights) kernels: the SIMD variants are the ones that run, and
their tile edges (channels around 16, K around the k-groups of 4 and the int32 flush at 512,
1x1 convs read directly or through the panel, int64 / int32 / no bias) are bit-exact with
TFLite's reference kernels on every tier (optest.check_model)."""
from __future__ import annotations

import pytest

import pyedge
from optest import check_model
from test_ops_conv import SAME, VALID, conv_model, dw_model, fc_model

SIMD_TIERS = [t for t in pyedge.cpu.tiers_available() if t != "scalar"]


def _variants(model: bytes, isa: str) -> list[str]:
    return [str(v) for v in pyedge.Interpreter(model_content=model, isa=isa).op_variants()]


@pytest.mark.skipif(not SIMD_TIERS, reason="no SIMD tier on this CPU")
@pytest.mark.parametrize("isa", SIMD_TIERS)
def test_16x8_ops_run_simd_variants(isa: str) -> None:
    want_gemm = {"avx2": "gemm16_2x16c4__avx2", "avx512": "gemm16_8x16c4__avx512",
                 "avx512vnni": "gemm16_8x16c4__avx512vnni", "neon": "gemm16_1x16c4__neon"}.get(isa)
    conv = conv_model([1, 6, 5, 8], 20, (3, 3), dtype="int16", bias="int64")
    fc = fc_model([3, 40], 17, dtype="int16", bias="int64")
    dw = dw_model([1, 6, 5, 19], (3, 3), dtype="int16", bias="int64")
    if want_gemm is not None:
        assert _variants(conv, isa) == [want_gemm]
        assert _variants(fc, isa) == [want_gemm]
    assert _variants(dw, isa)[0].startswith("dot16_dw__")
    # TFLite's own layouts: the window dot products
    generic = pyedge.Interpreter(model_content=pyedge.pack_tflite(conv, layouts="generic"), isa=isa)
    assert str(generic.op_variants()[0]).startswith("dot16_4c__")


@pytest.mark.parametrize("in_c, out_c, k, stride, padding", [
    (1, 1, (1, 1), 1, VALID), (3, 17, (3, 3), 2, SAME), (8, 16, (1, 1), 1, VALID), (5, 33, (1, 1), 1, VALID),
    (7, 15, (2, 3), 1, SAME), (130, 9, (2, 2), 1, VALID), (65, 31, (3, 3), 2, VALID)])
@pytest.mark.parametrize("bias", ["int64", "int32"])  # TFLite's 16x8 CONV_2D needs a bias
def test_conv_16x8_tiles(in_c: int, out_c: int, k, stride: int, padding, bias) -> None:
    check_model(conv_model([1, 7, 6, in_c], out_c, k, stride=(stride, stride), padding=padding, dtype="int16",
                           bias=bias), seeds=(0,))


@pytest.mark.parametrize("depth, units, rows", [(1, 1, 1), (4, 16, 9), (5, 17, 1), (513, 20, 3), (1030, 33, 2)])
@pytest.mark.parametrize("bias", ["int64", "int32", None])
def test_fc_16x8_tiles(depth: int, units: int, rows: int, bias) -> None:
    check_model(fc_model([rows, depth], units, dtype="int16", bias=bias), seeds=(0,))


@pytest.mark.parametrize("c, k, stride", [(1, (3, 3), 1), (17, (5, 5), 2), (33, (3, 3), 1), (64, (1, 1), 1)])
def test_depthwise_16x8_channels(c: int, k, stride: int) -> None:
    check_model(dw_model([1, 9, 8, c], k, stride=(stride, stride), dtype="int16", bias="int64"), seeds=(0,))
