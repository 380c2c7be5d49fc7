"""A real board, when one is named: PYEDGE_TEST_BOARD=rpi4 (a board file) and, unless the board
file's own way in finds it, PYEDGE_TEST_PORT=socket://raspberrypi.local:5757 (any pyserial URL).
The model is flashed, run and profiled there; outputs must equal the host's bit for bit. Without
a board named, the test skips and says how to name one."""
from __future__ import annotations

import os

import pytest

from models import model_path
from pyedge.host.tool import profile_model, run_on_board

BOARD = os.environ.get("PYEDGE_TEST_BOARD")
PORT = os.environ.get("PYEDGE_TEST_PORT")

pytestmark = pytest.mark.skipif(
    not BOARD, reason="no real board named: set PYEDGE_TEST_BOARD=<board> and PYEDGE_TEST_PORT=<pyserial URL> "
                      "to flash, run and profile on one")


def test_real_board_runs_bit_exact_and_profiles():
    model = model_path("tflm_micro_speech_quantized")
    r = run_on_board(model, BOARD, PORT)
    assert r["bit_exact"], r["per_output"]
    p = profile_model(model, BOARD, PORT, runs=3)
    assert p["bit_exact"] and all(x["counts"] > 0 for x in p["layers"])
