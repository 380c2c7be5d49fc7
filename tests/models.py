"""The real models the tests carry (tests/models/, provenance in SOURCES.tsv)."""
from __future__ import annotations

import struct
from pathlib import Path

import tflite

MODELS = Path(__file__).parent / "models"


def model_path(name: str) -> Path:
    return MODELS / f"{name}.tflite"


def with_valid_quantized_dimension(raw: bytes) -> bytes:
    """Copy of a model with out-of-range quantized_dimension fields reset to 0.

    person_detect's rank-1 bias tensors carry quantized_dimension=3, which TFLite refuses to
    load (TFLite Micro ignores it); with 0 every reference interpreter runs it. The field is
    patched in place in the flatbuffer, so nothing else about the model changes."""
    buf = bytearray(raw)
    model = tflite.Model.GetRootAs(raw, 0)
    for s in range(model.SubgraphsLength()):
        sg = model.Subgraphs(s)
        for i in range(sg.TensorsLength()):
            t = sg.Tensors(i)
            q = t.Quantization()
            if q is None:
                continue
            rank = t.ShapeLength()
            if not 0 <= q.QuantizedDimension() < max(rank, 1):
                field = q._tab.Offset(16)  # QuantizationParameters.quantized_dimension
                struct.pack_into("<i", buf, q._tab.Pos + field, 0)
    return bytes(buf)
