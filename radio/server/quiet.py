"""aiohttp's server log records in; one short, rate-limited line per malformed request out.

Without login, anyone could fill the disk through the log (#10 item 5): aiohttp
logs a 0.6 KB traceback for each malformed request. A client that hangs up is
not an error at all (the app's middleware answers nobody; see server/app.py), so
a record of one is dropped. A malformed request keeps one line naming who sent it
and what was wrong, at most PER_MINUTE a minute; the next line says how many went
unlogged. Every other record, a real bug's traceback above all, passes untouched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from aiohttp.http_exceptions import HttpProcessingError

SERVER_LOGGER = "aiohttp.server"
PER_MINUTE = 10


class QuietServerLog(logging.Filter):
    def __init__(self, per_minute: int = PER_MINUTE, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.per_minute = per_minute
        self.clock = clock
        self._window_start = -60.0
        self._logged = 0
        self.unlogged = 0

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, ConnectionError):
            return False  # the client hung up: nothing went wrong here
        if not isinstance(error, HttpProcessingError):
            return True
        now = self.clock()
        if now - self._window_start >= 60.0:
            self._window_start, self._logged = now, 0
        if self._logged >= self.per_minute:
            self.unlogged += 1
            return False
        self._logged += 1
        remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        # The parser's message quotes the client's bytes (after a colon, or on the lines
        # below): keep only its own words, escaped and short, so no request writes the log.
        lines = (error.message or "").strip().splitlines()
        reason = lines[0].partition(":")[0] if lines else "bad request"
        more = f" ({self.unlogged} more not logged)" if self.unlogged else ""
        self.unlogged = 0
        record.msg = "malformed request from %s: %d %s%s"
        record.args = (remote, error.code, ascii(reason[:80]), more)
        record.exc_info, record.exc_text = None, None
        record.levelno, record.levelname = logging.INFO, "INFO"
        return True


_FILTER = QuietServerLog()


def quiet_server_log() -> None:
    """Filter aiohttp's server logger (once per process: adding the same filter is a no-op)."""
    logging.getLogger(SERVER_LOGGER).addFilter(_FILTER)
