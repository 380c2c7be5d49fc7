"""Byte pipes to a device agent: in-process loopback, pyserial URLs, and a fault injector."""
from __future__ import annotations

import random
import time
import warnings

import numpy as np

from .._native import ffi, lib
from ..blob import ALIGN
from ..errors import PyedgeError


def _aligned(n: int) -> tuple[np.ndarray, object]:
    raw = np.zeros(n + ALIGN, np.uint8)
    off = (-raw.ctypes.data) % ALIGN
    arr = raw[off:off + n]
    return arr, ffi.from_buffer("uint8_t[]", arr)


class LoopbackTransport:
    """The C agent in this process, through cffi: bytes written are fed to pe_agent_feed and its
    responses are read back. Memory sizes are the simulated device's."""

    def __init__(self, board: str = "host", blob_bytes: int = 64 << 20, arena_bytes: int = 64 << 20,
                 max_payload: int = 16384, features: int | None = None):
        self.name = "loopback:" + board
        self._keep = []
        cfg = ffi.new("pe_agent_config *")
        self._board = ffi.new("char[]", board.encode())
        cfg.board = self._board
        cfg.features = int(lib.pe_detect_features()) if features is None else features
        for field, n in (("blob_mem", blob_bytes), ("arena_mem", arena_bytes)):
            arr, ptr = _aligned(n)
            self._keep += [arr, ptr]
            setattr(cfg, field, ptr)
        cfg.blob_cap, cfg.arena_cap = blob_bytes, arena_bytes
        frame = int(lib.PE_WIRE_HEADER) + max_payload + int(lib.PE_WIRE_TRAILER)
        self._rx = ffi.new("uint8_t[]", frame)
        self._tx = ffi.new("uint8_t[]", frame)
        cfg.rx_buf, cfg.tx_buf, cfg.max_payload = self._rx, self._tx, max_payload
        self._sink_buf = ffi.new("uint8_t[]", 4 * frame)
        self._sink = ffi.new("pe_byte_sink *")
        self._sink.buf, self._sink.cap = self._sink_buf, 4 * frame
        cfg.write = lib.pe_byte_sink_write
        cfg.io_user = self._sink
        cfg.clock = lib.pe_clock_ns
        cfg.clock_hz = 1_000_000_000
        cfg.counter_kind = lib.PE_COUNTER_NS
        self._cfg = cfg
        self._mem = ffi.new("uint64_t[]", (int(lib.pe_agent_size()) + 7) // 8)
        self.agent = ffi.cast("pe_agent *", self._mem)
        st = lib.pe_agent_init(self.agent, cfg)
        if st != lib.PE_OK:
            raise PyedgeError(f"agent init failed: status {st}")
        self._pending = bytearray()

    def write(self, data: bytes) -> None:
        data = bytes(data)
        step = 2048  # the sink holds a few frames: drain it between pieces
        for k in range(0, len(data), step):
            lib.pe_agent_feed(self.agent, data[k:k + step], len(data[k:k + step]))
            self._drain()

    def _drain(self) -> None:
        if self._sink.overflow:
            raise PyedgeError("loopback agent's output overflowed its buffer")
        self._pending += ffi.buffer(self._sink_buf, self._sink.len)[:]
        self._sink.len = 0

    def read(self, n: int, timeout: float) -> bytes:
        out = bytes(self._pending[:n])
        del self._pending[:n]
        return out

    def quiet(self) -> None:
        """The link is quiet: the agent drops a partial frame, as after PE_AGENT_IDLE_MS."""
        lib.pe_agent_idle(self.agent)

    def counts(self) -> dict[str, int]:
        a, n, d = ffi.new("uint32_t *"), ffi.new("uint32_t *"), ffi.new("uint32_t *")
        lib.pe_agent_counts(self.agent, a, n, d)
        return {"answered": a[0], "naked": n[0], "duplicates": d[0]}

    def close(self) -> None:
        pass


POLL_S = 0.01  # a serial port's read timeout: how often a waiting read looks at the clock


class SerialTransport:
    """Any pyserial URL: /dev/ttyACM0, COM3, socket://host:port, rfc2217://host:port, a pty."""

    def __init__(self, url: str, baudrate: int = 115200, connect_timeout: float = 5.0,
                 name: str | None = None, owned: list | None = None):
        import serial

        self.name = name or url
        self.url = url
        self.owned = list(owned or [])  # closed with the port (e.g. the emulator behind it)
        self.baudrate, self.connect_timeout = baudrate, connect_timeout
        self._fixed_timeout = url.startswith("rfc2217://")
        self._open()

    def _open(self) -> None:
        import serial

        url = self.url
        deadline = time.monotonic() + self.connect_timeout
        while True:
            try:
                with warnings.catch_warnings():  # pyserial's rfc2217 client uses deprecated threading calls
                    warnings.simplefilter("ignore", DeprecationWarning)
                    self.port = serial.serial_for_url(url, baudrate=self.baudrate, timeout=POLL_S)
                break
            except (serial.SerialException, OSError, ValueError) as exc:
                if time.monotonic() >= deadline or isinstance(exc, ValueError):
                    self._close_owned()
                    raise PyedgeError(f"cannot open {self.name}: {exc}") from None
                time.sleep(0.05)

    def write(self, data: bytes) -> None:
        import serial

        try:
            self.port.write(data)
            self.port.flush()
        except (serial.SerialException, OSError) as exc:
            from .protocol import LinkError
            raise LinkError(f"{self.name}: write failed: {exc}") from None

    def read(self, n: int, timeout: float) -> bytes:
        import serial

        from .protocol import LinkError
        try:
            if not self._fixed_timeout:
                self.port.timeout = max(0.001, timeout)
                first = self.port.read(1)  # waits for the first byte, then takes what has arrived
                if not first or n <= 1:
                    return first
                self.port.timeout = 0
                return first + self.port.read(n - 1)
            # an rfc2217:// port keeps the short timeout it was opened with: changing it would make
            # it renegotiate the port settings with the server on every read
            deadline = time.monotonic() + timeout
            while True:
                first = self.port.read(1)  # waits for the first byte, then takes what has arrived
                if first:
                    more = min(n - 1, self.port.in_waiting)
                    return first + self.port.read(more) if more > 0 else first
                if time.monotonic() >= deadline:
                    return b""
        except (serial.SerialException, OSError) as exc:
            raise LinkError(f"{self.name}: link closed: {exc}") from None

    def quiet(self) -> None:
        time.sleep(1.5e-3 * _idle_ms())

    def reopen(self) -> None:
        """Close and open the port again (after the link closed under us); what it owns stays."""
        try:
            self.port.close()
        except Exception:  # the old port is already broken
            pass
        self._open()

    def _close_owned(self) -> None:
        while self.owned:
            self.owned.pop().close()

    def close(self) -> None:
        try:
            self.port.close()
        finally:
            self._close_owned()


def _idle_ms() -> int:
    return int(lib.PE_AGENT_IDLE_MS)


class FaultyTransport:
    """A test device between host and agent that damages traffic for real: it drops, corrupts or
    duplicates whole writes or single bytes in either direction (seeded), or goes dead after a
    number of writes (every later byte lost both ways)."""

    def __init__(self, inner, seed: int = 0, drop: float = 0.0, corrupt: float = 0.0,
                 duplicate: float = 0.0, drop_byte: float = 0.0, dead_after: int | None = None,
                 directions: str = "both"):
        self.inner = inner
        self.name = getattr(inner, "name", "?")
        self.rng = random.Random(seed)
        self.drop, self.corrupt, self.duplicate, self.drop_byte = drop, corrupt, duplicate, drop_byte
        self.dead_after = dead_after
        self.directions = directions
        self.writes = 0
        self.injected = {"drop": 0, "corrupt": 0, "duplicate": 0, "drop_byte": 0}

    @property
    def dead(self) -> bool:
        return self.dead_after is not None and self.writes > self.dead_after

    def _damage(self, data: bytes) -> bytes:
        if not data:
            return data
        r = self.rng.random
        if r() < self.drop:
            self.injected["drop"] += 1
            return b""
        b = bytearray(data)
        if r() < self.corrupt:
            self.injected["corrupt"] += 1
            k = self.rng.randrange(len(b))
            b[k] ^= 1 << self.rng.randrange(8)
        if r() < self.drop_byte:
            self.injected["drop_byte"] += 1
            del b[self.rng.randrange(len(b))]
        if r() < self.duplicate:
            self.injected["duplicate"] += 1
            b = b + b
        return bytes(b)

    def write(self, data: bytes) -> None:
        self.writes += 1
        if self.dead:
            return
        self.inner.write(self._damage(data) if self.directions in ("both", "to_device") else data)

    def read(self, n: int, timeout: float) -> bytes:
        if self.dead:
            time.sleep(timeout)
            self.inner.read(1 << 20, 0)  # what the device still sends is lost
            return b""
        data = self.inner.read(n, timeout)
        return self._damage(data) if self.directions in ("both", "to_host") else data

    def quiet(self) -> None:
        q = getattr(self.inner, "quiet", None)
        if q:
            q()

    def close(self) -> None:
        self.inner.close()
