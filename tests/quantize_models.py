"""Float models and data for the quantizer's tests: the trained digits CNNs (tests/models/float/)
and small float graphs written with tflite_builder that exercise each quantization rule."""
from __future__ import annotations

import functools

import numpy as np

from models import MODELS
from tflite_builder import ModelBuilder

FLOAT = MODELS / "float"
N_TRAIN = 1437  # digits.npz: the first 1437 images train and calibrate, the rest are held out


@functools.cache
def digits() -> tuple[np.ndarray, np.ndarray]:
    d = np.load(FLOAT / "digits.npz")
    return (d["x"].astype(np.float32) / 16.0)[..., None], d["y"].astype(np.int64)


def digits_calibration(n: int = 200) -> np.ndarray:
    return digits()[0][:n]


def digits_held_out() -> tuple[np.ndarray, np.ndarray]:
    x, y = digits()
    return x[N_TRAIN:], y[N_TRAIN:]


def float_model(name: str) -> bytes:
    return (FLOAT / f"{name}.tflite").read_bytes()


def _conv(mb: ModelBuilder, x: int, cin: int, cout: int, hw: int, rng, name: str, act: int = 0,
          stride: int = 1) -> int:
    w = mb.add_tensor(None, "float32", name=f"{name}/w",
                      data=(rng.standard_normal((cout, 3, 3, cin)) / np.sqrt(9 * cin)).astype(np.float32))
    b = mb.add_tensor(None, "float32", name=f"{name}/b", data=(0.1 * rng.standard_normal(cout)).astype(np.float32))
    o = hw // stride
    y = mb.add_tensor([1, o, o, cout], "float32", name=name)
    mb.add_operator("CONV_2D", [x, w, b], [y], ("Conv2DOptions", {
        "Padding": 0, "StrideW": stride, "StrideH": stride, "FusedActivationFunction": act}), version=1)
    return y


def op_zoo_model(seed: int = 0, int16: bool = False) -> bytes:
    """A float graph touching every rule: weighted ops (conv, depthwise, fully connected), own
    ranges (ADD with a constant, MUL, LEAKY_RELU, PRELU, HARD_SWISH, RELU6, MEAN), shared scales
    (CONCATENATION, MAX/AVERAGE_POOL_2D, PAD, RESHAPE, STRIDED_SLICE, MAXIMUM) and fixed outputs
    (LOGISTIC, TANH, SOFTMAX). Two inputs, two outputs. `int16`: PRELU and HARD_SWISH, which
    have no int16 kernels, become LEAKY_RELU and RELU."""
    rng = np.random.default_rng(seed)
    mb = ModelBuilder("quantizer op zoo (float32)")
    x = mb.add_tensor([1, 8, 8, 3], "float32", name="image")
    side = mb.add_tensor([1, 8], "float32", name="side")
    c1 = _conv(mb, x, 3, 8, 8, rng, "conv1")
    lr = mb.add_tensor([1, 8, 8, 8], "float32", name="leaky")
    mb.add_operator("LEAKY_RELU", [c1], [lr], ("LeakyReluOptions", {"Alpha": 0.1}))
    alpha = mb.add_tensor(None, "float32", name="prelu/alpha",
                          data=(0.25 * rng.random((1, 1, 8))).astype(np.float32))
    c2 = _conv(mb, lr, 8, 8, 8, rng, "conv2")
    pr = mb.add_tensor([1, 8, 8, 8], "float32", name="prelu")
    if int16:
        mb.add_operator("LEAKY_RELU", [c2], [pr], ("LeakyReluOptions", {"Alpha": 0.2}))
    else:
        mb.add_operator("PRELU", [c2, alpha], [pr])
    wd = mb.add_tensor(None, "float32", name="dw/w", data=(rng.standard_normal((1, 3, 3, 8)) / 3).astype(np.float32))
    bd = mb.add_tensor(None, "float32", name="dw/b", data=(0.1 * rng.standard_normal(8)).astype(np.float32))
    dw = mb.add_tensor([1, 8, 8, 8], "float32", name="dw")
    mb.add_operator("DEPTHWISE_CONV_2D", [pr, wd, bd], [dw], ("DepthwiseConv2DOptions", {
        "Padding": 0, "StrideW": 1, "StrideH": 1, "DepthMultiplier": 1, "FusedActivationFunction": 3}),
        version=1)
    hs = mb.add_tensor([1, 8, 8, 8], "float32", name="hswish")
    mb.add_operator("RELU" if int16 else "HARD_SWISH", [c1], [hs], **({"version": 1} if int16 else {}))
    cat = mb.add_tensor([1, 8, 8, 16], "float32", name="concat")
    mb.add_operator("CONCATENATION", [dw, hs], [cat], ("ConcatenationOptions", {"Axis": 3}), version=1)
    mp = mb.add_tensor([1, 4, 4, 16], "float32", name="maxpool")
    mb.add_operator("MAX_POOL_2D", [cat], [mp], ("Pool2DOptions", {
        "Padding": 1, "StrideW": 2, "StrideH": 2, "FilterWidth": 2, "FilterHeight": 2}), version=1)
    pads = mb.add_tensor(None, "int32", name="pad/paddings",
                         data=np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32))
    pd = mb.add_tensor([1, 6, 6, 16], "float32", name="pad")
    mb.add_operator("PAD", [mp, pads], [pd], version=1)
    ap = mb.add_tensor([1, 3, 3, 16], "float32", name="avgpool")
    mb.add_operator("AVERAGE_POOL_2D", [pd], [ap], ("Pool2DOptions", {
        "Padding": 1, "StrideW": 2, "StrideH": 2, "FilterWidth": 2, "FilterHeight": 2}), version=1)
    cst = mb.add_tensor(None, "float32", name="add/const",
                        data=(0.5 * rng.standard_normal((1, 1, 1, 16))).astype(np.float32))
    ad = mb.add_tensor([1, 3, 3, 16], "float32", name="add")
    mb.add_operator("ADD", [ap, cst], [ad], ("AddOptions", {"FusedActivationFunction": 0}), version=1)
    sig = mb.add_tensor([1, 3, 3, 16], "float32", name="logistic")
    mb.add_operator("LOGISTIC", [ad], [sig], version=1)
    mu = mb.add_tensor([1, 3, 3, 16], "float32", name="mul")
    mb.add_operator("MUL", [ad, sig], [mu], ("MulOptions", {"FusedActivationFunction": 0}), version=1)
    mx = mb.add_tensor([1, 3, 3, 16], "float32", name="maximum")
    mb.add_operator("MAXIMUM", [mu, ap], [mx], version=1)
    axes = mb.add_tensor(None, "int32", name="mean/axes", data=np.array([1, 2], np.int32))
    mean = mb.add_tensor([1, 16], "float32", name="mean")
    mb.add_operator("MEAN", [mx, axes], [mean], ("ReducerOptions", {"KeepDims": False}), version=1)
    begin = mb.add_tensor(None, "int32", name="slice/begin", data=np.array([0, 0], np.int32))
    end = mb.add_tensor(None, "int32", name="slice/end", data=np.array([1, 8], np.int32))
    strides = mb.add_tensor(None, "int32", name="slice/strides", data=np.array([1, 1], np.int32))
    sl = mb.add_tensor([1, 8], "float32", name="slice")
    mb.add_operator("STRIDED_SLICE", [mean, begin, end, strides], [sl], ("StridedSliceOptions", {}), version=1)
    r6 = mb.add_tensor([1, 8], "float32", name="relu6")
    mb.add_operator("RELU6", [side], [r6], version=1)
    both = mb.add_tensor([1, 16], "float32", name="concat2")
    mb.add_operator("CONCATENATION", [sl, r6], [both], ("ConcatenationOptions", {"Axis": 1}), version=1)
    wf = mb.add_tensor(None, "float32", name="fc/w", data=(rng.standard_normal((10, 16)) / 4).astype(np.float32))
    bf = mb.add_tensor(None, "float32", name="fc/b", data=(0.1 * rng.standard_normal(10)).astype(np.float32))
    fc = mb.add_tensor([1, 10], "float32", name="fc")
    mb.add_operator("FULLY_CONNECTED", [both, wf, bf], [fc], ("FullyConnectedOptions", {}), version=1)
    sm = mb.add_tensor([1, 10], "float32", name="softmax")
    mb.add_operator("SOFTMAX", [fc], [sm], ("SoftmaxOptions", {"Beta": 1.0}), version=1)
    shp = mb.add_tensor(None, "int32", name="reshape/shape", data=np.array([1, 2, 5], np.int32))
    rs = mb.add_tensor([1, 2, 5], "float32", name="reshape")
    mb.add_operator("RESHAPE", [fc, shp], [rs], ("ReshapeOptions", {"NewShape": [1, 2, 5]}), version=1)
    th = mb.add_tensor([1, 2, 5], "float32", name="tanh")
    mb.add_operator("TANH", [rs], [th], version=1)
    mb.set_io([x, side], [sm, th])
    return mb.build()


def op_zoo_data(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"image": rng.standard_normal((n, 8, 8, 3)).astype(np.float32),
            "side": (3 * rng.standard_normal((n, 8))).astype(np.float32)}


def unquantizable_model() -> bytes:
    mb = ModelBuilder("float EXP")
    x = mb.add_tensor([1, 4], "float32", name="x")
    y = mb.add_tensor([1, 4], "float32", name="exp")
    mb.add_operator("EXP", [x], [y], version=1)
    mb.set_io([x], [y])
    return mb.build()


def smooth_images(n: int, size: int, lo: float, hi: float, seed: int = 0) -> np.ndarray:
    """Blocky random images with a little noise, in [lo, hi]: cheap stand-ins with image-like
    spatial correlation for structural tests (the measured tables use real photos)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 1, (n, size // 16, size // 16, 3)).astype(np.float32)
    x = coarse.repeat(16, axis=1).repeat(16, axis=2)
    x = np.clip(x + 0.05 * rng.standard_normal(x.shape).astype(np.float32), 0, 1)
    return (lo + (hi - lo) * x).astype(np.float32)


# PyPI-shipped float models (tests/models/float/, provenance in SOURCES.tsv): input size and range
SHIPPED = {
    "mediapipe_face_detection_short_range": (128, -1.0, 1.0),
    "mediapipe_face_landmark": (192, 0.0, 1.0),
}


# openWakeWord float models: not stored here (the openWakeWord project licenses its pre-trained
# models CC BY-NC-SA 4.0, which the Apache-2.0 licence file of the wheel does not override), but
# read from the pinned PyPI wheel pyopen-wakeword 1.1.0 (the `test` extra installs it; otherwise
# `pip download` fetches it into build/oww/). Checked by sha256.
OWW_WHEEL = "pyopen-wakeword==1.1.0"
OWW_SHA256 = {
    "melspectrogram": "96fa0adccb6e8cf95cb14465409a1a2898ee4a96a85bb9ed3c7eb0e68bf163e8",
    "embedding_model": "c0aea21eb84a4ce90a08c870da41b7a7173b45269e6a3207c71d67c40f3a59d8",
    "okay_nabu": "2982cecde4ee81cc7a2573d2602a7d54f0669425c94a7b64af77e0ff92b03a18",
}
OWW_MODELS = {"oww_embedding_model": "embedding_model", "oww_okay_nabu": "okay_nabu"}


class OwwUnavailable(RuntimeError):
    """The openWakeWord models could not be found or fetched (says why)."""


def _sha256(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.cache
def _oww_dir():
    from pathlib import Path

    try:
        import pyopen_wakeword

        d = Path(pyopen_wakeword.__file__).parent / "models"
        if (d / "okay_nabu.tflite").exists():
            return d
    except ImportError:
        pass
    import subprocess
    import sys
    import zipfile

    build = Path(__file__).resolve().parent.parent / "build" / "oww"
    d = build / "models"
    if not all((d / f"{n}.tflite").exists() for n in OWW_SHA256):
        build.mkdir(parents=True, exist_ok=True)
        r = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", OWW_WHEEL, "-d", str(build)],
                           capture_output=True, text=True, timeout=300)
        wheels = sorted(build.glob("pyopen_wakeword-1.1.0-*.whl"))
        if r.returncode != 0 or not wheels:
            raise OwwUnavailable(f"openWakeWord models: {OWW_WHEEL} is not installed and pip download failed "
                                 f"(offline?): {(r.stderr or r.stdout).strip()[-300:]}")
        d.mkdir(exist_ok=True)
        with zipfile.ZipFile(wheels[-1]) as z:
            for n in OWW_SHA256:
                (d / f"{n}.tflite").write_bytes(z.read(f"pyopen_wakeword/models/{n}.tflite"))
    return d


def oww_model_path(name: str):
    """Path of an openWakeWord model (melspectrogram, embedding_model, okay_nabu) from the pinned
    wheel, its sha256 checked; raises OwwUnavailable when neither installed nor fetchable."""
    p = _oww_dir() / f"{name}.tflite"
    if _sha256(p) != OWW_SHA256[name]:
        raise OwwUnavailable(f"{p}: sha256 differs from the pyopen-wakeword 1.1.0 model")
    return p


@functools.cache
def oww_clips() -> list[tuple[np.ndarray, int, str]]:
    """(mel frames [n, 32] float32, 1 if the wake phrase is spoken, text) per clip of
    tests/models/float/oww_mels.npz (tools/oww_calibration.py: espeak-ng speech in noise, chirps,
    tones, noise)."""
    with np.load(FLOAT / "oww_mels.npz") as z:
        mels, lengths, wake, text = z["mels"].astype(np.float32), z["lengths"], z["wake"], z["text"]
    ends = np.cumsum(lengths)
    return [(mels[e - n:e], int(w), str(t)) for e, n, w, t in zip(ends, lengths, wake, text)]


def oww_split() -> tuple[list[int], list[int]]:
    """Clip indices for calibration (even) and held-out evaluation (odd)."""
    n = len(oww_clips())
    return list(range(0, n, 2)), list(range(1, n, 2))


def oww_embedding_inputs(clips: list[int], step: int = 8) -> np.ndarray:
    """Embedding model inputs [N, 76, 32, 1]: 76-frame windows every `step` frames of the clips."""
    out = []
    for c in clips:
        m = oww_clips()[c][0]
        out += [m[s:s + 76, :, None] for s in range(0, len(m) - 76 + 1, step)]
    return np.stack(out).astype(np.float32)


@functools.cache
def _oww_embedding_table() -> list[np.ndarray]:
    with np.load(FLOAT / "oww_mels.npz") as z:
        emb, lengths = z["emb"].astype(np.float32), z["emb_lengths"]
    ends = np.cumsum(lengths)
    return [emb[e - n:e] for e, n in zip(ends, lengths)]


def oww_embeddings(clip: int) -> np.ndarray:
    """[n, 96] float embeddings of one clip (76-frame windows every 8 frames, as openWakeWord
    streams them), computed by tools/oww_calibration.py with the float embedding model and stored."""
    return _oww_embedding_table()[clip]


def oww_head_inputs(clips: list[int], step: int = 1) -> np.ndarray:
    """Wake-word head inputs [N, 16, 96]: 16 consecutive embeddings, every `step` embeddings."""
    out = []
    for c in clips:
        e = oww_embeddings(c)
        out += [e[s:s + 16] for s in range(0, len(e) - 16 + 1, step)]
    return np.stack(out).astype(np.float32)


def oww_data(model: str, n_cal: int | None = None, n_eval: int | None = None):
    """(calibration, held-out) inputs of an openWakeWord model (`oww_embedding_model` or
    `oww_okay_nabu`), clips split by oww_split(); evenly subsampled to n_cal / n_eval."""
    cal_c, ev_c = oww_split()
    f = oww_embedding_inputs if model == "oww_embedding_model" else oww_head_inputs
    cal, ev = f(cal_c), f(ev_c)

    def sub(x, n):
        return x if n is None or n >= len(x) else x[np.linspace(0, len(x) - 1, n).round().astype(int)]
    return sub(cal, n_cal), sub(ev, n_eval)
