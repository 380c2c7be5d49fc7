"""Side-by-side speed: pyedge (every ISA tier asked for) vs LiteRT+XNNPACK vs TFLite's reference
kernels, one thread each unless --threads, in the same process on the same inputs. A thin shell
over `pyedge bench` (pyedge/bench.py) with the TensorFlow Lite Micro models as the default set.

    .venv/bin/pip install -e ".[bench]"     # LiteRT (ai-edge-litert)
    .venv/bin/python tools/bench.py [MODEL.tflite ...] [--rounds 20] [--isa all] [--per-op] [--threads N]
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pyedge.cli import main  # noqa: E402

DEFAULT = ["tflm_person_detect", "tflm_micro_speech_quantized", "tflm_keyword_scrambled",
           "tflm_trained_lstm_int8", "tflm_dtln_noise_suppression",
           "tflm_mobilenet_v2_quantized_1x3x224x224"]

if __name__ == "__main__":
    args = sys.argv[1:]
    if not any(not a.startswith("-") and a.endswith((".tflite", ".peb")) for a in args):
        args = [str(ROOT / "tests" / "models" / f"{m}.tflite") for m in DEFAULT] + args
    sys.exit(main(["bench", *args]))
