"""A TCP proxy that damages a real link: it sits between pyserial (socket://) and a device agent
(pyedge-agent under QEMU or on the host) and, as told at any moment, drops, flips or duplicates
bytes (seeded), goes silent (everything swallowed both ways), or resets the connection (RST)
after a number of bytes towards the device."""
from __future__ import annotations

import random
import select
import socket
import struct
import threading


class LinkProxy:
    def __init__(self, upstream: tuple[str, int], seed: int = 0):
        self.upstream = upstream
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.drop = self.flip = self.duplicate = 0.0   # per byte
        self.silent = False
        self.reset_after: int | None = None            # bytes to the device before an RST
        self.to_device = 0
        self.injected = {"drop": 0, "flip": 0, "duplicate": 0, "reset": 0}
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(4)
        self.url = f"socket://127.0.0.1:{self.srv.getsockname()[1]}"
        self._stop = False
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def faults(self, drop: float = 0.0, flip: float = 0.0, duplicate: float = 0.0, silent: bool = False,
               reset_after: int | None = None) -> None:
        with self.lock:
            self.drop, self.flip, self.duplicate, self.silent = drop, flip, duplicate, silent
            self.reset_after = None if reset_after is None else self.to_device + reset_after

    def _damage(self, data: bytes) -> bytes:
        if not (self.drop or self.flip or self.duplicate):
            return data
        out = bytearray()
        r = self.rng.random
        for b in data:
            if r() < self.drop:
                self.injected["drop"] += 1
                continue
            if r() < self.flip:
                self.injected["flip"] += 1
                b ^= 1 << self.rng.randrange(8)
            out.append(b)
            if r() < self.duplicate:
                self.injected["duplicate"] += 1
                out.append(b)
        return bytes(out)

    def _accept(self) -> None:
        while not self._stop:
            try:
                cl, _ = self.srv.accept()
            except OSError:
                return
            up = socket.create_connection(self.upstream)
            for s in (cl, up):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._pairs.append((cl, up))
            threading.Thread(target=self._pump, args=(cl, up), daemon=True).start()

    @staticmethod
    def _rst(s: socket.socket) -> None:
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        except OSError:
            pass

    def _pump(self, cl: socket.socket, up: socket.socket) -> None:
        peers = {cl: up, up: cl}
        try:
            while not self._stop:
                ready, _, _ = select.select([cl, up], [], [], 0.1)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    with self.lock:
                        if self.silent:
                            continue
                        if s is cl:
                            if self.reset_after is not None and self.to_device + len(data) >= self.reset_after:
                                keep = self.reset_after - self.to_device
                                up.sendall(data[:keep])
                                self.injected["reset"] += 1
                                self.reset_after = None
                                self._rst(cl)
                                self._rst(up)
                                return
                            self.to_device += len(data)
                        data = self._damage(data)
                    if data:
                        peers[s].sendall(data)
        except OSError:
            pass
        finally:
            for s in (cl, up):
                try:
                    s.close()
                except OSError:
                    pass

    def close(self) -> None:
        self._stop = True
        self.srv.close()
        for pair in self._pairs:
            for s in pair:
                try:
                    s.close()
                except OSError:
                    pass
