"""A host and port in, the listening socket out: one that keeps descriptors for the radio.

Every connection is a descriptor, and so is every track file playout opens and every
file preparation writes. At a 1,024 limit, 1,100 idle sockets starved the stations
(issue #10). The kernel hands out the lowest free descriptor, so when an accepted
connection's number reaches the limit less a reserve, fewer than the reserve are free:
that connection is reset at once (a refusal, not a hang) and the radio keeps its files.
"""

from __future__ import annotations

import logging
import resource
import socket
import struct

from radio.logs import Warnings

log = logging.getLogger(__name__)

RESERVED_DESCRIPTORS = 128  # track files, the catalog, preparation, logs, the event loop


class ReservingSocket(socket.socket):
    """A listening socket whose accept() refuses connections that would eat the reserve."""

    limit: int
    refused = 0
    warnings = Warnings(log)

    def accept(self) -> tuple[socket.socket, object]:
        conn, address = super().accept()
        if conn.fileno() < self.limit - RESERVED_DESCRIPTORS:
            return conn, address
        # Linger 0: close with a reset, so the descriptor is free now, not after TIME_WAIT.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
        self.refused += 1
        self.warnings.warn(
            "refused",
            "connections refused: %d descriptors of %d in use, %d kept for the stations"
            " (%d refused so far)",
            *(self.limit - RESERVED_DESCRIPTORS, self.limit, RESERVED_DESCRIPTORS),
            self.refused,
        )
        # asyncio takes this as "nothing more to accept now" and tries again on the next
        # readiness, so the queue drains by resets while descriptors are short.
        raise ConnectionAbortedError("descriptor reserve reached")


def listening_socket(host: str, port: int, backlog: int = 128) -> ReservingSocket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = ReservingSocket(family, kind, proto)
    sock.limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(backlog)
    sock.setblocking(False)
    return sock
