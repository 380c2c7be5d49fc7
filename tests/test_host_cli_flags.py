"""CLI behaviour people expect from esptool/pyOCD-style tools: --version, --json on run, ops,
inspect and profile, a non-zero exit when a model does not fit the board, no traceback when the
reader of the output goes away, --repeat 0 refused, a float model's refusal in one sentence."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from models import model_path
from pyedge import __version__
from pyedge.cli import main

ROOT = Path(__file__).resolve().parent.parent
MODEL = str(model_path("tflm_micro_speech_quantized"))
# float16 weights: ops pyedge does not run in float (float32 models of supported ops run as they are)
FLOAT = str(ROOT / "tests" / "models" / "float" / "digits_dwcnn_float.tflite")


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"pyedge {__version__}"


def test_json_on_run_ops_inspect_profile(capsys, tmp_path):
    assert main(["run", MODEL, "--json", "--repeat", "2"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["packed"] and r["invoke_ms"]["runs"] == 2 and len(r["outputs"][0]["values"][0]) == 4
    assert main(["run", "--board", "host", MODEL, "--json", "-q"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["bit_exact"] and r["device_board"] == "host" and r["outputs"][0]["dtype"] == "int8"
    assert main(["ops", "--json"]) == 0
    ops = json.loads(capsys.readouterr().out)
    assert {"op": "ADD", "max_version": ops[0]["max_version"], "types": ops[0]["types"]} == ops[0]
    assert main(["inspect", MODEL, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["ops"]) == 4
    assert main(["profile", "--board", "host", MODEL, "--json", "-", "--runs", "2", "-q"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["runs"] == 2 and r["bit_exact"] and len(r["layers"]) == 4


def test_peb_run_is_not_load_and_pack(capsys, tmp_path):
    peb = tmp_path / "m.peb"
    assert main(["pack", MODEL, "-o", str(peb)]) == 0
    capsys.readouterr()
    assert main(["run", str(peb), "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "\nload: " in out and "load+pack" not in out


def test_inspect_board_exit_status(capsys):
    big = str(model_path("tflm_mobilenet_v2_quantized_1x3x224x224"))
    assert main(["inspect", big, "--board", "nrf52840-dk"]) == 1
    assert "DOES NOT FIT" in capsys.readouterr().out
    assert main(["inspect", MODEL, "--board", "nrf52840-dk"]) == 0
    assert "-> fits" in capsys.readouterr().out


def test_repeat_zero_is_an_error(capsys):
    assert main(["run", MODEL, "--repeat", "0"]) == 2
    assert "--repeat must be at least 1, not 0" in capsys.readouterr().err


def test_float_model_refusal_is_short(capsys):
    for cmd in (["run", FLOAT], ["inspect", FLOAT], ["pack", FLOAT, "-o", os.devnull]):
        assert main(cmd) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "float model" in err and "pyedge quantize" in err, err
        assert "supported ops" not in err


def test_closed_output_pipe_is_quiet():
    """`pyedge inspect --json BIG | head -1`: more output than a pipe holds, the reader leaves."""
    big = str(model_path("tflm_mobilenet_v2_quantized_1x3x224x224"))
    p = subprocess.Popen([sys.executable, "-m", "pyedge", "inspect", "--json", big], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert p.stdout.readline().strip() == b"{"
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(60) == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err
