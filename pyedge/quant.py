"""TFLite's Prepare-time quantization arithmetic, reproduced exactly (double and float32
steps where TFLite uses them), so the kernels' integer parameters match bit for bit."""
from __future__ import annotations

import math

import numpy as np

from .errors import ModelError

INT_RANGES = {
    np.dtype(np.int8): (-128, 127),
    np.dtype(np.uint8): (0, 255),
    np.dtype(np.int16): (-32768, 32767),
    np.dtype(np.int32): (-(2**31), 2**31 - 1),
}

# TFLite ActivationFunctionType
ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6, ACT_TANH, ACT_SIGN_BIT = 0, 1, 2, 3, 4, 5


def tflite_round(x: float) -> float:
    """std::round: half away from zero (Python's round() is half-to-even)."""
    return math.copysign(math.floor(abs(x) + 0.5), x)


def quantize_multiplier(m: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplier(double) -> (int32 multiplier, shift); shift > 0 is a left shift."""
    if m == 0.0:
        return 0, 0
    if not math.isfinite(m):
        raise ModelError(f"rescale factor {m} is not finite (a quantization scale is 0 or out of float range)")
    q, shift = math.frexp(m)
    q_fixed = int(tflite_round(q * (1 << 31)))
    assert q_fixed <= (1 << 31)
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    return q_fixed, shift


def quantize_multiplier_smaller_than_one_exp(m: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplierSmallerThanOneExp: requires 0 < m < 1; returns (mult, left_shift<=0)."""
    assert 0.0 < m < 1.0, m
    q, shift = quantize_multiplier(m)
    assert shift <= 0
    return q, shift


def quantize_multiplier_greater_than_one(m: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplierGreaterThanOne: requires m > 1; returns (mult, left_shift>=0)."""
    assert m > 1.0, m
    q, shift = quantize_multiplier(m)
    assert shift >= 0
    return q, shift


def f32(x) -> np.float32:
    return np.float32(x)


def quantize_value(scale: float, zero_point: int, f: float) -> int:
    """TFLite's Quantize() helper in CalculateActivationRangeQuantized: round(f / scale) in float32."""
    tmp = tflite_round(float(np.float32(f) / np.float32(scale)))
    return int(zero_point) + int(tmp)


def activation_range(act: int, scale: float, zero_point: int, dtype) -> tuple[int, int]:
    """TFLite CalculateActivationRangeQuantized for a fused activation on an int output."""
    qmin, qmax = INT_RANGES[np.dtype(dtype)]
    if act == ACT_RELU:
        return max(qmin, quantize_value(scale, zero_point, 0.0)), qmax
    if act == ACT_RELU6:
        return (max(qmin, quantize_value(scale, zero_point, 0.0)),
                min(qmax, quantize_value(scale, zero_point, 6.0)))
    if act == ACT_RELU_N1_TO_1:
        return (max(qmin, quantize_value(scale, zero_point, -1.0)),
                min(qmax, quantize_value(scale, zero_point, 1.0)))
    if act == ACT_NONE:
        return qmin, qmax
    raise ValueError(f"fused activation {act} is not supported on quantized ops")


def activation_range_float(act: int) -> tuple[float, float]:
    """TFLite CalculateActivationRange<float>."""
    if act == ACT_RELU:
        return 0.0, float("inf")
    if act == ACT_RELU6:
        return 0.0, 6.0
    if act == ACT_RELU_N1_TO_1:
        return -1.0, 1.0
    return -float("inf"), float("inf")
