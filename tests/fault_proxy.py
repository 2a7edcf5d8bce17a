"""A TCP proxy on loopback in front of a real HTTP server (moto's S3 in the tests), with faults the test switches
on for the requests whose request line contains `matching` (e.g. "GET /bucket/store/logs/"):

- `pass`: relay both ways;
- `reset`: relay the request, then `after_bytes` of its response, then reset both connections (TCP RST);
- `http_503`: answer the request with `503 Service Unavailable` instead of relaying it;
- `refuse`: stop listening, so every connection is refused (`heal()` listens again on the same port);
- `slow`: relay the request `delay` seconds late (a store that is slow to answer, not down).

`requests` limits a fault to the next N matching requests (then the proxy relays again), which is how a test shows a
short outage being ridden out. Requests on one connection are sequential (HTTP/1.1 without pipelining, as aiohttp
sends them), so the response flowing back belongs to the last request line seen going out.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from typing import Literal

Mode = Literal["pass", "reset", "http_503", "refuse", "slow"]
METHODS = (b"GET ", b"PUT ", b"POST ", b"HEAD ", b"DELETE ")
SERVICE_UNAVAILABLE = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def _hard_close(sock: socket.socket) -> None:
    """Drop the connection as a failing network does (a reset where the kernel sends one). The shutdown first wakes
    the proxy's other thread blocked reading this socket: a bare close from another thread would leave the
    connection open while that read waits."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class _Connection:
    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client, self.upstream = client, upstream
        self.reset_after: int | None = None
        """Bytes of the current response still to relay before the reset (None: no fault on it)."""


class FaultProxy:
    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.mode: Mode = "pass"
        self.matching = ""
        self.after_bytes = 0
        self.delay = 0.0
        self.remaining: int | None = None
        self.faulted: list[str] = []
        """The request lines that were faulted."""
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.port = 0
        self._listen()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fault(
        self, mode: Mode, *, matching: str = "", requests: int | None = None, after_bytes: int = 0, delay: float = 0.0
    ) -> None:
        with self._lock:
            self.mode, self.matching, self.remaining, self.after_bytes = mode, matching, requests, after_bytes
            self.delay = delay
        if mode == "refuse" and self._listener is not None:
            self._listener.close()
            self._listener = None

    def heal(self) -> None:
        with self._lock:
            self.mode, self.remaining = "pass", None
        if self._listener is None:
            self._listen()

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed: refusing, or the test is over
            try:
                upstream = socket.create_connection(self.upstream)
            except OSError:
                _hard_close(client)
                continue
            connection = _Connection(client, upstream)
            threading.Thread(target=self._requests, args=(connection,), daemon=True).start()
            threading.Thread(target=self._responses, args=(connection,), daemon=True).start()

    def _fault_for(self, request_line: str) -> Mode:
        with self._lock:
            if self.mode == "pass" or self.matching not in request_line:
                return "pass"
            if self.remaining is not None:
                if self.remaining <= 0:
                    self.mode = "pass"
                    return "pass"
                self.remaining -= 1
            self.faulted.append(request_line)
            return self.mode

    def _requests(self, connection: _Connection) -> None:
        try:
            while data := connection.client.recv(65536):
                if data.startswith(METHODS):
                    request_line = data.split(b"\r\n", 1)[0].decode("latin-1")
                    mode = self._fault_for(request_line)
                    if mode == "http_503":
                        connection.client.sendall(SERVICE_UNAVAILABLE)
                        break
                    if mode == "slow":
                        time.sleep(self.delay)
                    connection.reset_after = self.after_bytes if mode == "reset" else None
                connection.upstream.sendall(data)
        except OSError:
            pass
        self._close(connection)

    def _responses(self, connection: _Connection) -> None:
        try:
            while data := connection.upstream.recv(65536):
                limit = connection.reset_after
                if limit is not None and len(data) > limit:
                    connection.client.sendall(data[:limit])
                    _hard_close(connection.client)
                    _hard_close(connection.upstream)
                    return
                if limit is not None:
                    connection.reset_after = limit - len(data)
                connection.client.sendall(data)
        except OSError:
            pass
        self._close(connection)

    @staticmethod
    def _close(connection: _Connection) -> None:
        for sock in (connection.client, connection.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
