"""JSON API requests in, stations with now playing and the catalog of tracks out."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from radio.errors import Gone, NotFound
from radio.server import shapes
from radio.server.keys import RADIO
from radio.server.params import SQLITE_MAX_INT, ascii_int, query_int
from radio.tracks import TrackRecord

MAX_LIMIT = 200


async def stations(request: web.Request) -> web.Response:
    radio, base = request.app[RADIO], shapes.base_url(request)
    body = [shapes.station_summary(base, radio, on_air) for on_air in radio.on_air.values()]
    return web.json_response({"stations": body})


async def station(request: web.Request) -> web.Response:
    radio = request.app[RADIO]
    on_air = radio.station(request.match_info["station"])
    station_id = on_air.station.id
    plays = await radio.catalog.run(lambda c: c.recent_plays(station_id, 20))
    return web.json_response(shapes.station_detail(shapes.base_url(request), radio, on_air, plays))


async def tracks(request: web.Request) -> web.Response:
    radio = request.app[RADIO]
    station_id = request.query.get("station") or None
    if station_id is not None and radio.lineup.get(station_id) is None:
        raise NotFound(f"no station {station_id!r}")
    limit = query_int(request, "limit", 50, 1, MAX_LIMIT)
    before = query_int(request, "before", 0, 1, SQLITE_MAX_INT) or None
    records = await radio.catalog.run(lambda c: c.tracks(station_id, limit, before))
    next_before = records[-1].id if len(records) == limit else None
    body = {"tracks": [shapes.track_record(r) for r in records], "next_before": next_before}
    return web.json_response(body)


async def session(request: web.Request) -> web.Response:
    """Where a player's connection started in the stream: with a track's `offset` (from
    the events) it puts the track's start on the audio element's clock, exactly."""
    on_air = request.app[RADIO].station(request.match_info["station"])
    start = on_air.broadcast.sessions.get(request.match_info["session"])
    if start is None:
        raise NotFound("no connection with that session on this mount")
    return web.json_response({"start": start, "byte_rate": shapes.byte_rate(on_air)})


async def _record(request: web.Request) -> TrackRecord:
    track_id = ascii_int(request.match_info["id"], "track id")
    return await request.app[RADIO].catalog.run(lambda c: c.track(track_id))


async def track(request: web.Request) -> web.Response:
    return web.json_response(shapes.track_record(await _record(request)))


async def track_audio(request: web.Request) -> web.FileResponse:
    record = await _record(request)
    if record.pruned_at is not None:
        raise Gone(f"the audio of track {record.id} was pruned from the cache {record.pruned_at}")
    cache = request.app[RADIO].cache_dir.resolve()
    path = (cache / record.path).resolve()
    # The path comes from our own catalog, but never serve anything outside cache/.
    if not path.is_relative_to(cache) or not path.is_file():
        raise NotFound(f"audio of track {record.id} is not in the cache")
    filename = f"{record.station}-{record.id}{Path(record.path).suffix}"
    return web.FileResponse(
        path,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Content-Type": "audio/flac",
        },
    )
