"""The Cortex-M firmware agent (boards/platform/agent_fw.c: native/agent on the bare-metal
platform) under qemu-system-arm, started and stopped by the host tool:

  qemu-mps2-an386   Cortex-M4F, DSP kernels
  qemu-mps3-an547   Cortex-M55, Helium (MVE) kernels

`pyedge flash|run|profile --board qemu-mps2-an386 MODEL` builds the firmware once (cached under
build/firmware/<board>/), starts QEMU with its UART on a TCP socket, flashes over pyserial's
socket://, and checks the device's outputs against the host's bit for bit. Counts are labelled
instructions (SysTick under -icount shift=0), every op has one, and the per-op total agrees with
the bare-metal model runner's (boards/platform/runner.py) for the same blob and inputs within a
bound explained below. tools/test.sh installs the compiler and QEMU; without them these tests
skip, saying why.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from models import model_path
from pyedge.boards import load_board
from pyedge.cli import main
from pyedge.host import DeviceError
from pyedge.host.agent_build import build_firmware, firmware_elf, firmware_missing
from pyedge.host.tool import _inputs, connect, model_blob, profile_model

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "boards" / "platform"))
import runner  # noqa: E402

MICRO = str(model_path("tflm_micro_speech_quantized"))
PERSON = str(model_path("tflm_person_detect"))
# board -> (PE_FEAT_* names HELLO must report, the suffix of its GEMM kernel variant)
BOARDS = {"qemu-mps2-an386": ({"dsp"}, "__dsp"), "qemu-mps3-an547": ({"dsp", "mve"}, "__mve")}
FEATURE_BITS = {"dsp": 1 << 16, "mve": 1 << 17}


@pytest.fixture(scope="module", autouse=True)
def firmware():
    why = firmware_missing()
    if why:
        pytest.skip(f"Cortex-M firmware agent tests skipped: {why}")
    if subprocess.run(["which", "qemu-system-arm"], capture_output=True).returncode != 0:
        pytest.skip("Cortex-M firmware agent tests skipped: qemu-system-arm not found (tools/test.sh installs it)")
    return {b: build_firmware(b) for b in BOARDS}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _pid_in(text: str) -> int:
    import re

    m = re.search(r"pid (\d+)\)", text)
    assert m, text
    return int(m.group(1))


def test_firmware_is_cached(firmware):
    """A second build with nothing changed reuses the ELF (no compile, no link)."""
    for b, elf in firmware.items():
        assert elf == firmware_elf(load_board(b)) and elf.is_file()
        before = elf.stat().st_mtime_ns
        assert build_firmware(b) == elf and elf.stat().st_mtime_ns == before


def test_firmware_is_rebuilt_when_its_board_file_changes(tmp_path):
    """Memory sizes come from the board file: a new arena_bytes rebuilds the firmware (its .bss
    grows by the difference); a board file that is only newer relinks it; nothing changed, no build."""
    from pyedge.host.agent_build import elf_sizes

    src = load_board("qemu-mps2-an386").path.read_text()
    path = tmp_path / "qemu-mps2-an386.toml"
    path.write_text(src)
    out = tmp_path / "fw"
    elf = build_firmware(load_board(path), out)
    bss, t0 = elf_sizes(elf)["bss"], elf.stat().st_mtime_ns
    assert build_firmware(load_board(path), out).stat().st_mtime_ns == t0
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert build_firmware(load_board(path), out).stat().st_mtime_ns > t0
    path.write_text(src.replace("arena_bytes = 1048576", "arena_bytes = 1114112"))
    os.utime(path, (time.time() + 10, time.time() + 10))
    assert elf_sizes(build_firmware(load_board(path), out))["bss"] == bss + 65536


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_handshake_reports_the_board(board):
    b = load_board(board)
    with connect(board) as dev:
        pid = _pid_in(dev.port)
        info = dev.hello()
        assert info.board == board and info.counter == "instructions" and info.clock_hz == 10**9
        assert info.blob_cap == b.connect["blob_bytes"] and info.arena_cap == b.connect["arena_bytes"]
        assert info.max_payload == b.connect["max_payload"]
        feats = {n for n, bit in FEATURE_BITS.items() if info.features & bit}
        assert feats == BOARDS[board][0]
        assert info.ram_only and not info.model_loaded
    assert not _alive(pid), "QEMU outlived the device"
    # an error inside the `with` stops QEMU too
    with pytest.raises(DeviceError, match="no model is loaded on the device .*keeps models in RAM only"):
        with connect(board) as dev:
            pid = _pid_in(dev.port)
            dev.invoke()
    assert not _alive(pid), "QEMU outlived an error"


@pytest.fixture(scope="module")
def x_npy(tmp_path_factory):
    blob = model_blob(MICRO, "qemu-mps2-an386")
    xs, _ = _inputs(blob, None, 5)
    path = tmp_path_factory.mktemp("mcu") / "x.npy"
    np.save(path, xs[0])
    return str(path)


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_flash_run_profile_cli(board, x_npy, tmp_path, capsys):
    assert main(["flash", "--board", board, MICRO]) == 0
    cap = capsys.readouterr()
    assert "flashed" in cap.out and "100%" in cap.err
    assert not _alive(_pid_in(cap.out)), "QEMU outlived pyedge flash"

    assert main(["run", "--board", board, MICRO, "--input", x_npy]) == 0
    out = capsys.readouterr().out
    assert "equals the host" in out and "bit-exact with the host" in out and " instructions" in out

    js, html = tmp_path / "p.json", tmp_path / "p.html"
    assert main(["profile", "--board", board, MICRO, "--runs", "2", "--input", x_npy,
                 "--json", str(js), "--html", str(html), "-q"]) == 0
    out = capsys.readouterr().out
    r = json.loads(js.read_text())
    assert r["bit_exact"] and r["device_board"] == board and r["runs"] == 2 and r["counter"] == "instructions"
    assert r["flash"]["retransmits"] == 0  # no byte lost at the UART on a clean link (one lost costs a retry)
    assert len(r["layers"]) == 4 and all(x["counts"] > 0 for x in r["layers"]), r["layers"]
    assert r["layers"][2]["kernel"].endswith(BOARDS[board][1]), r["layers"]  # FULLY_CONNECTED
    assert 0 < r["totals"]["arena_high_water_bytes"] <= r["totals"]["arena_bytes"]
    assert "not cycles" in r["counter_note"] and "not cycles" in out
    text = html.read_text()
    assert "<svg" in text and "instructions per layer" in text and "bit-exact with the host" in text
    assert not _alive(_pid_in(r["port"]))


def _runner_counts(board: str, blob: bytes, xs: list[np.ndarray], name: str) -> list[float]:
    """Per-op instructions of the same blob and inputs in the bare-metal model runner."""
    machine = load_board(board).connect["machine"]
    elf, warns = runner.firmware(machine, blob, name)
    assert not warns, warns
    res = runner.run(machine, elf, b"".join(np.ascontiguousarray(x).tobytes() for x in xs))
    return [res.instructions(t) for _, _, t in res.ops]


@pytest.mark.parametrize("model", [MICRO, PERSON], ids=["micro_speech", "person_detect"])
@pytest.mark.parametrize("board", sorted(BOARDS))
def test_model_on_the_firmware_agrees_with_the_runner(board, model):
    """Outputs equal the host's; every op counted; the per-op counts agree with the runner's.
    The margin: each op's count holds the rest of one clock read, and the agent's clock hook
    converts SysTick ticks to instructions (a 64-bit multiply and divide) after its read, while
    the runner's returns the raw ticks; plus one SysTick tick (40 instructions on mps2-an386, 31.25
    on mps3-an547) of granularity at each end. 250 instructions per op covers both."""
    r = profile_model(model, board, runs=1, seed=2)
    assert r["bit_exact"] and r["device_board"] == board and r["flash"]["retransmits"] == 0
    counts = [x["counts"] for x in r["layers"]]
    assert all(c > 0 for c in counts), r["layers"]
    blob = model_blob(model, board)
    xs, _ = _inputs(blob, None, 2)
    ref = _runner_counts(board, blob, xs, Path(model).stem)
    assert len(ref) == len(counts)
    diffs = [a - b for a, b in zip(counts, ref)]
    assert all(-250 <= d <= 250 for d in diffs), diffs
    assert abs(sum(counts) - sum(ref)) <= 250 * len(ref)
    if model == PERSON:
        convs = [x["kernel"] for x in r["layers"] if x["op"] == "CONV_2D"]
        assert convs and all(k.endswith(BOARDS[board][1]) for k in convs), convs


def _emulators_of(pid: int) -> list[int]:
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
            if ppid == pid and os.path.basename(argv0) == b"qemu-system-arm":
                out.append(int(d))
    return out


def _flash_and_signal(sig: int, delay: float) -> tuple[subprocess.Popen, str]:
    """Start `pyedge flash` on QEMU, send `sig` `delay` s after QEMU appears; QEMU must not
    outlive the host tool."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.Popen([sys.executable, "-m", "pyedge", "flash", "--board", "qemu-mps2-an386", PERSON, "-q"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    kid = None
    deadline = time.monotonic() + 60
    while kid is None and time.monotonic() < deadline:
        kids = [k for k in _emulators_of(p.pid) if _alive(k)]
        if kids:
            kid = kids[0]
        else:
            assert p.poll() is None, p.communicate()
            time.sleep(0.05)
    assert kid is not None, "QEMU did not start"
    time.sleep(delay)  # inside the upload
    if p.poll() is None:
        os.kill(p.pid, sig)
    _, err = p.communicate(timeout=30)
    deadline = time.monotonic() + 5
    while _alive(kid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(kid):
        os.kill(kid, signal.SIGKILL)
        raise AssertionError("QEMU outlived the host tool")
    return p, err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_no_orphan_qemu_after_ctrl_c_or_kill(sig):
    # an attempt where the flash finished before the signal (exit 0) tested nothing: try again
    # with the signal sooner
    for delay in (0.2, 0.05, 0.0):
        p, err = _flash_and_signal(sig, delay)
        if p.returncode != 0:
            break
    assert p.returncode != 0, "the flash finished before every signal"
    if sig == signal.SIGINT:
        assert p.returncode == 130 and "interrupted" in err and "Traceback" not in err, err


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_build_firmware_standalone_with_only_the_models_kernels(board, firmware, tmp_path, capsys):
    """`pyedge build-firmware --board B MODEL -o DIR`: the model linked in as C with its op list;
    the ELF runs under QEMU by itself, its outputs equal the host's for the same (zero) inputs, and
    its code is a fraction of the agent's, which links every kernel."""
    import re

    from pyedge.host.agent_build import elf_sizes
    from pyedge.host.tool import host_outputs

    out = tmp_path / "fw"
    assert main(["build-firmware", "--board", board, MICRO, "-o", str(out)]) == 0
    text = capsys.readouterr().out
    elf = out / "pyedge-model.elf"
    assert elf.is_file() and (out / "model_data.h").is_file() and (out / "model_ops.h").is_file()
    m = re.search(r"\.text ([\d,]+) B \(code ([\d,]+), constants ([\d,]+)\)  \.data ([\d,]+) B  \.bss ([\d,]+) B", text)
    assert m, text
    sizes = elf_sizes(elf)
    assert int(m.group(2).replace(",", "")) == sizes["code"]
    assert sizes["code"] < elf_sizes(firmware[board])["code"] // 2
    assert "run it: qemu-system-arm" in text
    machine = load_board(board).connect["machine"]
    p = subprocess.run(runner.mcu.qemu_command(machine, elf, icount=True), capture_output=True, text=True,
                       timeout=120, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"pyedge firmware {board}: model" in p.stdout and "counts in instructions" in p.stdout
    blob = model_blob(MICRO, board)
    from pyedge import Interpreter

    d = Interpreter(model_content=blob).get_input_details()
    ref = host_outputs(blob, [np.zeros(x["shape"], x["dtype"]) for x in d])
    got = re.search(r"^out 0 ([0-9a-f]+)$", p.stdout, re.M).group(1)
    assert bytes.fromhex(got) == b"".join(r.tobytes() for _, r in ref)
    ops = re.findall(r"^op \d+ (\S+) (\S+) (\d+)$", p.stdout, re.M)
    assert len(ops) == 4 and all(int(c) > 0 for _, _, c in ops), ops


def test_build_firmware_agent_prints_its_sizes(firmware, capsys):
    assert main(["build-firmware", "--board", "qemu-mps2-an386"]) == 0
    out = capsys.readouterr().out
    assert "built the firmware agent for qemu-mps2-an386: build/firmware/qemu-mps2-an386/pyedge-agent.elf" in out
    assert ".text" in out and ".data" in out and ".bss" in out
    # blob (2 MiB) and arena (1 MiB) memory from the board file are reserved in RAM
    assert int(out.split(".bss ")[1].split(" B")[0].replace(",", "")) > 3 * 2**20
    assert main(["build-firmware", "--board", "host"]) == 2
    assert "is not a microcontroller" in capsys.readouterr().err


def test_rfc2217_port_in_front_of_the_firmware_uart(x_npy, tmp_path):
    """--port rfc2217://: a local RFC 2217 server (pyserial's PortManager) bridges to QEMU's UART
    socket; the firmware agent is reached through it like a networked serial port."""
    from rfc2217_server import Rfc2217Server

    from pyedge.host.qemu import QemuSystemAgent

    board = "qemu-mps3-an547"
    with QemuSystemAgent(load_board(board)) as q:
        srv = Rfc2217Server(q.url)
        try:
            js = tmp_path / "p.json"
            assert main(["profile", "--board", board, "--port", srv.url, MICRO, "--runs", "1",
                         "--input", x_npy, "--json", str(js), "-q"]) == 0
            r = json.loads(js.read_text())
            assert r["port"] == srv.url and r["bit_exact"] and r["counter"] == "instructions"
            assert all(x["counts"] > 0 for x in r["layers"])
            assert srv.backend.baudrate == 115200
        finally:
            srv.close()
