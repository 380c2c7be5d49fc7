"""Real int8 models (TensorFlow Lite Micro's, MLPerf Tiny's, Coral's), TF1-era uint8 models
(Coral's) and a dynamic-range (hybrid) model (MLPerf Tiny's) run bit-exact against TFLite's
reference kernels."""
from __future__ import annotations

import hashlib
import struct

import numpy as np
import pytest

import pyedge
from models import MODELS as MODEL_DIR, model_path
from pyedge.tflite_reader import with_valid_quantized_dimension
from optest import interpreter_factory, kernel_paths
from oracle import assert_bit_exact, random_inputs, reference_interpreter, run_model

# name -> invokes per input set (stateful models run several invokes to exercise their state)
MODELS = {
    "tflm_micro_speech_quantized": 1,
    "tflm_person_detect": 1,
    "tflm_mobilenet_v2_quantized_1x3x224x224": 1,
    "tflm_keyword_scrambled": 3,
    "tflm_trained_lstm_int8": 1,
    "tflm_dtln_noise_suppression": 3,
    "coral_mobilenet_v1_0.25_128_quant": 1,
    "coral_mobilenet_v2_1.0_224_quant": 1,
    "coral_mobilenet_v1_1.0_224_quant_embedding_extractor": 1,
    "coral_deeplabv3_mnv2_dm05_pascal_quant": 1,
    "coral_keras_lstm_mnist_ptq": 1,
    "coral_tf2_mobilenet_v2_1.0_224_ptq": 1,
    "coral_movenet_single_pose_lightning_ptq": 1,
    "coral_split_concat": 1,
    # MLPerf Tiny's reference models (github.com/mlcommons/tiny)
    "mlperf_tiny_vww_96_int8": 1,
    "mlperf_tiny_kws_ref_model": 1,
    "mlperf_tiny_resnet_quant": 1,
    "mlperf_tiny_ad01_int8": 1,
    "mlperf_tiny_str_ww_ref_model": 1,
    "mlperf_tiny_resnet_large_int8": 1,
    "mlperf_tiny_toycar_quant_fullint": 1,
    "mlperf_tiny_toycar_quant_hybrid": 1,
}


def _image_like(detail: dict, rng: np.random.Generator) -> np.ndarray:
    """Smooth gradients and blobs rather than noise: real images expose rounding that noise hides."""
    shape = tuple(detail["shape"])
    grids = np.meshgrid(*[np.linspace(0, 1, n) for n in shape], indexing="ij")
    img = sum(np.sin((3 + 5 * rng.random()) * g + rng.random() * 6) for g in grids[1:])
    img = (img - img.min()) / (np.ptp(img) + 1e-9)
    info = np.iinfo(detail["dtype"])
    return (info.min + img * (info.max - info.min)).round().astype(detail["dtype"])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_bit_exact(name):
    raw = model_path(name).read_bytes()
    ref_model = with_valid_quantized_dimension(raw)  # TFLite refuses person_detect as is
    invokes = MODELS[name]
    seeds = (0, 1) if any(k in name for k in ("mobilenet", "deeplab", "movenet")) else (0, 1, 2)
    for seed in seeds:
        rng = np.random.default_rng(seed)
        sets = random_inputs(reference_interpreter(ref_model), rng, count=invokes)
        if invokes == 1:
            sets = [sets]
        if seed == seeds[-1] and any(k in name for k in ("person", "mobilenet", "deeplab", "vww", "resnet", "movenet")):
            sets = [[_image_like(d, rng) for d in reference_interpreter(ref_model).get_input_details()]]
        want = run_model(reference_interpreter, ref_model, sets, invokes=invokes)
        for label, kw in kernel_paths():  # every ISA tier, threads, packed layouts on scalar
            got = run_model(interpreter_factory(**kw), raw, sets, invokes=invokes)
            for step, (g, w) in enumerate(zip(got, want)):
                assert_bit_exact(g, w, context=f"{name} [{label}] seed {seed} invoke {step}")


def test_person_detect_loads_with_a_warning():
    with pytest.warns(UserWarning, match=r"tensor\(s\) have a quantized_dimension out of range.*quantized_dimension 3, rank 1"):
        it = pyedge.Interpreter(model_path=str(model_path("tflm_person_detect")))
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], np.zeros((1, 96, 96, 1), np.int8))
    it.invoke()
    assert it.get_tensor(it.get_output_details()[0]["index"]).shape == (1, 2)


@pytest.mark.parametrize("name", ["tflm_trained_lstm_int8", "tflm_dtln_noise_suppression"])
def test_model_details_match_tflite(name):
    raw = model_path(name).read_bytes()
    ours, ref = pyedge.Interpreter(model_content=raw), reference_interpreter(raw)
    for a, b in zip(ours.get_input_details() + ours.get_output_details(),
                    ref.get_input_details() + ref.get_output_details()):
        assert a["name"] == b["name"] and a["index"] == b["index"] and a["dtype"] == b["dtype"]
        assert np.array_equal(a["shape"], b["shape"]) and a["quantization"] == b["quantization"]
    assert ours.get_signature_list() == ref.get_signature_list()


def _bmp_rgb(name: str) -> np.ndarray:
    """A 24-bit BMP under tests/models/images (bottom-up BGR rows) as [h, w, 3] uint8 RGB."""
    raw = (MODEL_DIR / "images" / name).read_bytes()
    offset, = struct.unpack_from("<I", raw, 10)
    w, h = struct.unpack_from("<ii", raw, 18)
    stride = (w * 3 + 3) // 4 * 4
    img = np.frombuffer(raw, np.uint8, count=stride * h, offset=offset).reshape(h, stride)
    return np.ascontiguousarray(img[:, :w * 3].reshape(h, w, 3)[::-1, :, ::-1])


def _cat_photo(size: int) -> np.ndarray:
    """tests/models/images/coral_cat.bmp centre-cropped to a square and resized by nearest
    neighbour to [1, size, size, 3] uint8 RGB."""
    img = _bmp_rgb("coral_cat.bmp")
    h, w = img.shape[:2]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    pick = np.arange(size) * side // size
    return np.ascontiguousarray(img[y0:y0 + side, x0:x0 + side][pick][:, pick])[None]


@pytest.mark.parametrize("name,size", [("coral_mobilenet_v1_0.25_128_quant", 128),
                                       ("coral_mobilenet_v2_1.0_224_quant", 224),
                                       ("coral_tf2_mobilenet_v2_1.0_224_ptq", 224)])
def test_uint8_mobilenet_on_a_photo(name, size):
    """uint8-edged classifiers (TF1-era uint8; TF2 int8 with uint8 input/output) on a real photo:
    bit-exact on every kernel path, and the class is the cat the photo shows (286, Egyptian cat,
    in the 1001 classes with background)."""
    raw = model_path(name).read_bytes()
    sets = [_cat_photo(size)]
    want = run_model(reference_interpreter, raw, sets)
    assert int(np.argmax(want[0][0])) == 286
    for label, kw in kernel_paths():
        got = run_model(interpreter_factory(**kw), raw, sets)
        assert_bit_exact(got, want, context=f"{name} [{label}] cat photo")


# Coral's published MoveNet keypoints for squat.bmp (test_data's
# movenet_single_pose_lightning_ptq_reference.csv): (x, y) per keypoint, in image fractions
MOVENET_SQUAT_XY = [
    (0.589104, 0.332112), (0.597011, 0.320251), (0.561428, 0.312343), (0.577242, 0.320251),
    (0.502122, 0.320251), (0.553520, 0.427001), (0.430955, 0.399325), (0.703761, 0.494214),
    (0.517937, 0.506076), (0.672132, 0.423047), (0.656317, 0.403279), (0.423047, 0.604918),
    (0.292575, 0.608872), (0.577242, 0.644456), (0.411186, 0.672132), (0.525844, 0.826326),
    (0.328158, 0.901447)]


def test_movenet_finds_the_pose_in_a_photo():
    """MoveNet Lightning on the photo Coral's reference keypoints come from: bit-exact on every
    kernel path, and each of the 17 keypoints within 0.04 (image fractions) of Coral's. The
    stored photo is resized by nearest neighbour, Coral's by its own resize, so the positions
    agree to about 0.03 and the confidence scores (which move with the resize) are not compared."""
    name = "coral_movenet_single_pose_lightning_ptq"
    raw = model_path(name).read_bytes()
    sets = [_bmp_rgb("coral_squat_192.bmp")[None]]
    want = run_model(reference_interpreter, raw, sets)
    yx = want[0][0][0, 0]
    assert yx.shape == (17, 3)
    err = np.abs(yx[:, [1, 0]] - np.array(MOVENET_SQUAT_XY))
    assert err.max() < 0.04, err.round(3)
    for label, kw in kernel_paths():
        got = run_model(interpreter_factory(**kw), raw, sets)
        assert_bit_exact(got, want, context=f"{name} [{label}] squat photo")


def test_model_files_match_their_provenance():
    """Every file under tests/models/ has a SOURCES.tsv row with its size and sha256."""
    rows = {}
    for line in (MODEL_DIR / "SOURCES.tsv").read_text().splitlines()[1:]:
        if line.strip():
            f, size, sha = line.split("\t")[:3]
            rows[f] = (int(size), sha)
    files = sorted(str(p.relative_to(MODEL_DIR)) for p in MODEL_DIR.rglob("*")
                   if p.is_file() and p.name != "SOURCES.tsv")
    assert sorted(rows) == files
    for f in files:
        data = (MODEL_DIR / f).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == rows[f], f
