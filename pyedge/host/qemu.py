"""Boards the host tool emulates itself: the Arm Linux pyedge-agent, cross-built static for the
board's architecture (once, cached under build/cross-<arch>), run under qemu-user on the
board's CPU model and reached over TCP through pyserial's socket:// URL.

    with QemuUserAgent(load_board("qemu-rpi4")) as q:      # qemu-aarch64 -cpu cortex-a72
        dev = Device(SerialTransport(q.url))

The emulator is stopped when the agent object is closed, when the Python process exits, and
(Linux) when the Python process dies: it is started with PR_SET_PDEATHSIG, so no emulator is
left behind even after a SIGKILL of the host tool.
"""
from __future__ import annotations

import atexit
import ctypes
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from .. import _manifest
from ..boards import Board
from ..errors import PyedgeError

# arch -> (CMake toolchain file, C compiler, qemu-user program, Debian packages)
ARCHES = {
    "aarch64": ("aarch64-linux-gnu.cmake", "aarch64-linux-gnu-gcc", "qemu-aarch64",
                "gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"),
    "armhf": ("arm-linux-gnueabihf.cmake", "arm-linux-gnueabihf-gcc", "qemu-arm",
              "gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user"),
}
START_TIMEOUT = 20.0  # seconds for the emulated agent to print its "listening on" line

_built: dict[str, Path] = {}


def build_dir(arch: str) -> Path:
    return _manifest.ROOT / "build" / f"cross-{arch}"


def missing_tools(arch: str) -> str | None:
    """Why the emulated agent for `arch` cannot be built or run here (None: it can)."""
    if arch not in ARCHES:
        return f"no cross build for arch {arch!r} (known: {', '.join(ARCHES)})"
    _, cc, qemu, pkgs = ARCHES[arch]
    for tool in ("cmake", cc, qemu):
        if shutil.which(tool) is None:
            return f"{tool} not found (Debian: apt-get install --no-install-recommends cmake {pkgs})"
    r = subprocess.run([cc, "-E", "-x", "c", "-"], input="#include <string.h>\n", capture_output=True, text=True)
    if r.returncode != 0:
        return f"{cc} has no C library headers (Debian: {pkgs.split()[1]})"
    return None


def cross_agent(arch: str) -> Path:
    """The static pyedge-agent for `arch`, built with CMake under build/cross-<arch> (the tree the
    Arm cross tests share); CMake rebuilds only what changed, and once per process at most."""
    if arch in _built:
        return _built[arch]
    why = missing_tools(arch)
    if why:
        raise PyedgeError(f"cannot build pyedge-agent for {arch}: {why}")
    out = build_dir(arch)
    toolchain = _manifest.ROOT / "cmake" / "toolchains" / ARCHES[arch][0]
    if not (out / "CMakeCache.txt").exists():
        r = subprocess.run(["cmake", "-S", str(_manifest.ROOT), "-B", str(out), "-DCMAKE_BUILD_TYPE=Release",
                            f"-DCMAKE_TOOLCHAIN_FILE={toolchain}"], capture_output=True, text=True)
        if r.returncode != 0:
            raise PyedgeError(f"configuring the {arch} cross build failed:\n{(r.stdout + r.stderr)[-3000:]}")
    r = subprocess.run(["cmake", "--build", str(out), "-j2", "--target", "pyedge-agent"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise PyedgeError(f"building pyedge-agent for {arch} failed:\n{(r.stdout + r.stderr)[-3000:]}")
    _built[arch] = out / "pyedge-agent"
    return _built[arch]


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


_live: set["QemuUserAgent"] = set()


@atexit.register
def _stop_all() -> None:
    for q in list(_live):
        q.close()


class QemuUserAgent:
    """pyedge-agent for a `method = "qemu-user"` board, running under qemu-user, listening on a
    free TCP port of 127.0.0.1 (the kernel picks it; the agent prints it)."""

    def __init__(self, board: Board, start_timeout: float = START_TIMEOUT):
        c = board.connect
        self.board = board
        arch = str(c.get("arch", ""))
        if arch not in ARCHES:
            raise PyedgeError(f"board {board.name}: [connect] arch must be one of {', '.join(ARCHES)}, "
                              f"not {arch!r} ({board.path})")
        exe = cross_agent(arch)
        qemu = str(c.get("qemu", ARCHES[arch][2]))
        self.argv = [qemu, "-cpu", str(c["qemu_cpu"]), str(exe), "--listen", "0", "--board", board.name,
                     "--blob-bytes", str(int(c["blob_bytes"])), "--arena-bytes", str(int(c["arena_bytes"])),
                     "--max-payload", str(int(c.get("max_payload", 16384)))]
        env = {k: v for k, v in os.environ.items() if k not in ("QEMU_CPU", "PYEDGE_ISA", "PYEDGE_MAX_ISA")}
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env,
                                     preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        _live.add(self)
        try:
            self.url = self._wait_listening(start_timeout)
        except BaseException:
            self.close()
            raise

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _wait_listening(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        line = b""
        fd = self.proc.stdout.fileno()
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                raise PyedgeError(f"{' '.join(self.argv[:3])}: the agent did not start within {timeout:.0f} s")
            ready, _, _ = select.select([fd], [], [], min(left, 0.2))
            if ready:
                b = os.read(fd, 256)
                if not b:
                    break
                line += b
            elif self.proc.poll() is not None:
                break
        text = line.decode(errors="replace").strip()
        if not text.startswith("listening on "):
            err = self.proc.stderr.read().decode(errors="replace") if self.proc.poll() is not None else ""
            raise PyedgeError(f"{' '.join(self.argv[:3])}: the emulated agent did not start "
                              f"(exit {self.proc.poll()}): {text} {err.strip()}".strip())
        return "socket://" + text[len("listening on "):]

    def close(self) -> None:
        """Stop the emulator (SIGTERM, then SIGKILL after a second) and reap it."""
        _live.discard(self)
        p = self.proc
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(1.0)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for f in (p.stdout, p.stderr):
            if f:
                f.close()

    def __enter__(self) -> "QemuUserAgent":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def firmware_problem(board: Board) -> str | None:
    """Why the Cortex-M firmware agent of an MCU board cannot be built or run here (None: it can;
    pyedge builds it on first use, pyedge/host/agent_build.py)."""
    if board.kind != "mcu":
        return None
    how = (f"meanwhile `pyedge inspect --board {board.name} MODEL` checks that a model fits and "
           f"`pyedge pack --format c --target {board.name} MODEL` writes it as C for a firmware of your own")
    if not board.flash.get("firmware"):
        return f"board {board.name} names no firmware agent ([flash] firmware in {board.path}); {how}"
    from .agent_build import firmware_missing

    why = firmware_missing()
    return f"the firmware agent for {board.name} cannot be built here: {why}" if why else None


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class QemuSystemAgent:
    """The firmware agent of a `method = "qemu-system"` board under qemu-system-arm, its UART a
    TCP server on a free port of 127.0.0.1 (the board file's `serial` template)."""

    def __init__(self, board: Board, start_timeout: float = START_TIMEOUT):
        from .agent_build import build_firmware

        why = firmware_problem(board)
        if why:
            raise PyedgeError(why)
        self.board = board
        self.elf = build_firmware(board)  # cached: rebuilt only when a source changed
        c = board.connect
        qemu = str(c.get("qemu_system", "qemu-system-arm"))
        if shutil.which(qemu) is None:
            raise PyedgeError(f"{qemu} not found (Debian: apt-get install --no-install-recommends qemu-system-arm)")
        port = _free_port()
        self.url = f"socket://127.0.0.1:{port}"
        self.argv = [qemu, "-M", str(c["machine"]), "-cpu", str(c["qemu_cpu"]), *map(str, c.get("qemu_args", [])),
                     "-serial", str(c["serial"]).format(port=port),
                     "-kernel", str(self.elf)]
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE,
                                     preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        _live.add(self)  # type: ignore[arg-type]
        try:
            self._wait_listening(port, start_timeout)
        except BaseException:
            self.close()
            raise

    def _wait_listening(self, port: int, timeout: float) -> None:
        """Until QEMU's UART socket listens (read from /proc/net/tcp, so that no probe connection
        takes the one QEMU waits for); a QEMU that exits first is an error with its message."""
        deadline = time.monotonic() + timeout
        table = Path("/proc/net/tcp")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace").strip()
                raise PyedgeError(f"{' '.join(self.argv[:3])}: QEMU exited ({self.proc.returncode}) before its "
                                  f"UART listened: {err[-1500:]}")
            if not table.exists():
                return  # not Linux: the transport's connect retries instead
            for line in table.read_text().splitlines()[1:]:
                f = line.split()
                if len(f) > 3 and f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                    return
            time.sleep(0.02)
        raise PyedgeError(f"{' '.join(self.argv[:3])}: QEMU's UART did not listen on port {port} within {timeout:.0f} s")

    @property
    def pid(self) -> int:
        return self.proc.pid

    close = QemuUserAgent.close
    __enter__ = QemuUserAgent.__enter__
    __exit__ = QemuUserAgent.__exit__
