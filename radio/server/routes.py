"""The whole URL table on one screen."""

from __future__ import annotations

from aiohttp import web

from radio.server import admin, api, events, pages, streams
from radio.shipped import WEB


def setup_routes(app: web.Application) -> None:
    r = app.router
    # Icecast-compatible mounts, playlists and status
    r.add_get("/stream/{station}.mp3", streams.stream)  # add_get also answers HEAD
    r.add_route("OPTIONS", "/stream/{station}.mp3", streams.preflight)
    r.add_get("/stream/{station}.m3u", streams.m3u)
    r.add_get("/stream/{station}.pls", streams.pls)
    r.add_get("/stations.m3u", streams.all_stations_m3u)
    r.add_get("/status-json.xsl", streams.status_json)
    # JSON API
    r.add_get("/api/stations", api.stations)
    r.add_get("/api/stations/{station}", api.station)
    r.add_get("/api/stations/{station}/sessions/{session}", api.session)
    r.add_get("/api/tracks", api.tracks)
    r.add_get("/api/tracks/{id}", api.track)
    r.add_get("/api/tracks/{id}/audio", api.track_audio)
    r.add_get("/api/events", events.stream)  # server-sent events: tracks, listeners, lineup
    # Operator console API: Authorization: Bearer <admin token> (see admin.py)
    r.add_get("/api/admin/stations", admin.overview)
    r.add_post("/api/stations", admin.add)
    r.add_patch("/api/stations/{station}", admin.edit)
    r.add_delete("/api/stations/{station}", admin.remove)
    r.add_post("/api/stations/{station}/skip", admin.skip)
    r.add_post("/api/stations/{station}/apply-now", admin.apply_now)
    r.add_get("/api/edits", admin.edits)
    # Listener page, operator console and their assets: web/, no build step
    r.add_get("/", pages.index)
    r.add_get("/admin", pages.admin)
    r.add_static("/static/", WEB)
