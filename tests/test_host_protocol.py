"""The wire protocol end to end: the Python host against the C agent over the in-process loopback,
clean and through a transport that damages the traffic."""
from __future__ import annotations

import struct
import time
import zlib

import numpy as np
import pytest

from models import model_path
from pyedge import Interpreter
from pyedge._native import lib
from pyedge.host import Device, DeviceError, FaultyTransport, LinkTimeout, LoopbackTransport
from pyedge.host.protocol import NAK, FrameReader, encode
from pyedge.pack import pack_tflite

MODEL = "tflm_micro_speech_quantized"


@pytest.fixture(scope="module")
def blob() -> bytes:
    return pack_tflite(model_path(MODEL).read_bytes())


@pytest.fixture(scope="module")
def reference(blob):
    it = Interpreter(model_content=blob)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    x = np.random.default_rng(1).integers(-128, 128, d["shape"], dtype=np.int8)
    it.set_tensor(d["index"], x)
    it.invoke()
    return x, it.get_tensor(it.get_output_details()[0]["index"])


def run_on(dev: Device, blob: bytes, x: np.ndarray, nbytes: int) -> bytes:
    dev.upload(blob)
    dev.load()
    dev.set_input(0, x.tobytes())
    dev.invoke()
    return dev.get_output(0, nbytes)


def test_frame_roundtrip_and_resync():
    f1, f2 = encode(7, 0x01, b"abc"), encode(8, 0x02, b"")
    r = FrameReader(max_payload=1024)  # after HELLO: the device's maximum
    got = r.feed(b"\x00PW\x13garbage" + f1[:5])
    assert got == []
    got = r.feed(f1[5:] + f2)
    assert [(g.seq, g.code, g.payload) for g in got] == [(7, 1, b"abc"), (8, 2, b"")]
    bad = bytearray(f1)
    bad[9] ^= 0x10
    before = r.bad
    assert r.feed(bytes(bad)) == [] and r.bad == before + 1
    assert zlib.crc32(f1[:-4]) == struct.unpack("<I", f1[-4:])[0]


def test_hello_reports_the_device(blob):
    dev = Device(LoopbackTransport(board="host", blob_bytes=1 << 20, arena_bytes=1 << 19, max_payload=4096))
    info = dev.hello()
    assert (info.board, info.blob_cap, info.arena_cap, info.max_payload) == ("host", 1 << 20, 1 << 19, 4096)
    assert info.version_str == "1.0" and info.counter == "ns" and info.clock_hz == 10**9
    assert info.features == lib.pe_detect_features()


def test_wrong_protocol_version_is_refused():
    dev = Device(LoopbackTransport())
    with pytest.raises(DeviceError, match=r"device speaks wire protocol 1\.0, this host 2\.0") as e:
        dev.hello(version=0x0200)
    assert e.value.status == "ERR_VERSION"


def test_run_bit_exact_and_profile(blob, reference):
    x, ref = reference
    t = LoopbackTransport()
    dev = Device(t)
    up = dev.upload(blob)
    assert up.bytes == len(blob) and up.resumed_from == 0 and not up.previous_dropped
    m = dev.load()
    assert m.blob_bytes == len(blob) and m.checksum == struct.unpack_from("<I", blob, 16)[0]
    dev.set_input(0, x.tobytes())
    runs, ticks = dev.invoke(runs=3)
    assert runs == 3 and ticks > 0
    assert dev.get_output(0, ref.nbytes) == ref.tobytes()
    ops = dev.profile()
    assert len(ops) == m.n_ops and all(o.ticks > 0 for o in ops)
    assert [o.variant for o in ops] == Interpreter(model_content=blob).op_variants()
    st = dev.stats()
    assert st.invokes == 3 and st.blob_bytes == len(blob)
    assert 0 < st.arena_high_water <= st.arena_bytes == m.arena_bytes


def test_errors_name_the_problem(blob):
    dev = Device(LoopbackTransport(blob_bytes=4096))
    with pytest.raises(DeviceError, match="no model is loaded"):
        dev.invoke()
    with pytest.raises(Exception, match=r"blob of [\d,]+ bytes does not fit the device's 4,096 bytes"):
        dev.upload(blob)
    # the device's own check, with the host's skipped
    with pytest.raises(DeviceError, match="does not fit") as e:
        dev.link.request(lib.PE_CMD_UPLOAD_BEGIN, struct.pack("<II", len(blob), 0))
    assert e.value.status == "ERR_TOO_LARGE"
    with pytest.raises(DeviceError, match="no upload in progress"):
        dev.link.request(lib.PE_CMD_UPLOAD_CHUNK, struct.pack("<I", 0) + b"x")
    with pytest.raises(DeviceError, match="does not know command 0x42"):
        dev.link.request(0x42)
    dev2 = Device(LoopbackTransport())
    dev2.upload(blob)
    dev2.load()
    with pytest.raises(DeviceError, match="out of range"):
        dev2.set_input(5, b"\0")
    with pytest.raises(DeviceError, match="out of range"):
        dev2.set_input(0, bytes(10**6))
    with pytest.raises(DeviceError, match="malformed"):
        dev2.invoke(runs=0)


def test_corrupt_upload_keeps_previous_model(blob, reference):
    x, ref = reference
    dev = Device(LoopbackTransport())
    assert run_on(dev, blob, x, ref.nbytes) == ref.tobytes()
    bad = bytearray(blob)
    bad[len(bad) // 2] ^= 0xFF  # the blob's own checksum no longer matches
    with pytest.raises(DeviceError, match="checksum.*the previous model is still loaded"):
        dev.upload(bytes(bad))
    dev.invoke()
    assert dev.get_output(0, ref.nbytes) == ref.tobytes()


def test_upload_without_room_for_two_says_the_previous_is_gone(blob, reference):
    x, ref = reference
    dev = Device(LoopbackTransport(blob_bytes=len(blob) + 1024))
    assert run_on(dev, blob, x, ref.nbytes) == ref.tobytes()
    f = dev.link.request(lib.PE_CMD_UPLOAD_BEGIN, struct.pack("<II", len(blob), 1))
    assert struct.unpack_from("<II", f.payload) == (0, 2)  # nothing received; previous dropped
    with pytest.raises(DeviceError, match="no model is loaded"):
        dev.invoke()
    assert run_on(dev, blob, x, ref.nbytes) == ref.tobytes()


def test_upload_resumes_after_an_interruption(blob, reference):
    x, ref = reference
    t = LoopbackTransport(max_payload=1024)
    dev = Device(t)
    dev.hello()
    checksum = struct.unpack_from("<I", blob, 16)[0]
    dev.link.request(lib.PE_CMD_UPLOAD_BEGIN, struct.pack("<II", len(blob), checksum))
    for off in range(0, 5000, 1000):
        dev.link.request(lib.PE_CMD_UPLOAD_CHUNK, struct.pack("<I", off) + blob[off:off + 1000])
    # the link "drops"; a new host session starts the same upload again
    dev2 = Device(t)
    seen = []
    up = dev2.upload(blob, progress=lambda done, total: seen.append(done))
    assert up.resumed_from == 5000 and seen[0] == 5000 and seen[-1] == len(blob)
    dev2.load()
    dev2.set_input(0, x.tobytes())
    dev2.invoke()
    assert dev2.get_output(0, ref.nbytes) == ref.tobytes()


def test_duplicate_frame_is_answered_once():
    t = LoopbackTransport()
    dev = Device(t)
    dev.hello()
    frame = encode(1234, lib.PE_CMD_INVOKE, struct.pack("<I", 1))
    t.write(frame + frame)
    r = FrameReader()
    got = r.feed(t.read(1 << 16, 0))
    assert len(got) == 2 and got[0] == got[1] and got[0].status == lib.PE_WIRE_ERR_NO_MODEL
    assert t.counts()["duplicates"] == 1


def test_corrupt_frame_is_naked():
    t = LoopbackTransport()
    bad = bytearray(encode(5, lib.PE_CMD_HELLO, b"\x00\x01"))
    bad[8] ^= 0x01
    t.write(bytes(bad))
    got = FrameReader().feed(t.read(1 << 16, 0))
    assert [g.code for g in got] == [NAK] and t.counts()["naked"] == 1


@pytest.mark.parametrize("faults", [
    dict(drop=0.15), dict(corrupt=0.2), dict(duplicate=0.2), dict(drop_byte=0.15),
    dict(drop=0.05, corrupt=0.05, duplicate=0.05, drop_byte=0.05),
])
def test_faulty_link_retries_to_bit_exact(blob, reference, faults):
    x, ref = reference
    inner = LoopbackTransport(max_payload=2048)
    ft = FaultyTransport(inner, seed=sum(map(ord, str(faults))), **faults)
    dev = Device(ft, timeout=0.05, retries=30, slow_timeout=0.5)
    assert run_on(dev, blob, x, ref.nbytes) == ref.tobytes()
    assert sum(ft.injected.values()) > 0
    assert dev.link.retransmits + inner.counts()["duplicates"] > 0
    # faults hit both directions; commands that ran twice would show in the invoke count
    assert dev.stats().invokes == 1


def test_dead_link_times_out_naming_the_port(blob):
    ft = FaultyTransport(LoopbackTransport(board="host"), dead_after=3)
    dev = Device(ft, timeout=0.1, retries=2)
    dev.hello()
    t0 = time.monotonic()
    with pytest.raises(LinkTimeout, match=r"no answer from loopback:host to UPLOAD_\w+ after 3 tries"):
        dev.upload(blob)
    assert time.monotonic() - t0 < 2.0


def test_doc_tables_match_the_header():
    import re
    from pathlib import Path

    from pyedge.host.protocol import COMMANDS, STATUSES

    doc = (Path(__file__).resolve().parent.parent / "docs" / "wire-protocol.md").read_text()
    for code, name in STATUSES.items():
        assert re.search(rf"^\| {code} \| {name} \|", doc, re.M), f"status {name} = {code} not in the doc"
    for code, name in COMMANDS.items():
        assert re.search(rf"^\| 0x{code:02X} \| {name} \|", doc, re.M), f"command {name} = {code} not in the doc"
