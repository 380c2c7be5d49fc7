"""Which ops pyedge quantizes and how, following TFLite's quantization spec
(tensorflow/lite/g3doc/performance/quantization_spec.md) and its converter's op constraints."""
from __future__ import annotations

# ops whose data inputs and outputs must share one scale and zero point (the kernels move or
# compare bytes without rescaling): the data inputs' positions, None meaning all of them
SAME_SCALE: dict[str, tuple[int, ...] | None] = {
    "RESHAPE": (0,), "SQUEEZE": (0,), "EXPAND_DIMS": (0,), "MAX_POOL_2D": (0,),
    "AVERAGE_POOL_2D": (0,), "TRANSPOSE": (0,), "PAD": (0,), "PADV2": (0, 2), "SLICE": (0,),
    "STRIDED_SLICE": (0,), "GATHER": (0,), "SPLIT": (1,), "SPLIT_V": (0,), "PACK": None,
    "UNPACK": (0,), "CONCATENATION": None, "MAXIMUM": None, "MINIMUM": None,
    "RESIZE_BILINEAR": (0,), "RESIZE_NEAREST_NEIGHBOR": (0,),
}

# fixed output quantization (scale, zero_point) of int8 outputs, as TFLite's kernels require
FIXED_OUTPUT: dict[str, tuple[float, int]] = {
    "LOGISTIC": (1.0 / 256, -128),
    "TANH": (1.0 / 128, 0),
    "SOFTMAX": (1.0 / 256, -128),
}

# ops with their own output range (calibrated); float constant inputs get per-tensor params
OWN_RANGE = {
    "ADD", "SUB", "MUL", "MEAN", "SUM", "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1",
    "LEAKY_RELU", "PRELU", "HARD_SWISH", "RSQRT",
}

# weighted ops: weight input 1 quantized symmetric per channel along this axis, bias input 2 int32
WEIGHTED: dict[str, int] = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0}

# ops with a float input and no float output
NO_FLOAT_OUTPUT = {"ARG_MAX", "ARG_MIN"}

# operator versions for int8 tensors (tensorflow/lite/tools/versioning/op_version.cc); the
# written version is the larger of this and the float model's
INT8_VERSIONS: dict[str, int] = {
    "CONV_2D": 3, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 4, "ADD": 2, "SUB": 2, "MUL": 2,
    "MEAN": 2, "SUM": 2, "RELU": 2, "RELU6": 2, "RELU_N1_TO_1": 1, "RELU_0_TO_1": 1,
    "LEAKY_RELU": 1, "PRELU": 1, "HARD_SWISH": 1, "LOGISTIC": 2, "TANH": 2, "SOFTMAX": 2,
    "RESHAPE": 1, "SQUEEZE": 1, "EXPAND_DIMS": 1, "MAX_POOL_2D": 2, "AVERAGE_POOL_2D": 2,
    "TRANSPOSE": 2, "PAD": 2, "PADV2": 2, "SLICE": 2, "STRIDED_SLICE": 2, "GATHER": 2,
    "SPLIT": 2, "SPLIT_V": 2, "PACK": 2, "UNPACK": 2, "CONCATENATION": 2, "MAXIMUM": 2,
    "MINIMUM": 2, "RESIZE_BILINEAR": 2, "RESIZE_NEAREST_NEIGHBOR": 2, "ARG_MAX": 2, "ARG_MIN": 2,
    "QUANTIZE": 1, "DEQUANTIZE": 2, "RSQRT": 2,
}

# int16 activations (TFLite's 16x8: int16 symmetric activations, int8 weights, int64 biases)
FIXED_OUTPUT_INT16: dict[str, tuple[float, int]] = {
    "LOGISTIC": (1.0 / 32768, 0),
    "TANH": (1.0 / 32768, 0),
    "SOFTMAX": (1.0 / 32768, 0),
}
# ops pyedge or TFLite run on int8 only
NOT_INT16 = {"RSQRT", "HARD_SWISH", "PRELU", "RELU_N1_TO_1", "RELU_0_TO_1", "ARG_MAX", "ARG_MIN"}
INT16_VERSIONS: dict[str, int] = {
    "CONV_2D": 4, "DEPTHWISE_CONV_2D": 5, "FULLY_CONNECTED": 7, "ADD": 3, "SUB": 5, "MUL": 4,
    "MEAN": 3, "SUM": 2, "RELU": 3, "RELU6": 3, "LEAKY_RELU": 2, "LOGISTIC": 3, "TANH": 3,
    "SOFTMAX": 3, "RESHAPE": 1, "SQUEEZE": 1, "EXPAND_DIMS": 1, "MAX_POOL_2D": 3,
    "AVERAGE_POOL_2D": 3, "TRANSPOSE": 5, "PAD": 3, "PADV2": 3, "SLICE": 4, "STRIDED_SLICE": 2,
    "GATHER": 4, "SPLIT": 4, "SPLIT_V": 2, "PACK": 3, "UNPACK": 4, "CONCATENATION": 3,
    "MAXIMUM": 4, "MINIMUM": 4, "RESIZE_BILINEAR": 4, "RESIZE_NEAREST_NEIGHBOR": 4,
    "QUANTIZE": 2, "DEQUANTIZE": 3,
}

QUANTIZABLE = set(SAME_SCALE) | set(FIXED_OUTPUT) | OWN_RANGE | set(WEIGHTED) | NO_FLOAT_OUTPUT


def why_not(op: str) -> str:
    """The reason an op is not quantized, for the error message."""
    if op in ("QUANTIZE", "DEQUANTIZE"):
        return "the float model already converts types here (only DEQUANTIZE of constants is folded)"
    if op == "CUSTOM":
        return "custom ops have no quantization spec"
    return "no int8 quantization rule for this op in pyedge's quantizer"
