"""A TCP relay between a client and the server that can cut the first connection in the
middle of traffic, as a phone losing its network does: both sockets are shut down and
closed at once (SO_LINGER 0), in the middle of a TLS record, so neither side gets a clean
close of the XMPP stream. Later connections are relayed untouched."""

from __future__ import annotations

import socket
import struct
import threading
import time
from typing import Optional


class CuttingProxy:
    def __init__(self, target_port: int, cut_after: int, direction: str) -> None:
        """Cut the first connection once `cut_after` bytes went in `direction`
        ('up': client to server, 'down': server to client)."""
        assert direction in ("up", "down")
        self.target_port: Optional[int] = target_port
        self.cut_after = cut_after
        self.direction = direction
        self.connections = 0
        self.cut = threading.Event()
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            # A test may point the relay at a restarted server (None: not up yet).
            while self.target_port is None and not self._closed:
                time.sleep(0.01)
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                self._reset(client)
                continue
            with self._lock:
                self.connections += 1
                first = self.connections == 1
                self._sockets += [client, server]
            state = {"up": 0, "down": 0}
            for src, dst, name in ((client, server, "up"), (server, client, "down")):
                threading.Thread(target=self._pump, args=(src, dst, name, first, state, client,
                                                          server), daemon=True).start()

    @staticmethod
    def _reset(*socks: socket.socket) -> None:
        for s in socks:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                # close() alone would wait for the other pump thread's recv() on the same
                # socket to return; shutdown() ends that recv() at once.
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass

    def _pump(self, src: socket.socket, dst: socket.socket, name: str, first: bool,
              state: dict, client: socket.socket, server: socket.socket) -> None:
        while True:
            try:
                data = src.recv(4096)
            except OSError:
                data = b""
            if not data:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            if first and name == self.direction and not self.cut.is_set():
                room = self.cut_after - state[name]
                if room <= len(data):
                    # Pass part of this chunk (a stanza or TLS record cut in two), then reset.
                    try:
                        dst.sendall(data[:max(room, 0)])
                    except OSError:
                        pass
                    self.cut.set()
                    self._reset(client, server)
                    return
                state[name] += len(data)
            try:
                dst.sendall(data)
            except OSError:
                return

    def cut_now(self) -> None:
        """Resets every connection relayed so far, at once."""
        with self._lock:
            socks = list(self._sockets)
        self.cut.set()
        self._reset(*socks)

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        with self._lock:
            self._reset(*self._sockets)
