"""Faults on a real link: a TCP proxy (tests/linkproxy.py) between pyserial's socket:// and the
Arm Linux pyedge-agent under qemu-aarch64 (board qemu-rpi4) drops, flips and duplicates bytes,
goes silent and resets the connection mid-upload. Each ends in a retry that succeeds or in a
clear error naming the port within a bounded time, and a re-flash afterwards works; a failed
upload leaves the previous model runnable, or the device says it does not. Blobs too large for a
board's memory (its board file) and a wrong protocol version get clear errors."""
from __future__ import annotations

import struct
import time
from pathlib import Path

import numpy as np
import pytest

from linkproxy import LinkProxy
from models import model_path
from pyedge.boards import load_board
from pyedge.cli import main
from pyedge.host import Device, DeviceError, LinkError, LinkTimeout, SerialTransport
from pyedge.host.qemu import QemuUserAgent, cross_agent, missing_tools
from pyedge.host.tool import _inputs, flash, host_outputs, model_blob

from pyedge._native import lib

BOARD = "qemu-rpi4"


@pytest.fixture(scope="module", autouse=True)
def _tools():
    why = missing_tools("aarch64")
    if why:
        pytest.skip(f"link fault tests under QEMU skipped: {why} (tools/test.sh installs it)")
    cross_agent("aarch64")


class Case:
    def __init__(self, name: str):
        self.blob = model_blob(model_path(name), BOARD)
        self.xs, _ = _inputs(self.blob, None, 3)
        self.ref = host_outputs(self.blob, self.xs)

    def check(self, dev: Device) -> None:
        for k, x in enumerate(self.xs):
            dev.set_input(k, x.tobytes())
        dev.invoke()
        for k, (_, r) in enumerate(self.ref):
            assert dev.get_output(k, r.nbytes) == r.tobytes()


@pytest.fixture(scope="module")
def micro():
    return Case("tflm_micro_speech_quantized")


@pytest.fixture(scope="module")
def person():
    return Case("tflm_person_detect")


def _small_board(tmp_path: Path, blob_bytes: int) -> Path:
    """qemu-rpi4 with less blob memory: a board file of its own."""
    text = (load_board(BOARD).path.read_text().replace('name = "qemu-rpi4"', 'name = "qemu-rpi4-small"')
            .replace("blob_bytes = 67108864", f"blob_bytes = {blob_bytes}")
            .replace("flash_bytes = 67108864", f"flash_bytes = {blob_bytes}"))
    assert f"blob_bytes = {blob_bytes}" in text
    path = tmp_path / "qemu-rpi4-small.toml"
    path.write_text(text)
    return path


class Rig:
    """The emulated agent with the proxy in front of it."""

    def __init__(self, board=BOARD, seed: int = 0):
        self.q = QemuUserAgent(load_board(board))
        host, port = self.q.url[len("socket://"):].rsplit(":", 1)
        self.proxy = LinkProxy((host, int(port)), seed=seed)

    def device(self, **kw) -> Device:
        kw = {"timeout": 0.3, "retries": 6, "slow_timeout": 10.0, **kw}
        return Device(SerialTransport(self.proxy.url), **kw)

    def close(self) -> None:
        self.proxy.close()
        self.q.close()


@pytest.fixture
def rig():
    r = Rig()
    yield r
    r.close()


@pytest.mark.parametrize("fault", ["drop", "flip", "duplicate", "all"])
def test_damaged_bytes_are_retried(rig, micro, fault):
    rates = {"drop": 1e-4, "flip": 2e-4, "duplicate": 2e-4}
    rig.proxy.faults(**({k: v / 2 for k, v in rates.items()} if fault == "all" else {fault: rates[fault]}))
    with rig.device(retries=12, timeout=0.2) as dev:
        dev.hello()
        up = dev.upload(micro.blob, chunk=1024)
        dev.load()
        micro.check(dev)
        assert up.retransmits + dev.link.retransmits > 0
        rig.proxy.faults()
        assert dev.stats().invokes == 1  # a retried INVOKE ran once
    kinds = ("drop", "flip", "duplicate") if fault == "all" else (fault,)
    assert all(rig.proxy.injected[k] > 0 for k in kinds), rig.proxy.injected


def test_silent_link_times_out_naming_the_port_then_reflash(rig, micro):
    dev = rig.device(retries=3)
    dev.hello()

    def go_silent(done, total):
        if done > total // 3:
            rig.proxy.faults(silent=True)

    t0 = time.monotonic()
    with pytest.raises(LinkTimeout, match=f"no answer from {rig.proxy.url} to UPLOAD_CHUNK after 4 tries"):
        dev.upload(micro.blob, progress=go_silent, chunk=1024)
    assert time.monotonic() - t0 < 6.0  # (retries + 1) x (timeout + quiet gap) = 1.8 s, with room for a loaded machine
    dev.close()
    rig.proxy.faults()
    with rig.device() as dev:
        r = flash(dev, micro.blob)
        assert r["resumed_from"] > 0
        micro.check(dev)


def test_reset_mid_upload_reconnects_and_resumes(rig, person):
    rig.proxy.faults(reset_after=len(person.blob) // 2)
    with rig.device() as dev:
        r = flash(dev, person.blob)
        assert rig.proxy.injected["reset"] == 1
        assert r["reconnects"] == 1 and 0 < r["resumed_from"] <= len(person.blob) // 2
        person.check(dev)


def test_reset_without_reconnect_is_a_clear_error_and_keeps_the_previous_model(rig, micro, person):
    with rig.device() as dev:
        flash(dev, micro.blob)
        micro.check(dev)
    rig.proxy.faults(reset_after=len(person.blob) // 3)
    t0 = time.monotonic()
    with rig.device() as dev:
        with pytest.raises(LinkError, match=rig.proxy.url) as e:
            flash(dev, person.blob, reconnects=0)
        assert not isinstance(e.value, LinkTimeout)
    assert time.monotonic() - t0 < 5.0  # a reset is seen at once, not after the timeouts
    with rig.device() as dev:  # the device still runs the model it had
        dev.hello()
        assert dev.stats().blob_bytes == len(micro.blob)
        micro.check(dev)
        flash(dev, person.blob)  # and the re-flash resumes and works
        person.check(dev)


def test_failed_upload_without_room_says_the_previous_model_is_gone(tmp_path, micro, person):
    # room for the big blob alone, not for both: the upload drops the loaded model and says so
    r = Rig(_small_board(tmp_path, len(person.blob) + 4096))
    try:
        with r.device() as dev:
            flash(dev, micro.blob)
            micro.check(dev)
            seen = []
            dev2 = dev

            def cut(done, total):
                seen.append(done)
                if done > total // 2:
                    dev2.transport.port.close()

            with pytest.raises(Exception):
                dev.upload(person.blob, progress=cut, chunk=4096)
        with r.device() as dev:
            dev.hello()
            with pytest.raises(DeviceError, match="no model is loaded") as e:
                dev.invoke()
            assert e.value.status == "ERR_NO_MODEL"
            fl = flash(dev, person.blob)
            assert fl["previous_dropped"] is False and fl["resumed_from"] > 0
            person.check(dev)
    finally:
        r.close()


def test_blob_too_large_for_the_board(tmp_path, person, capsys):
    board = _small_board(tmp_path, 65536)
    peb = tmp_path / "person.peb"
    peb.write_bytes(person.blob)
    assert main(["flash", "--board", str(board), str(peb), "-q"]) == 2
    err = capsys.readouterr().err
    assert f"blob of {len(person.blob):,} bytes does not fit the device's 65,536 bytes of blob memory" in err
    # the device's own check, for a host that does not look first
    r = Rig(board)
    try:
        with r.device() as dev:
            dev.hello()
            (checksum,) = struct.unpack_from("<I", person.blob, 16)
            with pytest.raises(DeviceError, match="does not fit") as e:
                dev.link.request(lib.PE_CMD_UPLOAD_BEGIN, struct.pack("<II", len(person.blob), checksum))
            assert e.value.status == "ERR_TOO_LARGE" and e.value.details == (len(person.blob), 65536)
    finally:
        r.close()


def test_wrong_protocol_version(rig):
    with rig.device() as dev:
        with pytest.raises(DeviceError, match="device speaks wire protocol 1.0, this host 2.0") as e:
            dev.hello(version=0x0200)
        assert e.value.status == "ERR_VERSION" and e.value.details[1] == 0x0200
        assert dev.hello().version >> 8 == 1  # the right version is then accepted
