"""Real int8 models (TensorFlow Lite Micro's) run bit-exact against TFLite's reference kernels."""
from __future__ import annotations

import numpy as np
import pytest

import pyedge
from models import model_path
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
    seeds = (0, 1) if "mobilenet" in name else (0, 1, 2)
    for seed in seeds:
        rng = np.random.default_rng(seed)
        sets = random_inputs(reference_interpreter(ref_model), rng, count=invokes)
        if invokes == 1:
            sets = [sets]
        if seed == seeds[-1] and ("person" in name or "mobilenet" in name):
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
