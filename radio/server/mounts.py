"""Mount requests in, Icecast-style answers out: /stream/<id>.mp3 with ICY and
/stream/<id>.opus (chained Ogg, titles in its OpusTags), playlists, status."""

from __future__ import annotations

import re
import socket
import struct
import time
from email.utils import formatdate
from typing import Any

from aiohttp import web

from radio.broadcast import Broadcast
from radio.core import OnAir
from radio.icy import METAINT, metaint_for
from radio.opus import OPUS_RATE
from radio.server.keys import RADIO, SETTINGS
from radio.server.shapes import HLS_TYPE, base_url, hls_url, mount_url, server_address

SEND_BUFFER_BYTES = 64 * 1024
SESSION = re.compile(r"[A-Za-z0-9_-]{8,64}")  # a player's own id for its connection
SERVER_ID = "AI Radio 0.1 (Icecast 2.4 compatible)"


def _on_air(request: web.Request) -> OnAir:
    return request.app[RADIO].station(request.match_info["station"])


class RawStreamResponse(web.StreamResponse):
    """A mount's answer: the body is raw bytes to the end of the connection, for
    HTTP/1.0 and HTTP/1.1 alike, as Icecast sends it.

    aiohttp chunks any HTTP/1.1 body without a length, and clients that read a mount
    raw (streamripper, simple ICY players, hardware radios) then see chunk-size lines
    inside the audio (issue #8). Its WebSocketResponse switches the length check off
    the same way; with keep-alive off, the end of the connection ends the body."""

    _length_check = False

    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__(headers=headers)
        self.force_close()


def _full(request: web.Request, on_air: OnAir, mount: Broadcast) -> str | None:
    """Why a new listener cannot join, or None: Icecast's `clients` and `max-listeners`."""
    settings = request.app[SETTINGS]
    total = sum(a.connections for a in request.app[RADIO].on_air.values())
    if settings.max_listeners and total >= settings.max_listeners:
        return f"the server has its maximum of {settings.max_listeners} listeners (max_listeners)"
    if settings.max_listeners_per_mount and (
        len(mount.listeners) >= settings.max_listeners_per_mount
    ):
        return (
            f"mount {request.path!r} has its maximum of "
            f"{settings.max_listeners_per_mount} listeners (max_listeners_per_mount)"
        )
    return None


def _station_headers(request: web.Request, on_air: OnAir, rate: int, kbps: int) -> dict[str, str]:
    station = on_air.station
    return {
        "Cache-Control": "no-cache, no-store",
        "icy-name": station.name,
        "icy-description": station.description,
        "icy-genre": station.genre,
        "icy-url": base_url(request),
        "icy-br": str(kbps),
        "icy-pub": "1",
        "ice-audio-info": f"ice-samplerate={rate};ice-bitrate={kbps};ice-channels=2",
    }


async def stream(request: web.Request) -> web.StreamResponse:
    """GET/HEAD /stream/<id>.mp3: burst on connect, then the live broadcast."""
    on_air = _on_air(request)
    want_meta = request.headers.get("Icy-MetaData", "").strip() == "1"
    headers = {
        "Content-Type": "audio/mpeg",
        **_station_headers(request, on_air, 44100, on_air.station.bitrate),
    }
    metaint = metaint_for(on_air.station.bitrate)
    if want_meta:
        headers["icy-metaint"] = str(metaint)
    return await _serve(request, on_air, on_air.broadcast, headers, want_meta, metaint)


async def opus_stream(request: web.Request) -> web.StreamResponse:
    """GET/HEAD /stream/<id>.opus: chained Ogg Opus; titles travel in the stream, not ICY."""
    on_air = _on_air(request)
    headers = {
        "Content-Type": "audio/ogg",
        **_station_headers(request, on_air, OPUS_RATE, on_air.station.opus_bitrate),
    }
    return await _serve(request, on_air, on_air.opus, headers, want_meta=False)


async def _serve(
    request: web.Request,
    on_air: OnAir,
    broadcast: Broadcast,
    headers: dict[str, str],
    want_meta: bool,
    metaint: int = METAINT,  # bytes between ICY blocks, for listeners that asked for them
) -> web.StreamResponse:
    """Burst on connect, then the live broadcast, until the broadcast lets go."""
    if request.method != "HEAD" and (reason := _full(request, on_air, broadcast)):
        return web.json_response({"error": reason}, status=503, headers={"Retry-After": "30"})
    response = RawStreamResponse(headers)
    await response.prepare(request)  # sends the headers at once, ahead of the burst
    transport = request.transport
    if request.method == "HEAD" or transport is None or transport.is_closing():
        return response
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # Bound the kernel's share of a listener's backlog (loopback autotunes it to
        # megabytes), so the lag the broadcast measures is the lag there really is.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        # We close a mount only to drop a listener that stopped reading (or at shutdown):
        # reset it, rather than leave its unsent bytes lingering in the kernel for
        # minutes after a graceful close (#10 measured about 285 s).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    session = request.query.get("session")
    session = session if session and SESSION.fullmatch(session) else None
    # From here the broadcast writes into the transport itself; this handler only
    # keeps the request open until the broadcast lets the listener go.
    listener = broadcast.join(transport, want_meta, session, metaint)
    try:
        await listener.gone
    finally:
        broadcast.leave(listener)
    return response


async def m3u(request: web.Request) -> web.Response:
    station = _on_air(request).station
    body = f"#EXTM3U\n#EXTINF:-1,{station.name}\n{mount_url(base_url(request), station.id)}\n"
    return web.Response(text=body, content_type="audio/x-mpegurl")


async def pls(request: web.Request) -> web.Response:
    station = _on_air(request).station
    body = (
        f"[playlist]\nNumberOfEntries=1\nFile1={mount_url(base_url(request), station.id)}\n"
        f"Title1={station.name}\nLength1=-1\nVersion=2\n"
    )
    return web.Response(text=body, content_type="audio/x-scpls")


async def all_stations_m3u(request: web.Request) -> web.Response:
    lines = ["#EXTM3U"]
    for on_air in request.app[RADIO].on_air.values():
        lines += [
            f"#EXTINF:-1,{on_air.station.name}",
            mount_url(base_url(request), on_air.station.id),
        ]
    return web.Response(text="\n".join(lines) + "\n", content_type="audio/x-mpegurl")


def _rfc822(epoch: float) -> str:
    return formatdate(epoch, usegmt=False).replace("-0000", "+0000")


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(epoch))


SERVER_TYPES = {"mp3": "audio/mpeg", "opus": "audio/ogg"}


def _source(
    base: str, on_air: OnAir, broadcast: Broadcast, kind: str, rate: int, kbps: int
) -> dict[str, Any]:
    """One mount's source entry, in the order and shape Icecast 2.4 writes it."""
    station = on_air.station
    source: dict[str, Any] = {
        "audio_info": f"ice-samplerate={rate};ice-bitrate={kbps};ice-channels=2",
        "bitrate": kbps,
        "genre": station.genre,
        "ice-bitrate": kbps,
        "ice-channels": 2,
        "ice-samplerate": rate,
        "listener_peak": broadcast.peak_listeners,
        "listeners": len(broadcast.listeners),
        "slow_listeners": broadcast.slow_listeners,
        "listenurl": mount_url(base, station.id, kind),
        "server_description": station.description,
        "server_name": station.name,
        "server_type": SERVER_TYPES[kind],
        "server_url": base + "/",
        "stream_start": _rfc822(on_air.started),
        "stream_start_iso8601": _iso(on_air.started),
    }
    if broadcast.title:
        source["title"] = broadcast.title
    source["dummy"] = None  # Icecast 2.4's XSL leaves this null key in every source
    return source


def _hls_source(base: str, on_air: OnAir) -> dict[str, Any]:
    """HLS as a source of its own, as Icecast lists each mount: tools that add up
    `listeners` over the sources get every listener once, and the MP3 mount's own
    count stays what its listenurl serves."""
    hls = on_air.hls
    station = on_air.station
    source = _source(base, on_air, on_air.broadcast, "mp3", 44100, station.bitrate)
    source.update(
        listener_peak=hls.listeners.peak,
        listeners=hls.listeners.count(time.monotonic()),
        slow_listeners=0,  # a slow HLS client only fetches late; it holds nothing here
        listenurl=hls_url(base, station.id),
        server_type=HLS_TYPE,
    )
    source.pop("title", None)
    if hls.title:
        source["title"] = hls.title
    source["dummy"] = source.pop("dummy")  # keep Icecast's key order: dummy last
    return source


def icecast_sources(sources: list[dict[str, Any]]) -> dict[str, Any]:
    """Icecast quirk: one source is an object, several are a list, none omits the key."""
    if len(sources) == 1:
        return {"source": sources[0]}
    return {"source": sources} if sources else {}


async def status_json(request: web.Request) -> web.Response:
    """/status-json.xsl in Icecast 2.4's schema, quirks included (see shared/reference)."""
    radio = request.app[RADIO]
    sources: list[dict[str, Any]] = []
    base = base_url(request)
    for on_air in radio.on_air.values():
        station = on_air.station
        sources.append(_source(base, on_air, on_air.broadcast, "mp3", 44100, station.bitrate))
        sources.append(_source(base, on_air, on_air.opus, "opus", OPUS_RATE, station.opus_bitrate))
        sources.append(_hls_source(base, on_air))
    icestats: dict[str, Any] = {
        "admin": "icemaster@localhost",
        "host": server_address(request).rsplit(":", 1)[0].strip("[]"),
        "location": "Earth",
        "server_id": SERVER_ID,
        "server_start": _rfc822(radio.started),
        "server_start_iso8601": _iso(radio.started),
        **icecast_sources(sources),
    }
    return web.json_response({"icestats": icestats})
