"""Domain values in, the JSON shapes every handler sends out; the one place they are built.

Field names are the API's contract (README, web/): a track's `audio_hash` is
sent as `hash`, and every track carries the URL of its audio.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from aiohttp import web

from radio.core import OnAir, Radio
from radio.playout import CHUNK_SECONDS
from radio.scheduler import target
from radio.server.keys import SETTINGS
from radio.tracks import EditRecord, PlayRecord, Track, TrackRecord

JSON = dict[str, Any]


def base_url(request: web.Request) -> str:
    """Where listeners reach us: the public_url setting, else the address this connection
    reached. Never the Host header: the client writes it, and it went straight into
    playlists, icy-url and listenurl (#10 item 8)."""
    public = request.config_dict[SETTINGS].public_url
    return public.rstrip("/") if public else f"{request.scheme}://{server_address(request)}"


def server_address(request: web.Request) -> str:
    """host:port of the socket that accepted this connection (the setting's, failing that)."""
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport else None
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        host, port = str(sockname[0]), int(sockname[1])
    else:
        settings = request.config_dict[SETTINGS]
        host, port = settings.host, settings.port
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


HLS_TYPE = "application/vnd.apple.mpegurl"


def mount_url(base: str, station_id: str, kind: str = "mp3") -> str:
    return f"{base}/stream/{station_id}.{kind}"


def hls_url(base: str, station_id: str) -> str:
    return f"{base}/hls/{station_id}/live.m3u8"


def byte_rate(on_air: OnAir) -> int:
    """The mount's bytes per second: it is CBR, so bytes map to time exactly."""
    return on_air.station.bitrate * 125


def track_brief(track: Track, on_air: OnAir) -> JSON:
    return {
        "id": track.id,
        "title": track.title,
        "artist": on_air.playout.artist,
        "duration": round(track.duration, 3),
    }


def now_playing(on_air: OnAir) -> JSON | None:
    now = on_air.playout.now
    if now is None:
        return None
    elapsed = max(0.0, time.time() - now.started)
    return {
        **track_brief(now.track, on_air),
        "display": on_air.playout.stream_title(now.track),
        "started_at": now.started,
        "elapsed": round(elapsed, 2),
        "remaining": round(max(0.0, now.track.duration - elapsed), 2),
    }


def station_summary(base: str, radio: Radio, on_air: OnAir) -> JSON:
    station = on_air.station
    by_format = on_air.listeners_by_format()
    return {
        "id": station.id,
        "name": station.name,
        "genre": station.genre,
        "description": station.description,
        "bitrate": station.bitrate,
        "stream": {
            **{kind: mount_url(base, station.id, kind) for kind in ("mp3", "opus", "m3u", "pls")},
            "hls": hls_url(base, station.id),
        },
        "now_playing": now_playing(on_air),
        "listeners": sum(by_format.values()),  # of every mount and HLS
        "listeners_by_format": by_format,
        "listener_peak": on_air.broadcast.peak_listeners,
        "backlog_seconds": round(radio.seconds_ahead(station.id), 2),
        "backlog_target_seconds": target(station),
    }


def station_detail(base: str, radio: Radio, on_air: OnAir, plays: list[PlayRecord]) -> JSON:
    station_id = on_air.station.id
    up_next = on_air.playout.up_next
    stats = radio.scheduler.stats.get(station_id)
    return {
        **station_summary(base, radio, on_air),
        "next_up": track_brief(up_next, on_air) if up_next else None,
        "recent": [play(p) for p in plays],
        "generation": {
            "generator": radio.generator.name,
            "model": radio.generator.model,
            "tracks": stats.generated if stats else 0,
            "failed": stats.failed if stats else 0,
            "replays": radio.backlog.replays.get(station_id, 0),
        },
    }


def track_event(on_air: OnAir) -> JSON | None:
    """A `track` event: what started, and where in the stream (see server/events.py)."""
    playing = on_air.playout.now
    if playing is None:
        return None
    track = playing.track
    # `started` is taken just after the chunk holding the track's first sample is
    # published; that sample lies on average half a chunk before the chunk's end.
    behind = time.time() - playing.started + CHUNK_SECONDS / 2
    return {
        "station": on_air.station.id,
        "track": {
            **track_brief(track, on_air),
            "display": on_air.playout.stream_title(track),
        },
        "started_at": playing.started,
        # The exact place: the stream byte where the track's audio begins, and the
        # mount's bytes per second (CBR), for players that know their session's start.
        "offset": playing.offset,
        "byte_rate": byte_rate(on_air),
        "behind": round(max(0.0, behind), 3),
    }


def track_record(record: TrackRecord) -> JSON:
    body = dataclasses.asdict(record)
    body["hash"] = body.pop("audio_hash")
    body["duration"] = round(record.duration, 3)
    body["audio_url"] = f"/api/tracks/{record.id}/audio"
    return body


def play(record: PlayRecord) -> JSON:
    body = dataclasses.asdict(record)
    body["id"] = body.pop("track_id")  # the track's id, as in every other track shape
    return body


def edit(record: EditRecord) -> JSON:
    return dataclasses.asdict(record)


def live(radio: Radio, station_id: str) -> JSON:
    """A station's state for the operator console, on air or not."""
    on_air = radio.on_air.get(station_id)
    stats = radio.scheduler.stats.get(station_id)
    daypart = radio.daypart(station_id)
    busy = stats.seconds_busy if stats else 0.0
    now = on_air.playout.now if on_air else None
    return {
        "on_air": on_air is not None,
        "now_playing": on_air.playout.stream_title(now.track) if on_air and now else None,
        "listeners": on_air.listeners if on_air else 0,
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


def icecast_output(on_air: OnAir) -> JSON | None:
    """A station's Icecast source output for the console, or None where it has none."""
    output = on_air.icecast
    if output is None:
        return None
    status, target = output.status, output.target
    return {
        "station": on_air.station.id,
        "server": f"{target.host}:{target.port}",
        "mount": target.mount,
        "state": status.state,
        "connected": status.state == "streaming",
        "since": status.since,
        "bytes_sent": status.bytes_sent,
        "dropped_bytes": status.dropped_bytes,
        "drops": status.drops,
        "reconnects": status.reconnects,
        "failures": status.failures,
        "last_error": status.last_error,
    }
