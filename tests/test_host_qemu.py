"""Boards the host tool emulates itself (boards/qemu-rpi*.toml): `pyedge flash|run|profile --board
qemu-rpi4` cross-builds the static Arm Linux pyedge-agent (once, build/cross-<arch>), starts it
under qemu-user on the board's CPU model, talks to it over TCP through pyserial's socket:// and
stops it on exit, on an error, on Ctrl-C and when the host tool is killed.

The same real model runs on the in-process agent (board host) and on every emulated board: the
device's outputs must equal the host's bit for bit, every op must have a non-zero count, and the
JSON and HTML reports must be written. tools/test.sh installs the cross compilers and QEMU;
without them these tests skip, saying why.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from models import model_path
from pyedge import Interpreter
from pyedge.boards import load_board
from pyedge.cli import main
from pyedge.errors import PyedgeError
from pyedge.host.qemu import cross_agent, missing_tools
from pyedge.host.tool import connect, model_blob

ROOT = Path(__file__).resolve().parent.parent
MODEL = str(model_path("tflm_micro_speech_quantized"))
# board -> the kernel variant its GEMM-backed ops must report (proves the CPU model's dispatch)
BOARDS = {"host": None, "qemu-rpi4": "__neon", "qemu-rpi5": "__neondot", "qemu-rpi-zero2w": "__neon"}


def _need(board: str) -> None:
    arch = load_board(board).connect.get("arch")
    if arch:
        why = missing_tools(arch)
        if why:
            pytest.skip(f"{board} skipped: {why} (tools/test.sh installs it)")
        cross_agent(arch)  # built once per test run


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _pid_in(text: str) -> int:
    m = re.search(r"pid (\d+)\)", text)
    assert m, text
    return int(m.group(1))


@pytest.fixture(scope="module")
def x_npy(tmp_path_factory):
    blob = model_blob(MODEL, "host")
    d = Interpreter(model_content=blob).get_input_details()[0]
    x = np.random.default_rng(11).integers(-128, 128, d["shape"], dtype=np.int8)
    path = tmp_path_factory.mktemp("qemu") / "x.npy"
    np.save(path, x)
    return str(path)


@pytest.mark.parametrize("board", list(BOARDS))
def test_flash_run_profile(board, x_npy, tmp_path, capsys):
    _need(board)
    emulated = board != "host"
    assert main(["flash", "--board", board, MODEL]) == 0
    cap = capsys.readouterr()
    assert "flashed" in cap.out and "100%" in cap.err
    if emulated:
        assert not _alive(_pid_in(cap.out)), "the emulator outlived pyedge flash"

    assert main(["run", "--board", board, MODEL, "--input", x_npy]) == 0
    out = capsys.readouterr().out
    assert "equals the host" in out and "bit-exact with the host" in out

    js, html = tmp_path / "p.json", tmp_path / "p.html"
    assert main(["profile", "--board", board, MODEL, "--runs", "2", "--input", x_npy,
                 "--json", str(js), "--html", str(html), "-q"]) == 0
    out = capsys.readouterr().out
    r = json.loads(js.read_text())
    assert r["bit_exact"] and r["device_board"] == board and r["runs"] == 2
    assert len(r["layers"]) == 4 and all(x["counts"] > 0 for x in r["layers"]), r["layers"]
    assert r["totals"]["arena_high_water_bytes"] > 0
    want = BOARDS[board]
    if want:
        kernels = {x["op"]: x["kernel"] for x in r["layers"]}
        # the one-input-channel depthwise conv runs the tap-pair kernel of the board's best path
        assert kernels["DEPTHWISE_CONV_2D"] == "dwdm_row" + want and kernels["FULLY_CONNECTED"].endswith(want), kernels
    text = html.read_text()
    assert "<svg" in text and "<table" in text and "bit-exact with the host" in text
    if emulated:
        assert r["counter"] == "ns" and "not a cycle count" in r["counter_note"]
        assert "not a cycle count" in out and "not a cycle count" in text
        assert not _alive(_pid_in(r["port"]))


def test_emulated_board_api_and_no_orphan_on_error():
    _need("qemu-rpi4")
    dev = connect("qemu-rpi4")
    pid = _pid_in(dev.port)
    try:
        info = dev.hello()
        assert info.board == "qemu-rpi4" and info.blob_cap == load_board("qemu-rpi4").connect["blob_bytes"]
        with pytest.raises(PyedgeError, match="not a pyedge blob"):
            dev.upload(b"not a blob" * 20)
        assert _alive(pid)
    finally:
        dev.close()
    assert not _alive(pid)
    # an error inside the `with` stops the emulator too
    with pytest.raises(PyedgeError, match="no model is loaded"):
        with connect("qemu-rpi4") as dev:
            pid = _pid_in(dev.port)
            dev.invoke()
    assert not _alive(pid)


def _emulators_of(pid: int) -> list[int]:
    """Child processes of `pid` that run qemu (not the cross build's cmake)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().split(")")[-1].split()[1])
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    argv0 = f.read().split(b"\0")[0]
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue
            if ppid == pid and os.path.basename(argv0).startswith(b"qemu-"):
                out.append(int(d))
    return out


def _cli_with_emulator(args: list[str]) -> tuple[subprocess.Popen, int]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.Popen([sys.executable, "-m", "pyedge", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env, cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        kids = [k for k in _emulators_of(p.pid) if _alive(k)]
        if kids:
            time.sleep(0.5)  # inside the flash or the runs
            return p, kids[0]
        assert p.poll() is None, p.communicate()
        time.sleep(0.05)
    p.kill()
    raise AssertionError("the emulator did not start")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_no_orphan_emulator_after_ctrl_c_or_kill(sig):
    """Ctrl-C (SIGINT) closes the device and the emulator on the way out; after a SIGKILL of the
    tool, the emulator dies with it (PR_SET_PDEATHSIG)."""
    _need("qemu-rpi4")
    p, kid = _cli_with_emulator(["profile", "--board", "qemu-rpi4", str(model_path("tflm_person_detect")),
                                 "--runs", "1000000", "-q"])
    os.kill(p.pid, sig)
    _, err = p.communicate(timeout=30)
    deadline = time.monotonic() + 5
    while _alive(kid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(kid):
        os.kill(kid, signal.SIGKILL)
        raise AssertionError("the emulator outlived the host tool")
    if sig == signal.SIGINT:
        assert p.returncode == 130 and "interrupted" in err and "Traceback" not in err, err


def test_rfc2217_port_in_front_of_the_emulated_agent(x_npy, tmp_path, capsys):
    """--port rfc2217://: a local RFC 2217 server (pyserial's PortManager) bridges to the agent
    under qemu-aarch64; the client's baud rate reaches the server through the protocol."""
    from rfc2217_server import Rfc2217Server

    from pyedge.host.qemu import QemuUserAgent

    _need("qemu-rpi4")
    with QemuUserAgent(load_board("qemu-rpi4")) as q:
        srv = Rfc2217Server(q.url)
        try:
            js = tmp_path / "p.json"
            assert main(["profile", "--board", "qemu-rpi4", "--port", srv.url, MODEL, "--runs", "2",
                         "--input", x_npy, "--json", str(js), "-q"]) == 0
            r = json.loads(js.read_text())
            assert r["port"] == srv.url and r["bit_exact"] and all(x["counts"] > 0 for x in r["layers"])
            assert srv.backend.baudrate == 115200
            assert main(["run", "--board", "qemu-rpi4", "--port", srv.url, MODEL, "--input", x_npy]) == 0
            assert "bit-exact with the host" in capsys.readouterr().out
        finally:
            srv.close()


@pytest.mark.parametrize("board", ["qemu-rpi4", "qemu-rpi5"])
def test_person_detection_on_the_emulated_pis(board):
    """A bigger real model: every CONV_2D runs the CPU model's GEMM kernel, bit-exact with the host."""
    from pyedge.host.tool import profile_model

    _need(board)
    r = profile_model(model_path("tflm_person_detect"), board, runs=1)
    assert r["bit_exact"] and r["device_board"] == board
    assert len(r["layers"]) > 20 and all(x["counts"] > 0 for x in r["layers"])
    convs = [x["kernel"] for x in r["layers"] if x["op"] == "CONV_2D"]
    assert convs and all(k.endswith(BOARDS[board]) for k in convs), convs


def test_missing_cross_tools_are_a_clear_error(tmp_path):
    """Without the cross compiler or QEMU on PATH, the tool says what to install (no traceback)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), PATH=str(tmp_path))
    p = subprocess.run([sys.executable, "-m", "pyedge", "flash", "--board", "qemu-rpi4", MODEL, "-q"],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert p.returncode == 2, p.stderr
    assert "cannot build pyedge-agent for aarch64: cmake not found (Debian: apt-get install" in p.stderr
    assert "qemu-user" in p.stderr and "Traceback" not in p.stderr
