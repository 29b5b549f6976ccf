"""One JSON message per line over a Unix stream socket: how a live child and the sweep talk.

The parent listens on a socket in a folder of its own; each instance of a live
child connects, says who it is, and then blocks in `recv` until told what to
do, so a waiting child uses no CPU. No torch here.
"""

from __future__ import annotations

import json
import socket


class Channel:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = sock.makefile("rb")

    @classmethod
    def connect(cls, path: str) -> Channel:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
        return cls(sock)

    def send(self, message: dict) -> None:
        self.sock.sendall(json.dumps(message).encode() + b"\n")

    def recv(self) -> dict | None:
        """The next message, or None once the other side has gone."""
        try:
            line = self.reader.readline()
        except (ConnectionError, OSError):
            return None
        return json.loads(line) if line.endswith(b"\n") else None

    def close(self) -> None:
        for closing in (self.reader.close, self.sock.close):
            try:
                closing()
            except OSError:
                pass
