"""The hosted agent program (pyedge-agent) as a subprocess on localhost, reached through pyserial's
socket:// URLs: bit-exact runs, a dropped link resumed, a device restart, faults on a real TCP
link and a link that goes silent."""
from __future__ import annotations

import socket
import subprocess
import threading
import time

import numpy as np
import pytest

from models import model_path
from pyedge import Interpreter
from pyedge.host import Device, DeviceError, FaultyTransport, LinkTimeout, SerialTransport
from pyedge.host.agent_build import build_agent
from pyedge.pack import pack_tflite


@pytest.fixture(scope="module")
def agent_exe():
    return build_agent()


class Agent:
    def __init__(self, exe, *args):
        self.p = subprocess.Popen([str(exe), "--listen", "0", *args], stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        assert line.startswith("listening on 127.0.0.1:"), line
        self.url = "socket://127.0.0.1:" + line.rsplit(":", 1)[1].strip()

    def device(self, **kw) -> Device:
        return Device(SerialTransport(self.url), **kw)

    def stop(self):
        self.p.kill()
        self.p.wait()


@pytest.fixture
def agent(agent_exe):
    a = Agent(agent_exe, "--board", "host-tcp", "--max-payload", "8192")
    yield a
    a.stop()


@pytest.fixture(scope="module")
def case():
    blob = pack_tflite(model_path("tflm_micro_speech_quantized").read_bytes())
    it = Interpreter(model_content=blob)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    x = np.random.default_rng(2).integers(-128, 128, d["shape"], dtype=np.int8)
    it.set_tensor(d["index"], x)
    it.invoke()
    return blob, x, it.get_tensor(it.get_output_details()[0]["index"])


def check_run(dev, x, ref):
    dev.set_input(0, x.tobytes())
    dev.invoke()
    assert dev.get_output(0, ref.nbytes) == ref.tobytes()


def test_tcp_agent_runs_bit_exact(agent, case):
    blob, x, ref = case
    with agent.device() as dev:
        info = dev.hello()
        assert info.board == "host-tcp" and info.max_payload == 8192
        dev.upload(blob)
        dev.load()
        check_run(dev, x, ref)
        assert all(o.ticks > 0 for o in dev.profile())


def test_dropped_link_resumes_upload(agent, case):
    blob, x, ref = case
    dev = agent.device()
    dev.hello()
    sent = []

    def cut(done, total):  # the connection drops a third of the way in
        sent.append(done)
        if done > total // 3:
            dev.close()

    with pytest.raises(Exception):
        dev.upload(blob, progress=cut, chunk=1024)
    with agent.device() as dev2:
        up = dev2.upload(blob)
        assert 0 < up.resumed_from <= sent[-1]
        dev2.load()
        check_run(dev2, x, ref)


def test_restarted_device_reports_no_model_and_reflashes(agent_exe, case):
    blob, x, ref = case
    a = Agent(agent_exe)
    try:
        with a.device() as dev:
            dev.upload(blob)
            dev.load()
            check_run(dev, x, ref)
        port = a.url.rsplit(":", 1)[1]
        a.stop()  # the device resets: memory is gone
        a.p = subprocess.Popen([str(agent_exe), "--listen", port], stdout=subprocess.PIPE, text=True)
        assert a.p.stdout.readline().startswith("listening")
        with a.device() as dev:
            with pytest.raises(DeviceError, match="no model is loaded"):
                dev.invoke()
            dev.upload(blob)
            dev.load()
            check_run(dev, x, ref)
    finally:
        a.stop()


def test_faults_on_tcp_are_retried(agent, case):
    blob, x, ref = case
    ft = FaultyTransport(SerialTransport(agent.url), seed=3, corrupt=0.1, drop=0.05, duplicate=0.1)
    dev = Device(ft, timeout=0.3, retries=20, slow_timeout=1.0)
    dev.upload(blob, chunk=2048)
    dev.load()
    check_run(dev, x, ref)
    assert sum(ft.injected.values()) > 0
    assert dev.stats().invokes == 1


def test_blob_too_large_for_the_device(agent_exe, case):
    blob = case[0]
    a = Agent(agent_exe, "--blob-bytes", "4096")
    try:
        with a.device() as dev:
            with pytest.raises(Exception, match="does not fit the device's 4,096 bytes"):
                dev.upload(blob)
    finally:
        a.stop()


def test_silent_link_times_out_naming_the_port():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    conns = []
    threading.Thread(target=lambda: conns.append(srv.accept()), daemon=True).start()
    url = f"socket://127.0.0.1:{srv.getsockname()[1]}"
    dev = Device(SerialTransport(url), timeout=0.2, retries=2)
    t0 = time.monotonic()
    with pytest.raises(LinkTimeout, match=f"no answer from {url} to HELLO after 3 tries"):
        dev.hello()
    assert time.monotonic() - t0 < 2.0
    dev.close()
    srv.close()
