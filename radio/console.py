"""An operator's action in, the running radio changed and the change recorded out.

Edits go to stations.toml first (validated, atomic; see radio/lineup/edits.py),
then to the running radio, then to the catalog's edits log: the file is the
truth, and a refused edit changes nothing. Skips and "apply now" act on air and
are logged the same way, with who did it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from radio.core import Radio
from radio.errors import ConfigError, NotFound
from radio.lineup.edits import Change, add_station, edit_station, remove_station
from radio.tracks import EditRecord

OFF = "the operator console is off: start the server with RADIO_ADMIN_TOKEN set to enable it"
TOKEN_FILE = "admin-token"


def stored_token(cache_dir: Path) -> str:
    """The admin token kept in cache/admin-token, made on first use (mode 0600, owner only).

    A first `radio serve` with no token configured gets a console at once, and later
    starts reuse the same token, so a bookmarked console link keeps working.
    """
    path = cache_dir / TOKEN_FILE
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_token(path)
    except OSError as exc:
        raise ConfigError(f"cannot create the admin token: {exc.strerror}", path=str(path)) from exc
    token = secrets.token_urlsafe(24)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(token + "\n")
    return token


def _read_token(path: Path) -> str:
    try:
        token = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the admin token: {exc}", path=str(path)) from exc
    if not token or not token.isprintable() or " " in token:
        raise ConfigError(
            "the admin token must be one word; delete the file for a new one", path=str(path)
        )
    return token


class Console:
    def __init__(self, radio: Radio) -> None:
        self.radio = radio
        # One edit at a time from file to running lineup, so a slower request can
        # never apply an older lineup over a newer one.
        self._lock = asyncio.Lock()

    async def edit(
        self, station_id: str, changes: Mapping[str, Any], who: str
    ) -> tuple[Change, int]:
        """Set the given keys of one station; a key set to None goes back to [defaults]."""
        async with self._lock:
            path = self.radio.lineup.path
            change = await asyncio.to_thread(edit_station, path, station_id, changes)
            return change, await self._apply(change, "edit", who)

    async def add(self, values: Mapping[str, Any], who: str) -> tuple[Change, int]:
        async with self._lock:
            change = await asyncio.to_thread(add_station, self.radio.lineup.path, values)
            return change, await self._apply(change, "add", who)

    async def remove(self, station_id: str, who: str) -> tuple[Change, int]:
        async with self._lock:
            change = await asyncio.to_thread(remove_station, self.radio.lineup.path, station_id)
            return change, await self._apply(change, "remove", who)

    async def skip(self, station_id: str, who: str) -> tuple[str | None, int]:
        """Crossfade into the next track now; returns the title skipped."""
        on_air = self.radio.station(station_id)
        now = on_air.playout.now
        title = on_air.playout.stream_title(now.track) if now else None
        on_air.playout.skip()
        return title, await self._record(station_id, "skip", who, {"now_playing": title}, None)

    async def apply_now(self, station_id: str, who: str) -> tuple[int, int]:
        """Drop the unplayed backlog so edits are heard next; returns how many tracks."""
        if self.radio.lineup.get(station_id) is None:
            raise NotFound(f"no station {station_id!r}")
        dropped = await self.radio.drop_backlog(station_id)
        return dropped, await self._record(station_id, "apply-now", who, {"dropped": dropped}, None)

    async def edits(self, station: str | None, limit: int) -> list[EditRecord]:
        return await self.radio.catalog.run(lambda c: c.edits(station, limit))

    async def _apply(self, change: Change, action: str, who: str) -> int:
        await self.radio.apply_lineup(change.lineup)
        return await self._record(change.station, action, who, change.before, change.after)

    async def _record(
        self,
        station: str,
        action: str,
        who: str,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
    ) -> int:
        return await self.radio.catalog.run(
            lambda c: c.record_edit(station, action, who, before, after)
        )
