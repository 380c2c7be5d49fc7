"""Trains the float test models on scikit-learn's bundled digits data (8x8 greyscale, 1797 images,
no download) in NumPy and writes them with tests/tflite_builder.py:

  tests/models/float/digits_cnn_float.tflite     CONV-POOL-CONV-FC-SOFTMAX (float32)
  tests/models/float/digits_dwcnn_float.tflite   CONV-DEPTHWISE-CONCAT-MEAN-FC-SOFTMAX, fp16 weights
                                           through DEQUANTIZE (as converters ship them)
  tests/models/float/digits.npz                  the data: x uint8 [1797,8,8] (0..16), y uint8

Stored shuffled (a fixed permutation); the split used everywhere: the first 1437 images train (and calibrate), the last 360 are held out.
Needs scikit-learn (only here: the tests read digits.npz). Deterministic for a seed.

  python tools/train_digits_cnn.py [--seed 0] [--epochs 40]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from tflite_builder import ModelBuilder  # noqa: E402

N_TRAIN = 1437


def im2col(x: np.ndarray, k: int, stride: int = 1) -> np.ndarray:
    """SAME-padded patches [N, OH, OW, k*k*C] in TFLite's (kh, kw, c) weight order."""
    n, h, w, c = x.shape
    oh, ow = -(-h // stride), -(-w // stride)
    ph = max((oh - 1) * stride + k - h, 0)
    pw = max((ow - 1) * stride + k - w, 0)
    xp = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    cols = np.empty((n, oh, ow, k, k, c), x.dtype)
    for i in range(k):
        for j in range(k):
            cols[:, :, :, i, j, :] = xp[:, i:i + stride * oh:stride, j:j + stride * ow:stride, :]
    return cols.reshape(n, oh, ow, k * k * c)


def col2im(cols: np.ndarray, shape: tuple, k: int, stride: int = 1) -> np.ndarray:
    n, h, w, c = shape
    oh, ow = cols.shape[1:3]
    ph = max((oh - 1) * stride + k - h, 0)
    pw = max((ow - 1) * stride + k - w, 0)
    xp = np.zeros((n, h + ph, w + pw, c), cols.dtype)
    cols = cols.reshape(n, oh, ow, k, k, c)
    for i in range(k):
        for j in range(k):
            xp[:, i:i + stride * oh:stride, j:j + stride * ow:stride, :] += cols[:, :, :, i, j, :]
    return xp[:, ph // 2:ph // 2 + h, pw // 2:pw // 2 + w, :]


class Adam:
    def __init__(self, params: dict, lr: float = 2e-3) -> None:
        self.p, self.lr, self.t = params, lr, 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, grads: dict) -> None:
        self.t += 1
        for k, g in grads.items():
            self.m[k] = 0.9 * self.m[k] + 0.1 * g
            self.v[k] = 0.999 * self.v[k] + 0.001 * g * g
            mh = self.m[k] / (1 - 0.9 ** self.t)
            vh = self.v[k] / (1 - 0.999 ** self.t)
            self.p[k] -= self.lr * mh / (np.sqrt(vh) + 1e-8)


def softmax_xent(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    z = logits - logits.max(1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(1, keepdims=True)
    loss = -np.log(p[np.arange(len(y)), y] + 1e-12).mean()
    d = p.copy()
    d[np.arange(len(y)), y] -= 1
    return float(loss), d / len(y)


# --- model A: conv 3x3x16 relu, maxpool 2, conv 3x3x32 relu, fc 10, softmax -------------------

def init_a(rng: np.random.Generator) -> dict:
    he = lambda shape, fan: (rng.standard_normal(shape) * np.sqrt(2.0 / fan)).astype(np.float32)  # noqa: E731
    return {"w1": he((16, 3, 3, 1), 9), "b1": np.zeros(16, np.float32),
            "w2": he((32, 3, 3, 16), 144), "b2": np.zeros(32, np.float32),
            "w3": he((10, 512), 512), "b3": np.zeros(10, np.float32)}


def forward_a(p: dict, x: np.ndarray, train: bool = False):
    n = len(x)
    c1 = im2col(x, 3)
    a1 = c1 @ p["w1"].reshape(16, -1).T + p["b1"]
    r1 = np.maximum(a1, 0)
    r1b = r1.reshape(n, 4, 2, 4, 2, 16)
    m1 = r1b.max(axis=(2, 4))
    c2 = im2col(m1, 3)
    a2 = c2 @ p["w2"].reshape(32, -1).T + p["b2"]
    r2 = np.maximum(a2, 0)
    f = r2.reshape(n, 512)
    logits = f @ p["w3"].T + p["b3"]
    if not train:
        return logits
    return logits, (c1, a1, r1b, m1, c2, a2, f)


def backward_a(p: dict, x: np.ndarray, cache, dlogits: np.ndarray) -> dict:
    c1, a1, r1b, m1, c2, a2, f = cache
    n = len(x)
    g = {"w3": dlogits.T @ f, "b3": dlogits.sum(0)}
    df = dlogits @ p["w3"]
    da2 = df.reshape(a2.shape) * (a2 > 0)
    g["w2"] = (da2.reshape(-1, 32).T @ c2.reshape(-1, c2.shape[-1])).reshape(p["w2"].shape)
    g["b2"] = da2.sum((0, 1, 2))
    dc2 = da2 @ p["w2"].reshape(32, -1)
    dm1 = col2im(dc2, m1.shape, 3)
    mask = r1b == m1[:, :, None, :, None, :]
    mask = mask / mask.sum(axis=(2, 4), keepdims=True)
    dr1 = (mask * dm1[:, :, None, :, None, :]).reshape(n, 8, 8, 16)
    da1 = dr1 * (a1 > 0)
    g["w1"] = (da1.reshape(-1, 16).T @ c1.reshape(-1, 9)).reshape(p["w1"].shape)
    g["b1"] = da1.sum((0, 1, 2))
    return g


def build_a(p: dict) -> bytes:
    mb = ModelBuilder("digits CNN (float32), trained by tools/train_digits_cnn.py")
    x = mb.add_tensor([1, 8, 8, 1], "float32", name="input")
    w1 = mb.add_tensor(None, "float32", name="conv1/weights", data=p["w1"])
    b1 = mb.add_tensor(None, "float32", name="conv1/bias", data=p["b1"])
    r1 = mb.add_tensor([1, 8, 8, 16], "float32", name="conv1/relu")
    mb.add_operator("CONV_2D", [x, w1, b1], [r1], ("Conv2DOptions", {
        "Padding": 0, "StrideW": 1, "StrideH": 1, "FusedActivationFunction": 1}), version=1)
    m1 = mb.add_tensor([1, 4, 4, 16], "float32", name="pool1")
    mb.add_operator("MAX_POOL_2D", [r1], [m1], ("Pool2DOptions", {
        "Padding": 1, "StrideW": 2, "StrideH": 2, "FilterWidth": 2, "FilterHeight": 2}), version=1)
    w2 = mb.add_tensor(None, "float32", name="conv2/weights", data=p["w2"])
    b2 = mb.add_tensor(None, "float32", name="conv2/bias", data=p["b2"])
    r2 = mb.add_tensor([1, 4, 4, 32], "float32", name="conv2/relu")
    mb.add_operator("CONV_2D", [m1, w2, b2], [r2], ("Conv2DOptions", {
        "Padding": 0, "StrideW": 1, "StrideH": 1, "FusedActivationFunction": 1}), version=1)
    shp = mb.add_tensor(None, "int32", name="flatten/shape", data=np.array([1, 512], np.int32))
    f = mb.add_tensor([1, 512], "float32", name="flatten")
    mb.add_operator("RESHAPE", [r2, shp], [f], ("ReshapeOptions", {"NewShape": [1, 512]}), version=1)
    w3 = mb.add_tensor(None, "float32", name="fc/weights", data=p["w3"])
    b3 = mb.add_tensor(None, "float32", name="fc/bias", data=p["b3"])
    lg = mb.add_tensor([1, 10], "float32", name="logits")
    mb.add_operator("FULLY_CONNECTED", [f, w3, b3], [lg], ("FullyConnectedOptions", {}), version=1)
    out = mb.add_tensor([1, 10], "float32", name="probabilities")
    mb.add_operator("SOFTMAX", [lg], [out], ("SoftmaxOptions", {"Beta": 1.0}), version=1)
    mb.set_io([x], [out])
    return mb.build()


# --- model B: conv 3x3x8 relu6, depthwise 3x3 (x2) stride 2 relu6 and a 1x1 conv branch,
# concatenated, mean over H and W, fc 10, softmax; weights stored as float16 + DEQUANTIZE -------

def init_b(rng: np.random.Generator) -> dict:
    he = lambda shape, fan: (rng.standard_normal(shape) * np.sqrt(2.0 / fan)).astype(np.float32)  # noqa: E731
    return {"w1": he((8, 3, 3, 1), 9), "b1": np.zeros(8, np.float32),
            "wd": he((1, 3, 3, 16), 9), "bd": np.zeros(16, np.float32),
            "wp": he((8, 1, 1, 8), 8), "bp": np.zeros(8, np.float32),
            "w3": he((10, 24), 24), "b3": np.zeros(10, np.float32)}


def forward_b(p: dict, x: np.ndarray, train: bool = False):
    n = len(x)
    c1 = im2col(x, 3)
    a1 = c1 @ p["w1"].reshape(8, -1).T + p["b1"]
    r1 = np.clip(a1, 0, 6)
    # depthwise, multiplier 2: output channel o reads input channel o // 2
    r1x = np.repeat(r1, 2, axis=3)
    cd = im2col(r1x, 3, stride=2).reshape(n, 4, 4, 9, 16)
    ad = (cd * p["wd"].reshape(9, 16)).sum(3) + p["bd"]
    rd = np.clip(ad, 0, 6)
    sub = r1[:, ::2, ::2, :]  # 1x1 conv, stride 2
    ap = sub @ p["wp"].reshape(8, 8).T + p["bp"]
    cat = np.concatenate([rd, ap], axis=3)
    mean = cat.mean(axis=(1, 2))
    logits = mean @ p["w3"].T + p["b3"]
    if not train:
        return logits
    return logits, (c1, a1, r1x, cd, ad, sub, mean)


def backward_b(p: dict, x: np.ndarray, cache, dlogits: np.ndarray) -> dict:
    c1, a1, r1x, cd, ad, sub, mean = cache
    n = len(x)
    g = {"w3": dlogits.T @ mean, "b3": dlogits.sum(0)}
    dmean = dlogits @ p["w3"]
    dcat = np.broadcast_to(dmean[:, None, None, :] / 16.0, (n, 4, 4, 24))
    drd, dap = dcat[..., :16], dcat[..., 16:]
    g["wp"] = (dap.reshape(-1, 8).T @ sub.reshape(-1, 8)).reshape(p["wp"].shape)
    g["bp"] = dap.sum((0, 1, 2))
    dsub = dap @ p["wp"].reshape(8, 8)
    dad = drd * ((ad > 0) & (ad < 6))
    g["wd"] = (cd * dad[:, :, :, None, :]).sum((0, 1, 2)).reshape(p["wd"].shape)
    g["bd"] = dad.sum((0, 1, 2))
    dcd = dad[:, :, :, None, :] * p["wd"].reshape(9, 16)
    dr1x = col2im(dcd.reshape(n, 4, 4, 9 * 16), r1x.shape, 3, stride=2)
    dr1 = dr1x.reshape(n, 8, 8, 8, 2).sum(4)
    dr1[:, ::2, ::2, :] += dsub
    da1 = dr1 * ((a1 > 0) & (a1 < 6))
    g["w1"] = (da1.reshape(-1, 8).T @ c1.reshape(-1, 9)).reshape(p["w1"].shape)
    g["b1"] = da1.sum((0, 1, 2))
    return g


def build_b(p: dict) -> bytes:
    mb = ModelBuilder("digits depthwise CNN (float16 weights), trained by tools/train_digits_cnn.py")

    def fp16_const(name: str, data: np.ndarray) -> int:
        h = mb.add_tensor(None, "float16", name=name + "_fp16", data=data.astype(np.float16))
        f = mb.add_tensor(list(data.shape), "float32", name=name)
        mb.add_operator("DEQUANTIZE", [h], [f], version=3)
        return f

    x = mb.add_tensor([1, 8, 8, 1], "float32", name="input")
    w1, b1 = fp16_const("conv1/weights", p["w1"]), fp16_const("conv1/bias", p["b1"])
    r1 = mb.add_tensor([1, 8, 8, 8], "float32", name="conv1/relu6")
    mb.add_operator("CONV_2D", [x, w1, b1], [r1], ("Conv2DOptions", {
        "Padding": 0, "StrideW": 1, "StrideH": 1, "FusedActivationFunction": 3}), version=1)
    wd, bd = fp16_const("dw/weights", p["wd"]), fp16_const("dw/bias", p["bd"])
    rd = mb.add_tensor([1, 4, 4, 16], "float32", name="dw/relu6")
    mb.add_operator("DEPTHWISE_CONV_2D", [r1, wd, bd], [rd], ("DepthwiseConv2DOptions", {
        "Padding": 0, "StrideW": 2, "StrideH": 2, "DepthMultiplier": 2, "FusedActivationFunction": 3}),
        version=1)
    wp, bp = fp16_const("pw/weights", p["wp"]), fp16_const("pw/bias", p["bp"])
    ap = mb.add_tensor([1, 4, 4, 8], "float32", name="pw")
    mb.add_operator("CONV_2D", [r1, wp, bp], [ap], ("Conv2DOptions", {
        "Padding": 1, "StrideW": 2, "StrideH": 2, "FusedActivationFunction": 0}), version=1)
    cat = mb.add_tensor([1, 4, 4, 24], "float32", name="concat")
    mb.add_operator("CONCATENATION", [rd, ap], [cat], ("ConcatenationOptions", {"Axis": 3}), version=1)
    axes = mb.add_tensor(None, "int32", name="mean/axes", data=np.array([1, 2], np.int32))
    mean = mb.add_tensor([1, 24], "float32", name="mean")
    mb.add_operator("MEAN", [cat, axes], [mean], ("ReducerOptions", {"KeepDims": False}), version=1)
    w3, b3 = fp16_const("fc/weights", p["w3"]), fp16_const("fc/bias", p["b3"])
    lg = mb.add_tensor([1, 10], "float32", name="logits")
    mb.add_operator("FULLY_CONNECTED", [mean, w3, b3], [lg], ("FullyConnectedOptions", {}), version=1)
    out = mb.add_tensor([1, 10], "float32", name="probabilities")
    mb.add_operator("SOFTMAX", [lg], [out], ("SoftmaxOptions", {"Beta": 1.0}), version=1)
    mb.set_io([x], [out])
    return mb.build()


def train(forward, backward, params: dict, x: np.ndarray, y: np.ndarray, epochs: int,
          rng: np.random.Generator, lr: float) -> dict:
    opt = Adam(params, lr)
    for ep in range(epochs):
        order = rng.permutation(len(x))
        total = 0.0
        for k in range(0, len(x), 32):
            idx = order[k:k + 32]
            logits, cache = forward(params, x[idx], train=True)
            loss, d = softmax_xent(logits, y[idx])
            total += loss * len(idx)
            opt.step(backward(params, x[idx], cache, d))
        if ep in (0, epochs - 1):
            print(f"  epoch {ep + 1}: loss {total / len(x):.4f}")
    return params


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=40)
    args = ap.parse_args()
    from sklearn.datasets import load_digits

    d = load_digits()
    perm = np.random.default_rng(1234).permutation(len(d.target))  # the stored order
    xi = d.images.astype(np.uint8)[perm]
    y = d.target.astype(np.uint8)[perm]
    out = ROOT / "tests" / "models" / "float"
    np.savez_compressed(out / "digits.npz", x=xi, y=y)
    x = (xi.astype(np.float32) / 16.0)[..., None]
    xt, yt, xv, yv = x[:N_TRAIN], y[:N_TRAIN].astype(np.int64), x[N_TRAIN:], y[N_TRAIN:]
    for name, init, fwd, bwd, build, lr, epochs in (
            ("digits_cnn_float", init_a, forward_a, backward_a, build_a, 2e-3, args.epochs),
            ("digits_dwcnn_float", init_b, forward_b, backward_b, build_b, 5e-3, 3 * args.epochs)):
        rng = np.random.default_rng(args.seed)
        print(name)
        p = train(fwd, bwd, init(rng), xt, yt, epochs, rng, lr)
        acc = float((fwd(p, xv).argmax(1) == yv).mean())
        print(f"  held-out accuracy (NumPy): {acc:.4f}")
        path = out / f"{name}.tflite"
        path.write_bytes(build(p))
        print(f"  wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
