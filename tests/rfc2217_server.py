"""A small RFC 2217 (Telnet COM port control) server in front of a byte stream, as pyserial's
rfc2217_server example does: pyserial's PortManager handles the Telnet option negotiation and
escaping, two threads move the bytes. The backend is any pyserial URL (a serial device, a pty,
socket:// to a device agent)."""
from __future__ import annotations

import socket
import threading

import serial
import serial.rfc2217


class _Conn:
    def __init__(self, sock: socket.socket):
        self.sock = sock

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)


class Rfc2217Server:
    def __init__(self, backend_url: str):
        # 9600 baud until a client sets its rate through the protocol (SET_BAUDRATE)
        self.backend = serial.serial_for_url(backend_url, baudrate=9600, timeout=0.05)
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(1)
        self.url = f"rfc2217://127.0.0.1:{self.srv.getsockname()[1]}"
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                cl, _ = self.srv.accept()
            except OSError:
                return
            cl.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pm = serial.rfc2217.PortManager(self.backend, _Conn(cl))
            alive = [True]

            def to_client() -> None:
                while alive[0] and not self._stop:
                    try:
                        data = self.backend.read(1)  # the first byte, then what has arrived
                        if data and self.backend.in_waiting:
                            data += self.backend.read(self.backend.in_waiting)
                        if data:
                            cl.sendall(b"".join(pm.escape(data)))
                    except (OSError, serial.SerialException):
                        break

            t = threading.Thread(target=to_client, daemon=True)
            t.start()
            try:
                while not self._stop:
                    data = cl.recv(4096)
                    if not data:
                        break
                    self.backend.write(b"".join(pm.filter(data)))
            except OSError:
                pass
            alive[0] = False
            t.join()
            cl.close()

    def close(self) -> None:
        self._stop = True
        self.srv.close()
        self._thread.join(2)
        self.backend.close()
