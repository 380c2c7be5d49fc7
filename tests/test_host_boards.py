"""Boards as data: the board files the host tool needs, how each is reached and flashed, `pyedge
boards` with serial ports and pyOCD's probe listing, and clear errors for boards whose firmware
agent does not exist yet."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from models import model_path
from pyedge.boards import list_boards, load_board
from pyedge.cli import main

ROOT = Path(__file__).resolve().parent.parent
MODEL = str(model_path("tflm_micro_speech_quantized"))
REQUIRED = ["host", "qemu-mps2-an386", "qemu-mps3-an547", "qemu-rpi4", "qemu-rpi5", "rpi4", "rpi5",
            "rpi-zero2w", "stm32f746-disco", "nrf52840-dk"]


def test_every_required_board_file_says_how_to_reach_and_flash_it():
    assert set(REQUIRED) <= set(list_boards())
    for n in REQUIRED:
        b = load_board(n)
        c, f = b.connect, b.flash
        assert c.get("method"), n
        if n.startswith("qemu-"):
            assert c["method"] in ("qemu-user", "qemu-system") and c["qemu_cpu"] == b.cpu, n
            assert c["blob_bytes"] > 0 and c["arena_bytes"] > 0, n
        if c["method"] == "qemu-system":
            assert c["machine"] == n[len("qemu-"):] and "{port}" in c["serial"] and "-icount" in c["qemu_args"]
            assert c["counter"] == "instructions" and c["systick_hz"] > 0
            assert f["method"] == "qemu-kernel" and f["firmware"].endswith(".elf")
            assert b.memory and b.ram_bytes and b.flash_bytes
        if b.kind == "mcu" and not n.startswith("qemu-"):
            assert c["usb_vid"] and c["usb_pids"] and f["method"] == "pyocd" and f["pyocd_target"], n
        if n.startswith("rpi"):
            assert c["url"].startswith("socket://") and "pyedge-agent" in f["build"]
            assert load_board(f["emulated_by"]).cpu in (b.cpu, "cortex-a7")
    assert "J-Link" in load_board("nrf52840-dk").flash["vendor_tool"]  # a board that needs a vendor tool says so
    assert load_board("qemu-mps2-an386").connect["uart_base"] == 0x40004000
    assert load_board("qemu-mps3-an547").connect["uart_base"] == 0x59303000


def test_boards_command_lists_boards_ports_and_probes(capsys):
    assert main(["boards", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert set(REQUIRED) <= {b["name"] for b in r["boards"]}
    assert isinstance(r["ports"], list) and isinstance(r["probes"]["probes"], list)
    assert main(["boards"]) == 0
    out = capsys.readouterr().out
    assert "qemu-aarch64 -cpu cortex-a72, started by pyedge" in out
    assert "-M mps2-an386), started by pyedge" in out
    assert "attached serial ports" in out and "debug probes" in out


def test_boards_without_pyocd_say_how_to_get_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyocd.probe.aggregator", None)  # as if pyOCD were not installed
    assert main(["boards"]) == 0
    assert "debug probes: not listed: pyOCD is not installed (pip install pyedge[boards])" in capsys.readouterr().out


@pytest.mark.parametrize("board", ["qemu-mps2-an386", "qemu-mps3-an547"])
def test_cortex_m_boards_without_the_compiler_say_what_to_install(board, tmp_path, capsys):
    """Without arm-none-eabi-gcc on PATH the firmware agent cannot be built: flash, run and profile
    say so and what to install (no traceback); inspect still checks the model against the board."""
    import os
    import subprocess

    env = dict(os.environ, PYTHONPATH=str(ROOT), PATH=str(tmp_path))
    for cmd in (["flash", "--board", board, MODEL, "-q"], ["run", "--board", board, MODEL],
                ["profile", "--board", board, MODEL, "-q"]):
        p = subprocess.run([sys.executable, "-m", "pyedge", *cmd], capture_output=True, text=True, env=env,
                           cwd=ROOT, timeout=120)
        assert p.returncode == 2, p.stderr
        assert f"the firmware agent for {board} cannot be built here: arm-none-eabi-gcc not found" in p.stderr
        assert "gcc-arm-none-eabi" in p.stderr and "Traceback" not in p.stderr
    assert main(["inspect", MODEL, "--board", board]) == 0
    assert f"board {board}" in capsys.readouterr().out


def test_real_board_not_attached_names_the_way_in(capsys):
    assert main(["flash", "--board", "stm32f746-disco", MODEL, "-q"]) == 2
    err = capsys.readouterr().err
    assert "no stm32f746-disco board found" in err and "flashed with pyocd" in err and "--port" in err
    assert main(["flash", "--board", "mps2-an386", MODEL, "-q"]) == 2
    assert "use board qemu-mps2-an386" in capsys.readouterr().err
