"""A device running the pyedge agent, command by command (docs/wire-protocol.md)."""
from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field
from typing import Callable

from .._native import lib
from ..errors import PyedgeError
from .protocol import COUNTER_KINDS, VERSION, DeviceError, Link, LinkError, Transport

C = lib


@dataclass
class DeviceInfo:
    """What HELLO reports."""

    version: int
    board: str
    max_payload: int
    features: int
    clock_hz: int
    blob_cap: int
    arena_cap: int
    counter: str  # "ns", "cycles" or "instructions"
    flags: int = 0  # PE_HELLO_*: a model is loaded; blobs live in RAM only

    @property
    def model_loaded(self) -> bool:
        return bool(self.flags & 1)

    @property
    def ram_only(self) -> bool:
        return bool(self.flags & 2)

    @property
    def version_str(self) -> str:
        return f"{self.version >> 8}.{self.version & 0xFF}"


@dataclass
class LoadedModel:
    checksum: int
    blob_bytes: int
    arena_bytes: int
    n_ops: int
    n_inputs: int
    n_outputs: int


@dataclass
class Stats:
    arena_bytes: int
    arena_high_water: int
    arena_cap: int
    arena_used: int   # arena plus the per-op counters
    blob_bytes: int
    blob_cap: int
    invokes: int


@dataclass
class UploadResult:
    bytes: int
    resumed_from: int
    seconds: float
    previous_kept: bool
    previous_dropped: bool
    chunks: int = 0
    retransmits: int = 0

    @property
    def rate(self) -> float:
        sent = self.bytes - self.resumed_from
        return sent / self.seconds if self.seconds > 0 else float("inf")


@dataclass
class OpCount:
    index: int
    op_code: int
    ticks: int
    variant: str


Progress = Callable[[int, int], None]  # (bytes on the device, total)


@dataclass
class Device:
    """Talks to one agent over a transport. Every method is one or a few requests; errors raise
    DeviceError (the device said no, naming why) or LinkTimeout (it did not answer)."""

    transport: Transport
    timeout: float = 1.0
    retries: int = 4
    slow_timeout: float = 30.0  # per try of requests that compute: upload end (checksum), load, invoke
    link_bytes_per_s: float | None = None  # the slowest the link moves bytes (board file): longer waits for big frames
    link: Link = field(init=False)
    info: DeviceInfo | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.link = Link(self.transport, self.timeout, self.retries, self.link_bytes_per_s)

    @property
    def port(self) -> str:
        return self.link.port

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> "Device":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def hello(self, version: int = VERSION) -> DeviceInfo:
        f = self.link.request(C.PE_CMD_HELLO, struct.pack("<H", version))
        ver, flags, maxp, feats, hz, bcap, acap, kind, nlen = struct.unpack_from("<HHIIQIIBB", f.payload)
        board = f.payload[30:30 + nlen].decode("utf-8", "replace")
        self.info = DeviceInfo(ver, board, maxp, feats, hz, bcap, acap, COUNTER_KINDS.get(kind, f"kind {kind}"),
                               flags)
        self.link.max_payload = maxp
        self.link.no_model_note = (f"; {board} keeps models in RAM only: a reset or restart of the device "
                                   "clears them" if self.info.ram_only else "")
        self.link.reader.max_payload = maxp
        return self.info

    def _need_info(self) -> DeviceInfo:
        return self.info if self.info is not None else self.hello()

    def upload(self, blob: bytes, progress: Progress | None = None, chunk: int | None = None) -> UploadResult:
        """Send a blob in offset-addressed chunks; resumes where an interrupted upload of the same
        blob (size and checksum) stopped. The device verifies the blob's checksum at the end."""
        info = self._need_info()
        blob = bytes(blob)
        if len(blob) < 128 or blob[:4] != b"PEB1":
            raise PyedgeError("not a pyedge blob (no PEB1 header): pack the model first")
        (checksum,) = struct.unpack_from("<I", blob, 16)
        if len(blob) > info.blob_cap:
            raise PyedgeError(f"{self.port}: blob of {len(blob):,} bytes does not fit the device's "
                              f"{info.blob_cap:,} bytes of blob memory ({info.board})")
        t0 = time.monotonic()
        r0 = self.link.retransmits
        f = self.link.request(C.PE_CMD_UPLOAD_BEGIN, struct.pack("<II", len(blob), checksum))
        received, flags = struct.unpack_from("<II", f.payload)
        start = received
        step = max(16, min(chunk or info.max_payload, info.max_payload) - 4)
        chunks = 0
        if progress:
            progress(received, len(blob))
        try:
            while received < len(blob):
                piece = blob[received:received + step]
                f = self.link.request(C.PE_CMD_UPLOAD_CHUNK, struct.pack("<I", received) + piece)
                (received,) = struct.unpack_from("<I", f.payload)
                chunks += 1
                if progress:
                    progress(received, len(blob))
        except LinkError as exc:
            raise type(exc)(f"{exc}; upload stopped at {received:,} of {len(blob):,} bytes: "
                            + self._previous_model(flags)) from None
        self.link.request(C.PE_CMD_UPLOAD_END, timeout=self.slow_timeout)
        return UploadResult(len(blob), start, time.monotonic() - t0, bool(flags & 1), bool(flags & 2),
                            chunks, self.link.retransmits - r0)

    def _previous_model(self, begin_flags: int) -> str:
        """What an interrupted upload left on the device, from UPLOAD_BEGIN's flags and HELLO's."""
        ram = self.info is not None and self.info.ram_only
        if begin_flags & 1:
            what = "the previously loaded model stays loaded and runnable"
            return what + (" (until the device resets: it keeps models in RAM only)" if ram else "")
        if begin_flags & 2:
            return "the previously loaded model was dropped to make room for this one: no model is loaded"
        return "no model was loaded before it"

    def load(self) -> LoadedModel:
        self._need_info()  # HELLO first: its flags say how a NO_MODEL error reads
        f = self.link.request(C.PE_CMD_LOAD, timeout=self.slow_timeout)
        return LoadedModel(*struct.unpack_from("<IIIIHH", f.payload))

    def set_input(self, index: int, data: bytes) -> None:
        step = self._need_info().max_payload - 8
        data = bytes(data)
        for off in range(0, max(len(data), 1), step):
            self.link.request(C.PE_CMD_SET_INPUT, struct.pack("<HHI", index, 0, off) + data[off:off + step])

    def invoke(self, runs: int = 1, timeout: float | None = None) -> tuple[int, int]:
        """Run the model `runs` times; returns (runs, ticks of the clock over all of them). Each
        try waits `timeout` (default slow_timeout) for the answer."""
        self._need_info()  # HELLO first: its flags say how a NO_MODEL error reads
        f = self.link.request(C.PE_CMD_INVOKE, struct.pack("<I", runs),
                              timeout=self.slow_timeout if timeout is None else timeout)
        return struct.unpack_from("<IQ", f.payload)

    def get_output(self, index: int, nbytes: int) -> bytes:
        out = bytearray()
        while len(out) < nbytes:
            f = self.link.request(C.PE_CMD_GET_OUTPUT, struct.pack("<HHII", index, 0, len(out), nbytes - len(out)))
            if not f.payload:
                raise DeviceError(f"{self.port}: output {index} holds {len(out)} bytes, expected {nbytes}",
                                  "ERR_INDEX", (len(out), nbytes))
            out += f.payload
        return bytes(out)

    def profile(self) -> list[OpCount]:
        """Per-op counts of the last INVOKE (summed over its runs) and the kernel variant per op."""
        ops: list[OpCount] = []
        while True:
            f = self.link.request(C.PE_CMD_GET_PROFILE, struct.pack("<I", len(ops)))
            n_ops, first, count = struct.unpack_from("<IIH", f.payload)
            p = 10
            for k in range(count):
                ticks, code, nlen = struct.unpack_from("<QHB", f.payload, p)
                p += 11
                ops.append(OpCount(first + k, code, ticks, f.payload[p:p + nlen].decode()))
                p += nlen
            if len(ops) >= n_ops or count == 0:
                return ops

    def stats(self) -> Stats:
        self._need_info()  # HELLO first: its flags say how a NO_MODEL error reads
        f = self.link.request(C.PE_CMD_GET_STATS)
        return Stats(*struct.unpack_from("<7I", f.payload))

    def reset(self) -> None:
        self.link.request(C.PE_CMD_RESET)
