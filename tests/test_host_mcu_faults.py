"""Faults on the link to the Cortex-M firmware agent under qemu-system-arm (qemu-mps2-an386): a
TCP proxy (tests/linkproxy.py) between pyserial's socket:// and QEMU's UART socket drops, flips
and duplicates bytes or goes silent; QEMU is killed mid-upload and started again (the firmware
keeps blobs in RAM only: the tool says the previous model is gone); a blob too large for the
board and a wrong protocol version get clear errors. Each ends in a retry that succeeds or a
clear error naming the port within a bounded time, and a re-flash afterwards works."""
from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest

from linkproxy import LinkProxy
from models import model_path
from pyedge._native import lib
from pyedge.boards import load_board
from pyedge.cli import main
from pyedge.host import Device, DeviceError, LinkError, LinkTimeout, SerialTransport
from pyedge.host.agent_build import build_firmware, firmware_missing
from pyedge.host.qemu import QemuSystemAgent
from pyedge.host.tool import _inputs, flash, host_outputs, model_blob

BOARD = "qemu-mps2-an386"


@pytest.fixture(scope="module", autouse=True)
def _firmware():
    why = firmware_missing()
    if why:
        pytest.skip(f"Cortex-M link fault tests skipped: {why}")
    build_firmware(BOARD)


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
def keyword():
    return Case("tflm_keyword_scrambled")  # a second small model: uploads through QEMU's UART are slow


@pytest.fixture(scope="module")
def person():
    return Case("tflm_person_detect")


class Rig:
    """The firmware under QEMU with the proxy in front of its UART socket."""

    def __init__(self):
        self.start()

    def start(self) -> None:
        self.q = QemuSystemAgent(load_board(BOARD))
        host, port = self.q.url[len("socket://"):].rsplit(":", 1)
        self.proxy = LinkProxy((host, int(port)))

    def device(self, **kw) -> Device:
        # the board file's link rate: each try also waits for its request's bytes to arrive
        kw = {"timeout": 1.0, "retries": 6, "slow_timeout": 30.0,
              "link_bytes_per_s": load_board(BOARD).connect["link_bytes_per_s"], **kw}
        return Device(SerialTransport(self.proxy.url, connect_timeout=10.0), **kw)

    def close(self) -> None:
        self.proxy.close()
        self.q.close()


@pytest.fixture
def rig():
    r = Rig()
    yield r
    r.close()


@pytest.mark.parametrize("fault", ["drop", "flip", "duplicate"])
def test_damaged_bytes_are_retried(rig, micro, fault):
    rig.proxy.faults(**{fault: 4e-5})
    with rig.device(retries=12) as dev:
        dev.hello()
        up = dev.upload(micro.blob, chunk=1024)
        dev.load()
        micro.check(dev)
        assert up.retransmits + dev.link.retransmits > 0
        rig.proxy.faults()
        assert dev.stats().invokes == 1  # a retried INVOKE ran once
    assert rig.proxy.injected[fault] > 0, rig.proxy.injected


def test_silent_link_times_out_naming_the_port_then_reflash(rig, micro):
    dev = rig.device(retries=3, timeout=0.5)
    dev.hello()
    silent = []

    def go_silent(done, total):
        if done > total // 3 and not silent:
            rig.proxy.faults(silent=True)
            silent.append(time.monotonic())

    with pytest.raises(LinkTimeout, match=f"no answer from {rig.proxy.url} to UPLOAD_CHUNK after 4 tries"):
        dev.upload(micro.blob, progress=go_silent, chunk=1024)
    # (retries + 1) x (timeout + 1 KiB at the board's link rate + quiet gap) = 13 s
    assert time.monotonic() - silent[0] < 20.0
    dev.close()
    rig.proxy.faults()
    with rig.device() as dev:
        r = flash(dev, micro.blob)
        assert r["resumed_from"] > 0
        micro.check(dev)


def test_dropped_upload_keeps_the_previous_model(rig, micro, keyword):
    """The connection resets mid-upload: the model loaded before still runs (the board has room
    for both blobs), and the re-flash resumes where the device stopped."""
    with rig.device() as dev:
        flash(dev, micro.blob)
    rig.proxy.faults(reset_after=len(keyword.blob) // 3)
    with rig.device() as dev:
        with pytest.raises(LinkError, match=rig.proxy.url) as e:
            flash(dev, keyword.blob, reconnects=0)
        assert not isinstance(e.value, LinkTimeout)
        assert "upload stopped at" in str(e.value)
        assert ("the previously loaded model stays loaded and runnable (until the device resets: it keeps "
                "models in RAM only)") in str(e.value)
    with rig.device() as dev:
        info = dev.hello()
        assert info.model_loaded and dev.stats().blob_bytes == len(micro.blob)
        micro.check(dev)
        r = flash(dev, keyword.blob)
        assert r["resumed_from"] > 0 and r["previous_kept"]
        keyword.check(dev)


def test_qemu_killed_mid_upload_then_restarted(rig, micro, keyword):
    with rig.device() as dev:
        flash(dev, micro.blob)
        micro.check(dev)
    dev = rig.device()

    killed = []

    def kill(done, total):
        if done > total // 3 and rig.q.proc.poll() is None:
            rig.q.proc.kill()
            killed.append(time.monotonic())

    with pytest.raises(LinkError, match=rig.proxy.url):
        flash(dev, keyword.blob, progress=kill, reconnects=0)
    assert time.monotonic() - killed[0] < 5.0  # a closed socket, seen at once
    dev.close()
    rig.close()
    rig.start()  # a fresh QEMU: the firmware's RAM is empty
    with rig.device() as dev:
        info = dev.hello()
        assert info.ram_only and not info.model_loaded
        with pytest.raises(DeviceError, match="no model is loaded on the device .*keeps models in RAM only: "
                                              "a reset or restart of the device clears them") as e:
            dev.invoke()
        assert e.value.status == "ERR_NO_MODEL"
        r = flash(dev, micro.blob)
        assert r["resumed_from"] == 0
        micro.check(dev)


def test_device_reset_while_the_link_is_down_is_reported(rig, micro, keyword):
    """The device resets (RESET) and the link drops in the middle of an upload: flash reconnects,
    sees in HELLO that the model it had is gone, starts the upload again and says so."""
    with rig.device() as dev:
        flash(dev, micro.blob)
        done = []

        def reset_and_cut(received, total):
            if received > total // 3 and not done:
                done.append(received)
                dev.link.request(lib.PE_CMD_RESET)
                dev.transport.port.close()

        r = flash(dev, keyword.blob, progress=reset_and_cut)
        assert done and r["reconnects"] == 1 and r["previous_lost"] and r["resumed_from"] == 0
        keyword.check(dev)


def test_blob_too_large_for_the_board(tmp_path, person, capsys):
    """The board file's blob memory is checked before QEMU starts; the firmware checks again
    against its own blob memory (a request the host would not send)."""
    text = (load_board(BOARD).path.read_text().replace(f'name = "{BOARD}"', f'name = "{BOARD}-small"')
            .replace("blob_bytes = 2097152", "blob_bytes = 65536"))
    board = tmp_path / f"{BOARD}-small.toml"
    board.write_text(text)
    peb = tmp_path / "person.peb"
    peb.write_bytes(person.blob)
    t0 = time.monotonic()
    assert main(["flash", "--board", str(board), str(peb), "-q"]) == 2
    err = capsys.readouterr().err
    assert f"blob of {len(person.blob):,} bytes does not fit the device's 65,536 bytes of blob memory" in err
    assert "nothing was sent" in err and time.monotonic() - t0 < 10.0
    r = Rig()
    try:
        with r.device() as dev:
            cap = dev.hello().blob_cap
            (checksum,) = struct.unpack_from("<I", person.blob, 16)
            with pytest.raises(DeviceError, match="does not fit") as e:
                dev.link.request(lib.PE_CMD_UPLOAD_BEGIN, struct.pack("<II", cap + 16, checksum))
            assert e.value.status == "ERR_TOO_LARGE" and e.value.details == (cap + 16, cap)
    finally:
        r.close()


def test_wrong_protocol_version(rig, micro):
    with rig.device() as dev:
        with pytest.raises(DeviceError, match="device speaks wire protocol 1.0, this host 2.0") as e:
            dev.hello(version=0x0200)
        assert e.value.status == "ERR_VERSION" and e.value.details[1] == 0x0200
        assert dev.hello().version >> 8 == 1  # the right version is then accepted
        flash(dev, micro.blob)
        micro.check(dev)
