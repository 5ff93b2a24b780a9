"""The whole URL table on one screen."""

from __future__ import annotations

from aiohttp import web

from radio.console import Console
from radio.server import api, events, hls, metrics, mounts, pages
from radio.server.admin import admin_app
from radio.server.keys import RADIO


def setup_routes(app: web.Application) -> None:
    r = app.router
    # Icecast-compatible mounts, playlists and status
    r.add_get("/stream/{station}.mp3", mounts.stream)  # add_get also answers HEAD
    r.add_get("/stream/{station}.opus", mounts.opus_stream)
    r.add_get("/stream/{station}.m3u", mounts.m3u)
    r.add_get("/stream/{station}.pls", mounts.pls)
    r.add_get("/stations.m3u", mounts.all_stations_m3u)
    r.add_get("/status-json.xsl", mounts.status_json)
    # HLS: a live playlist per station and its segments (CDN-cacheable)
    r.add_get("/hls/{station}/live.m3u8", hls.live)
    r.add_get("/hls/{station}/{sequence}.ts", hls.segment)
    r.add_get("/hls/{tail:.*}", hls.malformed)
    r.add_get("/metrics", metrics.metrics)  # Prometheus text format
    # JSON API
    r.add_get("/api/stations", api.stations)
    r.add_get("/api/stations/{station}", api.station)
    r.add_get("/api/stations/{station}/sessions/{session}", api.session)
    r.add_get("/api/tracks", api.tracks)
    r.add_get("/api/tracks/{id}", api.track)
    r.add_get("/api/tracks/{id}/audio", api.track_audio)
    r.add_get("/api/events", events.stream)  # server-sent events: tracks, listeners, lineup
    # Operator console API: its own sub-app behind one token check (server/admin/)
    app.add_subapp("/api/admin/", admin_app(Console(app[RADIO])))
    # Listener page, operator console and their assets: web/, no build step
    r.add_get("/", pages.index)
    r.add_get("/admin", pages.admin)
    r.add_get("/static/{path:.+}", pages.asset)
