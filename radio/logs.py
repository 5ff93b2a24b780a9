"""Rate-limited warnings: trouble that repeats is said at once, then counted, not logged forever.

A station that is late, an output that fails on every chunk or a listening socket
refusing connections would otherwise write a line per event (issue #10 saw 68,246
tracebacks in minutes). Each kind of trouble is logged the first time, then at most
once a minute with the number of times it happened in between.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

WARN_EVERY_SECONDS = 60.0


class Warnings:
    """Warnings to `logger`, each prefixed, at most one per kind per `every` seconds."""

    def __init__(
        self,
        logger: logging.Logger,
        prefix: str = "",
        every: float = WARN_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger, self.prefix, self.every, self.clock = logger, prefix, every, clock
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def warn(self, kind: str, message: str, *args: object) -> None:
        now = self.clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.every:
            self._held[kind] = self._held.get(kind, 0) + 1
            return
        held = self._held.pop(kind, 0)
        more = f" ({held} more since the last warning)" if held else ""
        self.logger.warning(f"{self.prefix}{message}{more}", *args)
        self._last[kind] = now
