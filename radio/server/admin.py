"""The operator console's JSON API: token check, station edits, skip, apply now, edits log.

Every request carries `Authorization: Bearer <RADIO_ADMIN_TOKEN>`. With no token
configured the console is off and says how to turn it on (403); a missing or
wrong token is a 401. Edits go to stations.toml first (validated, atomic; see
radio/stations_file.py), then to the running radio, then to the catalog's
edits log: the file is the truth, and a refused edit changes nothing.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from radio.errors import AuthError, NotFound
from radio.lineup.dayparts import Dayparts
from radio.lineup.edits import Change, add_station, edit_station, remove_station, station_table
from radio.server.keys import RADIO
from radio.server.radio import Radio

OFF = "the operator console is off: start the server with RADIO_ADMIN_TOKEN set to enable it"
MAX_EDITS = 500


@dataclass
class Console:
    """What the console adds to a running radio: dayparts and one edit at a time."""

    dayparts: Dayparts
    # One edit at a time from file to running lineup, so a slower request can
    # never apply an older lineup over a newer one.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


CONSOLE: web.AppKey[Console] = web.AppKey("console")


def setup(app: web.Application) -> None:
    app[CONSOLE] = Console(Dayparts(app[RADIO].scheduler.dayparts))
    app.cleanup_ctx.append(_console_lifecycle)


async def _console_lifecycle(app: web.Application) -> AsyncIterator[None]:
    dayparts = app[CONSOLE].dayparts
    dayparts.start(app[RADIO].lineup.stations)
    yield
    dayparts.stop()


# -- who is asking -------------------------------------------------------------------
def operator(request: web.Request) -> str:
    """Check the token; returns who is acting, for the edits log."""
    token = request.app[RADIO].settings.admin_token
    if not token:
        raise web.HTTPForbidden(reason=OFF)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise AuthError("missing token: send the header Authorization: Bearer <admin token>")
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise AuthError("wrong admin token")
    name = request.headers.get("X-Operator", "").strip()[:64]
    name = "".join(ch for ch in name if ch.isprintable()) or "operator"
    return f"{name} ({request.remote})"


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(reason="the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(reason="the body must be a JSON object")
    return body


# -- reading --------------------------------------------------------------------------
def _live(radio: Radio, station_id: str) -> dict[str, Any]:
    on_air = radio.on_air.get(station_id)
    stats = radio.scheduler.stats.get(station_id)
    daypart = radio.scheduler.dayparts.get(station_id)
    busy = stats.seconds_busy if stats else 0.0
    now = on_air.playout.now if on_air else None
    return {
        "on_air": on_air is not None,
        "now_playing": on_air.playout.stream_title(now.track) if on_air and now else None,
        "listeners": len(on_air.broadcast.listeners) if on_air else 0,
        "backlog_seconds": round(radio.seconds_ahead(station_id), 1),
        "generated": stats.generated if stats else 0,
        "failed": stats.failed if stats else 0,
        "seconds_generated": round(stats.seconds_generated, 1) if stats else 0.0,
        # Seconds of music made per second of generator time: below 1 the station
        # can only be kept on air by replays.
        "speed": round(stats.seconds_generated / busy, 2) if stats and busy else None,
        "replays": radio.backlog.replays.get(station_id, 0),
        "daypart": daypart.name if daypart else None,
    }


async def overview(request: web.Request) -> web.Response:
    """GET /api/admin/stations: every station's settings (disabled ones too) and live state."""
    operator(request)
    radio = request.app[RADIO]
    stations = [
        {**station_table(radio.lineup, s.id), "live": _live(radio, s.id)}
        for s in radio.lineup.stations
    ]
    defaults = radio.lineup.defaults
    return web.json_response(
        {
            "stations": stations,
            "defaults": {
                "track_seconds": defaults.track_seconds,
                "crossfade_seconds": defaults.crossfade_seconds,
                "backlog_minutes": defaults.backlog_minutes,
                "bitrate": defaults.bitrate,
            },
            "generator": {"name": radio.generator.name, "model": radio.generator.model},
            "timezone": str(request.app[CONSOLE].dayparts.timezone),
            "uptime": round(time.time() - radio.started, 1),
        }
    )


async def edits(request: web.Request) -> web.Response:
    """GET /api/edits?station=&limit=: the audit trail, newest first."""
    operator(request)
    station = request.query.get("station") or None
    raw = request.query.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_EDITS:
        raise web.HTTPBadRequest(reason=f"limit must be an integer from 1 to {MAX_EDITS}")
    limit = int(raw)
    rows = await request.app[RADIO].catalog.run(lambda c: c.edits(station, limit))
    return web.json_response({"edits": rows})


# -- changing the lineup ---------------------------------------------------------------
async def _apply(request: web.Request, who: str, action: str, change: Change) -> int:
    radio, console = request.app[RADIO], request.app[CONSOLE]
    await radio.apply_lineup(change.lineup)
    console.dayparts.sync(change.lineup.stations)
    return await radio.catalog.run(
        lambda c: c.record_edit(change.station, action, who, change.before, change.after)
    )


async def edit(request: web.Request) -> web.Response:
    """PATCH /api/stations/<id>: set the given keys; null removes an override."""
    who = operator(request)
    station_id = request.match_info["station"]
    changes = await _body(request)
    radio, console = request.app[RADIO], request.app[CONSOLE]
    async with console.lock:
        path = radio.lineup.path
        change = await asyncio.to_thread(edit_station, path, station_id, changes)
        edit_id = await _apply(request, who, "edit", change)
    return web.json_response({"station": station_table(change.lineup, station_id), "edit": edit_id})


async def add(request: web.Request) -> web.Response:
    """POST /api/stations: a new station (the same keys as a [[stations]] table)."""
    who = operator(request)
    values = await _body(request)
    radio, console = request.app[RADIO], request.app[CONSOLE]
    async with console.lock:
        change = await asyncio.to_thread(add_station, radio.lineup.path, values)
        edit_id = await _apply(request, who, "add", change)
    body = {"station": station_table(change.lineup, change.station), "edit": edit_id}
    return web.json_response(body, status=201)


async def remove(request: web.Request) -> web.Response:
    """DELETE /api/stations/<id>: take it off air and out of stations.toml."""
    who = operator(request)
    station_id = request.match_info["station"]
    radio, console = request.app[RADIO], request.app[CONSOLE]
    async with console.lock:
        change = await asyncio.to_thread(remove_station, radio.lineup.path, station_id)
        edit_id = await _apply(request, who, "remove", change)
    return web.json_response({"removed": station_id, "edit": edit_id})


# -- acting on air ---------------------------------------------------------------------
async def skip(request: web.Request) -> web.Response:
    """POST /api/stations/<id>/skip: crossfade into the next track now."""
    who = operator(request)
    radio = request.app[RADIO]
    on_air = radio.station(request.match_info["station"])
    now = on_air.playout.now
    title = on_air.playout.stream_title(now.track) if now else None
    on_air.playout.skip()
    state = {"now_playing": title}
    edit_id = await radio.catalog.run(
        lambda c: c.record_edit(on_air.station.id, "skip", who, state, None)
    )
    return web.json_response({"skipped": title, "edit": edit_id}, status=202)


async def apply_now(request: web.Request) -> web.Response:
    """POST /api/stations/<id>/apply-now: drop the unplayed backlog so edits are heard next."""
    who = operator(request)
    radio = request.app[RADIO]
    station_id = request.match_info["station"]
    if radio.lineup.get(station_id) is None:
        raise NotFound(f"no station {station_id!r}")
    dropped = await radio.drop_backlog(station_id)
    edit_id = await radio.catalog.run(
        lambda c: c.record_edit(station_id, "apply-now", who, {"dropped": dropped}, None)
    )
    return web.json_response({"dropped": dropped, "edit": edit_id})
