"""`pyedge boards`, `flash`, `run --board` and `profile` on the in-process agent (board host) and on
a pyedge-agent subprocess over socket://."""
from __future__ import annotations

import json
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest

from models import model_path
from pyedge import Interpreter
from pyedge.boards import load_board
from pyedge.cli import main
from pyedge.host.agent_build import build_agent
from pyedge.host.tool import connect, model_blob

MODEL = str(model_path("tflm_micro_speech_quantized"))


def test_boards_lists_every_board_file(capsys):
    assert main(["boards", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    names = {b["name"] for b in r["boards"]}
    assert {"host", "rpi4", "mps2-an386", "stm32f746-disco"} <= names
    assert isinstance(r["ports"], list)
    assert main(["boards"]) == 0
    out = capsys.readouterr().out
    assert "host" in out and "loopback" in out and "usb 0483:374b" in out and "attached serial ports" in out


def test_host_board_file():
    b = load_board("host")
    assert b.kind == "host" and b.connect["method"] == "loopback"


def test_flash_shows_progress(capsys):
    assert main(["flash", "--board", "host", MODEL]) == 0
    cap = capsys.readouterr()
    assert "flashed" in cap.out and "loaded:" in cap.out
    assert "100%" in cap.err and "B/s" in cap.err and "s left" in cap.err


def test_run_on_board_matches_host(tmp_path, capsys):
    blob = model_blob(MODEL, "host")
    d = Interpreter(model_content=blob).get_input_details()[0]
    x = np.random.default_rng(5).integers(-128, 128, d["shape"], dtype=np.int8)
    np.save(tmp_path / "x.npy", x)
    assert main(["run", "--board", "host", MODEL, "--input", str(tmp_path / "x.npy")]) == 0
    out = capsys.readouterr().out
    assert "equals the host" in out and "bit-exact with the host" in out
    assert "load+pack" not in out
    np.save(tmp_path / "bad.npy", x.astype(np.float32))
    assert main(["run", "--board", "host", MODEL, "--input", str(tmp_path / "bad.npy")]) == 2
    assert "must be int8" in capsys.readouterr().err


def test_run_port_without_board_is_an_error(capsys):
    assert main(["run", "--port", "socket://127.0.0.1:1", MODEL]) == 2
    assert "--port needs --board" in capsys.readouterr().err


class _Html(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: dict[str, int] = {}
        self.stack: list[str] = []
        self.text = []

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag not in ("meta", "br", "rect"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in ("rect",):
            return
        assert self.stack and self.stack[-1] == tag, (self.stack[-3:], tag)
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def test_profile_reports(tmp_path, capsys):
    j, h = tmp_path / "p.json", tmp_path / "p.html"
    assert main(["profile", "--board", "host", MODEL, "--runs", "3", "--json", str(j), "--html", str(h), "-q"]) == 0
    out = capsys.readouterr().out
    assert "bit-exact with the host" in out and "latency:" in out and "high-water" in out
    r = json.loads(j.read_text())
    blob = model_blob(MODEL, "host")
    n_ops = len(Interpreter(model_content=blob).op_variants())
    assert len(r["layers"]) == n_ops and all(x["counts"] > 0 for x in r["layers"])
    assert abs(sum(x["share"] for x in r["layers"]) - 1) < 1e-9
    assert r["bit_exact"] and r["counter"] == "ns" and r["runs"] == 3
    t = r["totals"]
    assert 0 < t["arena_high_water_bytes"] <= t["arena_bytes"] and t["blob_bytes"] == len(blob)
    mac_ops = [x for x in r["layers"] if x["op"] in ("DEPTHWISE_CONV_2D", "FULLY_CONNECTED")]
    assert mac_ops and all(x["macs"] > 0 and x["macs_per_count"] > 0 for x in mac_ops)
    p = _Html()
    p.feed(h.read_text())
    p.close()
    assert p.tags["svg"] == 1 and p.tags["rect"] == n_ops and p.tags["tr"] == n_ops + 1
    assert "bit-exact with the host" in "".join(p.text)
    assert main(["profile", "--board", "host", MODEL, "--runs", "0"]) == 2
    assert "--runs must be at least 1" in capsys.readouterr().err


def test_profile_over_tcp_agent(tmp_path, capsys):
    exe = build_agent()
    a = subprocess.Popen([str(exe), "--listen", "0", "--board", "rpi4"], stdout=subprocess.PIPE, text=True)
    try:
        url = "socket://127.0.0.1:" + a.stdout.readline().rsplit(":", 1)[1].strip()
        assert main(["profile", "--board", "rpi4", "--port", url, MODEL, "--runs", "2", "-q",
                     "--json", str(tmp_path / "p.json")]) == 0
        r = json.loads((tmp_path / "p.json").read_text())
        assert r["port"] == url and r["device_board"] == "rpi4" and r["bit_exact"]
        with connect("rpi4", url) as dev:  # the agent keeps the model between connections
            assert dev.stats().blob_bytes == r["totals"]["blob_bytes"]
    finally:
        a.kill()
        a.wait()


def test_unreachable_board_is_a_clear_error(capsys):
    assert main(["flash", "--board", "mps2-an386", MODEL]) == 2
    assert "QEMU" in capsys.readouterr().err
    assert main(["flash", "--board", "host", "--port", "socket://127.0.0.1:1", MODEL]) == 2
    assert "cannot open socket://127.0.0.1:1" in capsys.readouterr().err
