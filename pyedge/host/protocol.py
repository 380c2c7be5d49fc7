"""The host side of the wire protocol (docs/wire-protocol.md): framing, CRC, retries, timeouts.

The constants come from the C agent's header (native/agent/pe_agent.h) through cffi, so the two
sides cannot disagree on a code.
"""
from __future__ import annotations

import random
import struct
import time
import zlib
from dataclasses import dataclass
from typing import Protocol

from .._native import lib
from ..errors import PyedgeError

VERSION = int(lib.PE_WIRE_VERSION)
MAGIC = bytes([lib.PE_WIRE_MAGIC0, lib.PE_WIRE_MAGIC1])
HEADER = int(lib.PE_WIRE_HEADER)
TRAILER = int(lib.PE_WIRE_TRAILER)
RESPONSE = int(lib.PE_WIRE_RESPONSE)
NAK = int(lib.PE_WIRE_NAK)
IDLE_MS = int(lib.PE_AGENT_IDLE_MS)
# payload the host sends before HELLO told it the device's maximum (the smallest allowed)
MIN_PAYLOAD = 64

COMMANDS = {getattr(lib, n): n[len("PE_CMD_"):] for n in dir(lib) if n.startswith("PE_CMD_")}
STATUSES = {getattr(lib, n): n[len("PE_WIRE_"):] for n in dir(lib)
            if n.startswith("PE_WIRE_ERR_") or n == "PE_WIRE_OK"}
COUNTER_KINDS = {int(lib.PE_COUNTER_NS): "ns", int(lib.PE_COUNTER_CYCLES): "cycles",
                 int(lib.PE_COUNTER_INSTRUCTIONS): "instructions"}


class LinkError(PyedgeError):
    """The link to a device failed: no answer in time, or it closed."""


class LinkTimeout(LinkError, TimeoutError):
    """No valid answer from the device within the retries' time budget."""


class DeviceError(PyedgeError):
    """The device answered a request with an error status."""

    def __init__(self, message: str, status: str, details: tuple[int, int]):
        super().__init__(message)
        self.status = status
        self.details = details


class Transport(Protocol):
    """A byte pipe to a device. read returns what arrived within timeout (b"" if nothing)."""

    name: str

    def write(self, data: bytes) -> None: ...
    def read(self, n: int, timeout: float) -> bytes: ...
    def close(self) -> None: ...


def encode(seq: int, code: int, payload: bytes = b"", status: int = 0) -> bytes:
    """One frame: magic, length, seq, code, status, payload, CRC-32 of all of it before the CRC."""
    if len(payload) > 0xFFFF:
        raise ValueError(f"payload of {len(payload)} bytes exceeds a frame's 65535")
    head = MAGIC + struct.pack("<HHBB", len(payload), seq & 0xFFFF, code, status) + payload
    return head + struct.pack("<I", zlib.crc32(head))


@dataclass
class Frame:
    seq: int
    code: int
    status: int
    payload: bytes


class FrameReader:
    """Parses frames out of a byte stream, resynchronising on the magic after garbage."""

    def __init__(self, max_payload: int = 0xFFFF):
        self.buf = bytearray()
        self.max_payload = max_payload
        self.bad = 0  # frames dropped for a bad CRC or length

    def feed(self, data: bytes) -> list[Frame]:
        self.buf += data
        out = []
        b = self.buf
        while True:
            k = b.find(MAGIC)
            if k < 0:
                del b[:max(0, len(b) - 1) if b[-1:] == MAGIC[:1] else len(b)]
                return out
            del b[:k]
            if len(b) < HEADER:
                return out
            n, seq, code, status = struct.unpack_from("<HHBB", b, 2)
            if n > self.max_payload:
                self.bad += 1
                del b[:1]
                continue
            if len(b) < HEADER + n + TRAILER:
                return out
            (crc,) = struct.unpack_from("<I", b, HEADER + n)
            if zlib.crc32(bytes(b[:HEADER + n])) != crc:
                self.bad += 1
                del b[:1]
                continue
            out.append(Frame(seq, code, status, bytes(b[HEADER:HEADER + n])))
            del b[:HEADER + n + TRAILER]

    def clear(self) -> None:
        self.buf.clear()


def describe(code: int, status: int, d0: int, d1: int) -> str:
    """What an error status with its detail words means, in words."""
    from .._native import status_name, status_text

    name = STATUSES.get(status, f"status {status}")
    if name == "ERR_VERSION":
        return f"device speaks wire protocol {d0 >> 8}.{d0 & 0xFF}, this host {d1 >> 8}.{d1 & 0xFF}"
    if name == "ERR_TOO_LARGE":
        return f"blob of {d0:,} bytes does not fit the device's {d1:,} bytes of blob memory"
    if name == "ERR_OFFSET":
        return f"chunk offset out of order: device holds {d0:,} of {d1:,} bytes"
    if name == "ERR_INCOMPLETE":
        return f"upload incomplete: device holds {d0:,} of {d1:,} bytes"
    if name == "ERR_NO_UPLOAD":
        return "no upload in progress (send UPLOAD_BEGIN first)"
    if name == "ERR_BLOB":
        kept = "the previous model is still loaded" if d1 else "no model is loaded"
        return f"device rejected the blob: {status_text(d0)} ({status_name(d0)}); {kept}"
    if name == "ERR_NO_MODEL":
        return "no model is loaded on the device (flash one first)"
    if name == "ERR_ARENA":
        return f"model needs {d0:,} bytes of arena and counters, device has {d1:,}"
    if name == "ERR_INDEX":
        return f"index or byte range {d0} out of range (limit {d1})"
    if name == "ERR_INVOKE":
        return f"invoke failed in op {d1 if d1 < 0x80000000 else d1 - (1 << 32)}: {status_text(d0)} ({status_name(d0)})"
    if name == "ERR_PAYLOAD":
        return f"malformed request payload ({d0} bytes or value; expected {d1})"
    if name == "ERR_COMMAND":
        return f"device does not know command 0x{d0:02x}"
    return name


class Link:
    """Request/response over a transport with sequence numbers, NAK handling and retries.

    Every request waits at most `timeout` seconds per try (plus its bytes' time at `bytes_per_s`,
    when given) and is sent `retries + 1` times, so a dead link raises LinkTimeout after about
    (retries + 1) * timeout seconds, naming the port.
    """

    def __init__(self, transport: Transport, timeout: float = 1.0, retries: int = 4,
                 bytes_per_s: float | None = None):
        self.t = transport
        self.timeout = timeout
        # the slowest the link moves bytes to the device: each try then also waits for the
        # request's own bytes to arrive (a big UPLOAD_CHUNK over a slow UART)
        self.bytes_per_s = bytes_per_s
        self.retries = retries
        self.reader = FrameReader()
        self.seq = random.randrange(0x10000)
        self.max_payload = MIN_PAYLOAD
        self.retransmits = 0
        self.naks = 0
        self.no_model_note = ""  # appended to ERR_NO_MODEL (the device keeps models in RAM only)

    @property
    def port(self) -> str:
        return getattr(self.t, "name", "?")

    def request(self, code: int, payload: bytes = b"", timeout: float | None = None,
                check: bool = True) -> Frame:
        self.seq = (self.seq + 1) & 0xFFFF
        frame = encode(self.seq, code, payload)
        wait = self.timeout if timeout is None else timeout
        if self.bytes_per_s:
            wait += len(frame) / self.bytes_per_s
        what = COMMANDS.get(code, f"0x{code:02x}")
        t_start = time.monotonic()
        for attempt in range(self.retries + 1):
            if attempt:
                self.retransmits += 1
            self.t.write(frame)
            got = self._answer(code, wait)
            if got is None:
                # nothing valid in time, or a NAK: after a quiet gap the device has dropped any
                # partial frame, so the retransmission is parsed from its first byte
                quiet = getattr(self.t, "quiet", None)
                quiet() if quiet else time.sleep(IDLE_MS * 1.5e-3)
                self.reader.clear()
                continue
            if check and got.status != lib.PE_WIRE_OK:
                d0, d1 = struct.unpack_from("<II", got.payload.ljust(8, b"\0"))
                note = self.no_model_note if got.status == lib.PE_WIRE_ERR_NO_MODEL else ""
                raise DeviceError(f"{self.port}: {what}: {describe(code, got.status, d0, d1)}{note}",
                                  STATUSES.get(got.status, str(got.status)), (d0, d1))
            return got
        raise LinkTimeout(f"no answer from {self.port} to {what} after {self.retries + 1} tries in "
                          f"{time.monotonic() - t_start:.1f} s: is the device connected and running the agent?")

    def _answer(self, code: int, wait: float) -> Frame | None:
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            data = self.t.read(4096, left)
            for f in self.reader.feed(data):
                if f.code == NAK:
                    self.naks += 1
                    return None
                if f.seq == self.seq and f.code == (code | RESPONSE):
                    return f
                # anything else is a late answer to an earlier try: ignore it
