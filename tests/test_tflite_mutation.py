"""Damaged .tflite files get a pyedge error, never a Python internal and never a crash.

Mutants come from tests/tflite_mutate.py (truncations, bit flips, and tampering with the
flatbuffer's structure: vtable offsets, sizes and slots, uoffsets, vector lengths, tensor
buffer indices and shapes, Buffer offset/size, quantization arrays, opcode fields), seeded
(PYEDGE_MUTATION_SEED, default 1) and bounded (PYEDGE_MUTATIONS scales the counts). Each model's
mutants are loaded, allocated and invoked in a child process with faulthandler on, so a signal
is caught and the mutant that raised it is named.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from models import model_path
from tflite_builder import ModelBuilder

HERE = Path(__file__).resolve().parent
SEED = int(os.environ.get("PYEDGE_MUTATION_SEED", "1"))
SCALE = float(os.environ.get("PYEDGE_MUTATIONS", "1"))
PYEDGE_ERRORS = {"ModelError", "UnsupportedOpError", "BlobError", "InvokeError"}
COUNTS = {"tflm_micro_speech_quantized": 1000, "tflm_keyword_scrambled": 800, "tflm_trained_lstm_int8": 800,
          "tflm_person_detect": 250, "tflm_dtln_noise_suppression": 300}


def _external_buffer_model(external: bool = True) -> bytes:
    """Conv -> FC with constants stored after the flatbuffer (Buffer.offset/size)."""
    rng = np.random.default_rng(0)
    mb = ModelBuilder()
    x = mb.add_tensor([1, 6, 6, 2], "int8", scale=0.05, zero_point=3)
    f = mb.add_tensor([4, 3, 3, 2], "int8", scale=[0.02, 0.03, 0.01, 0.04], zero_point=[0, 0, 0, 0],
                      quantized_dimension=0, data=rng.integers(-127, 128, (4, 3, 3, 2), dtype=np.int8))
    fb = mb.add_tensor([4], "int32", scale=[0.001, 0.0015, 0.0005, 0.002], zero_point=[0, 0, 0, 0],
                       data=rng.integers(-500, 500, 4, dtype=np.int32))
    h = mb.add_tensor([1, 4, 4, 4], "int8", scale=0.1, zero_point=-2)
    mb.add_operator("CONV_2D", [x, f, fb], [h], ("Conv2DOptions", {"Padding": 1, "StrideW": 1, "StrideH": 1}))
    w = mb.add_tensor([3, 64], "int8", scale=0.01, zero_point=0, data=rng.integers(-127, 128, (3, 64), dtype=np.int8))
    y = mb.add_tensor([1, 3], "int8", scale=0.2, zero_point=1)
    mb.add_operator("FULLY_CONNECTED", [h, w, -1], [y])
    mb.set_io([x], [y])
    return mb.build(external_buffers=external)


def _run_mutants(path: Path, count: int, env: dict[str, str] | None = None) -> tuple[list[dict], list[dict]]:
    """(results, crashes): one result per mutant that finished, one crash per mutant that killed
    the worker (the worker is restarted after it)."""
    results, crashes, start = [], [], 0
    while start < count:
        proc = subprocess.run([sys.executable, str(HERE / "tflite_mutate.py"), str(path), str(SEED), str(start),
                               str(count)], capture_output=True, text=True, timeout=300, cwd=HERE,
                              env={**os.environ, **(env or {})})
        last = None
        for line in proc.stdout.splitlines():
            d = json.loads(line)
            if "start" in d:
                last = d["start"]
            else:
                results.append(d)
        if proc.returncode == 0:
            break
        assert last is not None, f"the mutation worker failed before any mutant:\n{proc.stderr[-2000:]}"
        crashes.append({"i": last, "returncode": proc.returncode, "stderr": proc.stderr[-1500:]})
        start = last + 1
    return results, crashes


@pytest.mark.parametrize("name", [*COUNTS, "external_buffers"])
def test_mutated_models_raise_pyedge_errors(name, tmp_path):
    if name == "external_buffers":
        path, count = tmp_path / "external_buffers.tflite", 600
        path.write_bytes(_external_buffer_model())
    else:
        path, count = model_path(name), COUNTS[name]
    count = max(1, int(count * SCALE))
    results, crashes = _run_mutants(path, count)
    outcomes = Counter(r["outcome"] for r in results)
    internal = [r for r in results if r["outcome"] not in PYEDGE_ERRORS and not r["outcome"].startswith(("ran", "loaded"))]
    report = "\n".join(f"  mutant {r['i']} ({r['mutation']}): {r['outcome']}: {r['error']}" for r in internal[:20])
    report += "\n".join(f"  mutant {c['i']}: killed (returncode {c['returncode']})\n{c['stderr']}" for c in crashes[:5])
    assert not internal and not crashes, (
        f"{name}, seed {SEED}: {len(internal)} of {count} mutants raised a non-pyedge exception and "
        f"{len(crashes)} crashed the process ({dict(outcomes)}):\n{report}")
    assert len(results) == count
    # the damage reaches the checks: most mutants are refused, some still load and run
    assert outcomes["ModelError"] > count // 5 and outcomes["ran"] > 0, dict(outcomes)


def test_external_buffers_model_runs_like_the_inline_one():
    """The mutation seed model is valid: its Buffer.offset/size data runs as the same model with
    inline buffers does under TFLite's reference kernels."""
    import pyedge
    import tflite
    from oracle import assert_bit_exact, reference_interpreter, run_model

    raw, inline = _external_buffer_model(), _external_buffer_model(external=False)
    m = tflite.Model.GetRootAs(raw, 0)
    assert sum(m.Buffers(k).Offset() > 1 for k in range(m.BuffersLength())) == 3
    x = np.random.default_rng(1).integers(-128, 128, (1, 6, 6, 2), dtype=np.int8)
    got = run_model(pyedge.Interpreter, raw, [x])[0]
    want = run_model(reference_interpreter, inline, [x])[0]
    assert_bit_exact(got, want, "external buffers")


def test_harness_names_a_mutant_that_kills_the_process():
    """A signal in the worker is reported against the mutant being loaded, and the run goes on."""
    results, crashes = _run_mutants(model_path("tflm_micro_speech_quantized"), 6,
                                    env={"PYEDGE_MUTATION_SELFTEST_SIGNAL": "2"})
    assert [c["i"] for c in crashes] == [2] and crashes[0]["returncode"] < 0
    assert "Fatal Python error" in crashes[0]["stderr"]  # faulthandler's report
    assert [r["i"] for r in results] == [0, 1, 3, 4, 5]
