"""The benchmark suite: real models (tests/models) and int8 models written by the test builder
(tests/tflite_builder.py) for the shapes edge and transformer workloads have, timed by
`pyedge bench` side by side with LiteRT+XNNPACK and TFLite's reference kernels.

    .venv/bin/pip install -e ".[bench]"
    .venv/bin/python tools/bench_suite.py [--out DIR] [--sweep] [bench options: --threads N --isa all ...]

Generated models (written to --out, default build/bench-suite):
  ds_cnn_kws      DS-CNN keyword spotter: 49x10x1 input, conv 10x4/2 to 64 channels, 4 depthwise-
                  separable blocks (3x3 depthwise + 1x1 conv, 64 channels), average pool, FC 12
  mobilenet_v1_025_96  MobileNetV1 0.25 at 96x96 (1000 classes) as tf.keras exports it: 13
                  depthwise-separable blocks, global average pool, 1x1 conv classifier, then the
                  new shape computed by SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE, softmax
  ffn_64x512      transformer feed-forward block: 64 tokens, FC 512->2048 (RELU), FC 2048->512
  fc_1x1024x4096  a single-token fully connected layer, 1x1024 by 1024x4096
  fc_sweep_*      (--sweep) FC d x d for d = 256..4096 and tokens 1..256
  mediapipe_face_landmark_int8, mediapipe_face_detection_int8
                  MediaPipe's float face models (tests/models/float) quantized by `pyedge quantize`
                  (percentile calibration on 8 random images: for timing, not accuracy): PRELU,
                  standalone RELU, ADD, PAD and pools between the convolutions
  mediapipe_face_detection_16x8, ffn_64x512_16x8
                  TFLite's 16x8 (int16 activations, int8 weights, int64 biases): the face detector
                  through `pyedge quantize --activations int16`, the FFN block as above
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from tflite_builder import ModelBuilder  # noqa: E402

from pyedge.cli import main as pyedge_main  # noqa: E402

REAL = ["tflm_mobilenet_v2_quantized_1x3x224x224", "tflm_person_detect", "tflm_micro_speech_quantized",
        # MLPerf Tiny's reference models
        "mlperf_tiny_vww_96_int8", "mlperf_tiny_kws_ref_model", "mlperf_tiny_resnet_quant", "mlperf_tiny_ad01_int8",
        "mlperf_tiny_str_ww_ref_model"]
SAME, VALID = 0, 1
NONE, RELU, RELU6 = 0, 1, 3


class Net:
    """A chain of int8 layers with plausible scales (outputs neither saturate nor collapse);
    dtype "int16": TFLite's 16x8 (int16 activations with zero point 0 and 1/256 of the int8
    scales, int8 weights, int64 biases)."""

    def __init__(self, name: str, in_shape: list[int], seed: int = 0, stable: bool = False, dtype: str = "int8"):
        # stable: weight scales of 1 / (73 sqrt(taps)), so that every layer's output keeps the
        # input's scale (a deep chain neither saturates nor collapses); else the scale follows
        # the taps (the shallow models' original recipe)
        self.stable = stable
        self.gain = 2.0
        self.mb = ModelBuilder(name)
        self.rng = np.random.default_rng(seed)
        self.dtype = dtype
        self.scale = 0.05 if dtype == "int8" else 0.05 / 256
        self.zp = -3 if dtype == "int8" else 0
        self.x = self.mb.add_tensor(in_shape, dtype, name="input", scale=self.scale, zero_point=self.zp)
        self.shape = list(in_shape)
        self.input = self.x

    def _out(self, shape: list[int], taps: int, act: int) -> int:
        w_scale = 0.02
        if not self.stable:
            self.scale = self.scale * w_scale * 40.0 * np.sqrt(taps) / 8.0
        self.zp = -128 if act in (RELU, RELU6) and self.dtype == "int8" else 0
        t = self.mb.add_tensor(shape, self.dtype, scale=self.scale, zero_point=self.zp)
        self.shape = shape
        return t

    def _weights(self, shape: list[int], out_c: int, axis: int) -> int:
        w = self.rng.integers(-127, 128, size=shape, dtype=np.int8)
        if self.stable:
            taps = int(np.prod(shape)) // out_c
            # a gain against RELU6 halving the variance, and for the logits of the classifier
            scales = list(self.rng.uniform(0.7, 1.3, out_c) * self.gain / (73.0 * np.sqrt(taps)))
        else:
            scales = list(self.rng.uniform(0.01, 0.03, out_c))
        return self.mb.add_tensor(shape, "int8", data=w, scale=scales, zero_point=[0] * out_c,
                                  quantized_dimension=axis), scales

    def _bias(self, n: int, scales: list[float]) -> int:
        if self.dtype == "int16":
            b = self.rng.integers(-2000 * 256, 2000 * 256, size=n).astype(np.int64)
            return self.mb.add_tensor([n], "int64", data=b, scale=[self.scale * s for s in scales],
                                      zero_point=[0] * n)
        b = self.rng.integers(-2000, 2000, size=n, dtype=np.int32)
        return self.mb.add_tensor([n], "int32", data=b, scale=[self.scale * s for s in scales], zero_point=[0] * n)

    def conv(self, out_c: int, k: tuple[int, int], stride: int = 1, padding: int = SAME, act: int = RELU,
             depthwise: bool = False) -> "Net":
        n, h, w, c = self.shape
        oh = -(-h // stride) if padding == SAME else (h - k[0]) // stride + 1
        ow = -(-w // stride) if padding == SAME else (w - k[1]) // stride + 1
        if depthwise:
            wt, scales = self._weights([1, k[0], k[1], c], c, 3)
            taps, out_c = k[0] * k[1], c
        else:
            wt, scales = self._weights([out_c, k[0], k[1], c], out_c, 0)
            taps = k[0] * k[1] * c
        b = self._bias(out_c, scales)
        x = self.x
        out = self._out([n, oh, ow, out_c], taps, act)
        opts = {"Padding": padding, "StrideH": stride, "StrideW": stride, "FusedActivationFunction": act}
        if depthwise:
            opts["DepthMultiplier"] = 1
            self.mb.add_operator("DEPTHWISE_CONV_2D", [x, wt, b], [out], ("DepthwiseConv2DOptions", opts))
        else:
            self.mb.add_operator("CONV_2D", [x, wt, b], [out], ("Conv2DOptions", opts))
        self.x = out
        return self

    def avgpool(self) -> "Net":
        n, h, w, c = self.shape
        self.zp = -128 if self.dtype == "int8" else 0
        out = self.mb.add_tensor([n, 1, 1, c], self.dtype, scale=self.scale, zero_point=self.zp)
        self.mb.add_operator("AVERAGE_POOL_2D", [self.x], [out], ("Pool2DOptions", {
            "Padding": VALID, "StrideH": 1, "StrideW": 1, "FilterHeight": h, "FilterWidth": w,
            "FusedActivationFunction": NONE}))
        self.x, self.shape = out, [n, 1, 1, c]
        return self

    def fc(self, units: int, act: int = NONE) -> "Net":
        depth = self.shape[-1]
        rows = int(np.prod(self.shape)) // depth
        wt, scales = self._weights([units, depth], units, 0)
        b = self._bias(units, scales)
        x = self.x
        out = self._out([rows, units], depth, act)
        self.mb.add_operator("FULLY_CONNECTED", [x, wt, b], [out], ("FullyConnectedOptions", {
            "FusedActivationFunction": act}))
        self.x = out
        return self

    def keras_flatten(self) -> "Net":
        """tf.keras' Reshape((C,)) with a dynamic batch: the new shape [N, C] computed from
        SHAPE(x) by STRIDED_SLICE and PACK (pyedge folds it at pack time)."""
        mb = self.mb
        c = self.shape[-1]

        def i32(values, shape=None):
            a = np.array(values, np.int32)
            return mb.add_tensor(list(a.shape if shape is None else shape), "int32", data=a)

        shp = mb.add_tensor([len(self.shape)], "int32")
        mb.add_operator("SHAPE", [self.x], [shp], ("ShapeOptions", {"OutType": 2}))
        n = mb.add_tensor([], "int32")
        mb.add_operator("STRIDED_SLICE", [shp, i32([0]), i32([1]), i32([1])], [n],
                        ("StridedSliceOptions", {"BeginMask": 0, "EndMask": 0, "ShrinkAxisMask": 1}))
        new_shape = mb.add_tensor([2], "int32")
        mb.add_operator("PACK", [n, i32(c, [])], [new_shape], ("PackOptions", {"ValuesCount": 2, "Axis": 0}))
        out = mb.add_tensor([self.shape[0], c], "int8", scale=self.scale, zero_point=self.zp)
        mb.add_operator("RESHAPE", [self.x, new_shape], [out], ("ReshapeOptions", {}))
        self.x, self.shape = out, [self.shape[0], c]
        return self

    def softmax(self) -> "Net":
        out = self.mb.add_tensor(list(self.shape), "int8", scale=1.0 / 256, zero_point=-128)
        self.mb.add_operator("SOFTMAX", [self.x], [out], ("SoftmaxOptions", {"Beta": 1.0}))
        self.x = out
        return self

    def build(self) -> bytes:
        self.mb.set_io([self.input], [self.x])
        return self.mb.build()


def ds_cnn() -> bytes:
    net = Net("ds_cnn_kws", [1, 49, 10, 1]).conv(64, (10, 4), stride=2)
    for _ in range(4):
        net.conv(64, (3, 3), depthwise=True).conv(64, (1, 1))
    return net.avgpool().fc(12).build()


def mobilenet_v1_025() -> bytes:
    """MobileNetV1, width 0.25, 96x96x3, 1000 classes, with tf.keras' head."""
    net = Net("mobilenet_v1_025_96", [1, 96, 96, 3], stable=True).conv(8, (3, 3), stride=2, act=RELU6)
    for out_c, stride in [(16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1), (128, 1), (128, 1),
                          (128, 1), (128, 1), (256, 2), (256, 1)]:
        net.conv(0, (3, 3), stride=stride, act=RELU6, depthwise=True).conv(out_c, (1, 1), act=RELU6)
    net.gain = 1.0
    return net.avgpool().conv(1000, (1, 1), act=NONE).keras_flatten().softmax().build()


def quantized(name: str, activations: str = "int8") -> bytes:
    """tests/models/float/<name>.tflite through pyedge's quantizer, calibrated on random inputs
    (activations "int16": TFLite's 16x8)."""
    from pyedge.quantize import calibrate
    from pyedge.tflite_reader import read_tflite

    path = ROOT / "tests" / "models" / "float" / f"{name}.tflite"
    g = read_tflite(path.read_bytes())
    shape = g.subgraphs[0].tensors[g.subgraphs[0].inputs[0]].shape
    x = np.random.default_rng(0).random((8, *shape[1:]), dtype=np.float32)
    return calibrate(str(path), x).quantize("percentile", activations=activations)


def models(sweep: bool) -> dict[str, bytes]:
    out = {
        "ds_cnn_kws": ds_cnn(),
        "mobilenet_v1_025_96": mobilenet_v1_025(),
        "ffn_64x512": Net("ffn", [64, 512]).fc(2048, RELU).fc(512).build(),
        "fc_1x1024x4096": Net("fc", [1, 1024]).fc(4096).build(),
    }
    for name in ("mediapipe_face_landmark", "mediapipe_face_detection_short_range"):
        out[name.replace("_short_range", "") + "_int8"] = quantized(name)
    # 16x8: the face detector (the landmark model's PRELU has no int16 kernel) and the FFN block
    out["mediapipe_face_detection_16x8"] = quantized("mediapipe_face_detection_short_range", "int16")
    out["ffn_64x512_16x8"] = Net("ffn", [64, 512], dtype="int16").fc(2048, RELU).fc(512).build()
    if sweep:
        for d in (256, 1024, 4096):
            for tokens in (1, 16, 256):
                out[f"fc_sweep_{tokens}x{d}x{d}"] = Net("fc", [tokens, d]).fc(d).build()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "build" / "bench-suite"))
    ap.add_argument("--sweep", action="store_true", help="add the FC size sweep")
    ap.add_argument("--no-real", action="store_true", help="only the generated models")
    args, rest = ap.parse_known_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [] if args.no_real else [str(ROOT / "tests" / "models" / f"{m}.tflite") for m in REAL]
    for name, data in models(args.sweep).items():
        p = out / f"{name}.tflite"
        p.write_bytes(data)
        paths.append(str(p))
    return pyedge_main(["bench", *paths, *rest])


if __name__ == "__main__":
    sys.exit(main())
