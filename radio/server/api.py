"""The JSON API: stations with now playing, and the catalog of tracks."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from aiohttp import web

from radio.errors import NotFound
from radio.server.keys import RADIO
from radio.server.radio import OnAir, Radio
from radio.server.streams import CORS, mount_url
from radio.tracks import Track

MAX_LIMIT = 200


def _track_brief(track: Track, on_air: OnAir) -> dict[str, Any]:
    return {
        "id": track.id,
        "title": track.title,
        "artist": on_air.playout.artist,
        "duration": round(track.duration, 3),
    }


def station_summary(request: web.Request, radio: Radio, on_air: OnAir) -> dict[str, Any]:
    station, playout = on_air.station, on_air.playout
    now = playout.now
    now_playing = None
    if now is not None:
        elapsed = max(0.0, time.time() - now.started)
        now_playing = {
            **_track_brief(now.track, on_air),
            "display": playout.stream_title(now.track),
            "started_at": now.started,
            "elapsed": round(elapsed, 2),
            "remaining": round(max(0.0, now.track.duration - elapsed), 2),
        }
    return {
        "id": station.id,
        "name": station.name,
        "genre": station.genre,
        "description": station.description,
        "bitrate": station.bitrate,
        "stream": {
            "mp3": mount_url(request, station.id),
            "m3u": mount_url(request, station.id, "m3u"),
            "pls": mount_url(request, station.id, "pls"),
        },
        "now_playing": now_playing,
        "listeners": len(on_air.broadcast.listeners),
        "listener_peak": on_air.broadcast.peak_listeners,
        "backlog_seconds": round(radio.seconds_ahead(station.id), 2),
        "backlog_target_seconds": station.backlog_seconds,
    }


async def stations(request: web.Request) -> web.Response:
    radio = request.app[RADIO]
    body = [station_summary(request, radio, on_air) for on_air in radio.on_air.values()]
    return web.json_response({"stations": body}, headers=CORS)


async def station(request: web.Request) -> web.Response:
    radio = request.app[RADIO]
    on_air = radio.station(request.match_info["station"])
    station_id = on_air.station.id
    up_next = on_air.playout.up_next
    stats = radio.scheduler.stats.get(station_id)
    plays = await radio.catalog.run(lambda c: c.recent_plays(station_id, 20))
    body = {
        **station_summary(request, radio, on_air),
        "next_up": _track_brief(up_next, on_air) if up_next else None,
        "recent": plays,
        "generation": {
            "generator": radio.generator.name,
            "model": radio.generator.model,
            "tracks": stats.generated if stats else 0,
            "failed": stats.failed if stats else 0,
            "replays": radio.backlog.replays.get(station_id, 0),
        },
    }
    return web.json_response(body, headers=CORS)


def _int_param(
    request: web.Request, name: str, default: int | None, low: int, high: int
) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise web.HTTPBadRequest(reason=f"{name} must be an integer, not {raw!r}") from None
    if not low <= value <= high:
        raise web.HTTPBadRequest(reason=f"{name} must be between {low} and {high}")
    return value


async def tracks(request: web.Request) -> web.Response:
    radio = request.app[RADIO]
    station_id = request.query.get("station") or None
    if station_id is not None and radio.lineup.get(station_id) is None:
        raise NotFound(f"no station {station_id!r}")
    limit = _int_param(request, "limit", 50, 1, MAX_LIMIT) or 50
    before = _int_param(request, "before", None, 1, 2**62)
    rows = await radio.catalog.run(lambda c: c.tracks(station_id, limit, before))
    next_before = rows[-1]["id"] if len(rows) == limit else None
    for row in rows:
        row["audio_url"] = f"/api/tracks/{row['id']}/audio"
    return web.json_response({"tracks": rows, "next_before": next_before}, headers=CORS)


async def session(request: web.Request) -> web.Response:
    """Where a player's connection started in the stream: with a track's `offset` (from
    the events) it puts the track's start on the audio element's clock, exactly."""
    on_air = request.app[RADIO].station(request.match_info["station"])
    start = on_air.broadcast.sessions.get(request.match_info["session"])
    if start is None:
        raise NotFound("no connection with that session on this mount")
    body = {"start": start, "byte_rate": on_air.station.bitrate * 125}
    return web.json_response(body, headers=CORS)


async def _track_row(request: web.Request) -> dict[str, Any]:
    track_id = _path_id(request)
    return await request.app[RADIO].catalog.run(lambda c: c.track(track_id))


def _path_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit():
        raise web.HTTPBadRequest(reason=f"track id must be a positive integer, not {raw!r}")
    return int(raw)


async def track(request: web.Request) -> web.Response:
    row = await _track_row(request)
    row["audio_url"] = f"/api/tracks/{row['id']}/audio"
    return web.json_response(row, headers=CORS)


async def track_audio(request: web.Request) -> web.FileResponse:
    row = await _track_row(request)
    cache = request.app[RADIO].cache_dir.resolve()
    path = (cache / row["path"]).resolve()
    # The path comes from our own catalog, but never serve anything outside cache/.
    if not path.is_relative_to(cache) or not path.is_file():
        raise NotFound(f"audio of track {row['id']} is not in the cache")
    filename = f"{row['station']}-{row['id']}{Path(row['path']).suffix}"
    return web.FileResponse(
        path,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Content-Type": "audio/flac",
            **CORS,
        },
    )
