"""Console requests in, console actions and their JSON out; the token is checked before these.

Thin handlers: each reads the request, calls the Console (radio/console.py) and
shapes the answer; every rule lives in the domain.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

from aiohttp import web
from tzlocal import get_localzone

from radio.lineup.edits import MAX_NESTING, nesting, station_table
from radio.server import shapes
from radio.server.keys import CONSOLE, OPERATOR, RADIO
from radio.server.params import query_int

MAX_EDITS = 500


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(reason="the body must be a JSON object") from None
    except ValueError:  # an integer past Python's 4,300-digit limit on reading one
        raise web.HTTPBadRequest(reason="the body holds a number too long to read") from None
    except RecursionError:  # json recurses once per level: thousands of `[` exhaust it
        raise web.HTTPBadRequest(reason="the body is nested too deeply") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(reason="the body must be a JSON object")
    if nesting(body) > MAX_NESTING:
        raise web.HTTPBadRequest(reason=f"the body is nested deeper than {MAX_NESTING} levels")
    return body


async def overview(request: web.Request) -> web.Response:
    """GET /api/admin/stations: every station's settings (disabled ones too) and live state."""
    radio = request.config_dict[RADIO]
    stations = [
        {**station_table(radio.lineup, s.id), "live": shapes.live(radio, s.id)}
        for s in radio.lineup.stations
    ]
    return web.json_response(
        {
            "stations": stations,
            "defaults": dataclasses.asdict(radio.lineup.defaults),
            "generator": {"name": radio.generator.name, "model": radio.generator.model},
            "timezone": str(get_localzone()),  # the zone dayparts are read in
            "uptime": round(time.time() - radio.started, 1),
        }
    )


async def pool(request: web.Request) -> web.Response:
    """GET /api/admin/pool: where generation runs, and each worker's device, model and counts."""
    kind, workers = request.config_dict[RADIO].pool()
    return web.json_response(
        {"workers": kind, "pool": [dataclasses.asdict(worker) for worker in workers]}
    )


async def outputs(request: web.Request) -> web.Response:
    """GET /api/admin/outputs: each station's Icecast push (state, bytes, drops, errors)."""
    radio = request.config_dict[RADIO]
    config = radio.lineup.icecast
    shown = [shapes.icecast_output(on_air) for on_air in radio.on_air.values()]
    return web.json_response(
        {
            "icecast": {"enabled": config.enabled, "server": f"{config.host}:{config.port}"},
            "outputs": [output for output in shown if output is not None],
        }
    )


async def edits(request: web.Request) -> web.Response:
    """GET /api/admin/edits?station=&limit=: the audit trail, newest first."""
    station = request.query.get("station") or None
    limit = query_int(request, "limit", 50, 1, MAX_EDITS)
    rows = await request.app[CONSOLE].edits(station, limit)
    return web.json_response({"edits": [shapes.edit(r) for r in rows]})


async def edit(request: web.Request) -> web.Response:
    """PATCH /api/admin/stations/<id>: set the given keys; null removes an override."""
    station_id = request.match_info["station"]
    changes = await _body(request)
    change, edit_id = await request.app[CONSOLE].edit(station_id, changes, request[OPERATOR])
    return web.json_response({"station": station_table(change.lineup, station_id), "edit": edit_id})


async def add(request: web.Request) -> web.Response:
    """POST /api/admin/stations: a new station (the same keys as a [[stations]] table)."""
    values = await _body(request)
    change, edit_id = await request.app[CONSOLE].add(values, request[OPERATOR])
    body = {"station": station_table(change.lineup, change.station), "edit": edit_id}
    return web.json_response(body, status=201)


async def remove(request: web.Request) -> web.Response:
    """DELETE /api/admin/stations/<id>: take it off air and out of stations.toml."""
    station_id = request.match_info["station"]
    _, edit_id = await request.app[CONSOLE].remove(station_id, request[OPERATOR])
    return web.json_response({"removed": station_id, "edit": edit_id})


async def skip(request: web.Request) -> web.Response:
    """POST /api/admin/stations/<id>/skip: crossfade into the next track now."""
    station_id = request.match_info["station"]
    title, edit_id = await request.app[CONSOLE].skip(station_id, request[OPERATOR])
    return web.json_response({"skipped": title, "edit": edit_id}, status=202)


async def apply_now(request: web.Request) -> web.Response:
    """POST /api/admin/stations/<id>/apply-now: drop the unplayed backlog; edits play next."""
    station_id = request.match_info["station"]
    dropped, edit_id = await request.app[CONSOLE].apply_now(station_id, request[OPERATOR])
    return web.json_response({"dropped": dropped, "edit": edit_id})
