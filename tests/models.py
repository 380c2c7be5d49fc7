"""The real models the tests carry (tests/models/, provenance in SOURCES.tsv)."""
from __future__ import annotations

from pathlib import Path

MODELS = Path(__file__).parent / "models"


def model_path(name: str) -> Path:
    return MODELS / f"{name}.tflite"
