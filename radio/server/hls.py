"""HLS requests in, a station's live playlist and its segments out, from memory.

Segment URLs are immutable (numbered by the wall clock, never reused), so they
carry a year's cache lifetime; the playlist changes every segment and carries
one second, so nginx, Varnish or a CDN in front can take the load. Each segment
fetch counts its client (address and User-Agent) as an HLS listener.
"""

from __future__ import annotations

import time

from aiohttp import web

from radio.core import ListenersChanged
from radio.errors import NotFound
from radio.hls import SEGMENT_SECONDS, HlsStream, playlist
from radio.server.keys import RADIO
from radio.server.shapes import HLS_TYPE

SEGMENT_TYPE = "video/mp2t"  # RFC 8216 names this type for MPEG-TS, audio-only included
PLAYLIST_CACHE = "public, max-age=1"
SEGMENT_CACHE = "public, max-age=31536000, immutable"


def _hls(request: web.Request) -> HlsStream:
    return request.app[RADIO].station(request.match_info["station"]).hls


async def live(request: web.Request) -> web.Response:
    """GET/HEAD /hls/<id>/live.m3u8: the last minute or so of segments."""
    hls = _hls(request)
    response = web.Response(
        text=playlist(hls.playlist_segments),
        content_type=HLS_TYPE,
        headers={"Cache-Control": PLAYLIST_CACHE, "Vary": "Accept-Encoding"},
    )
    # Every player fetches it every few seconds and it is repetitive text: gzip takes
    # it from about 1.9 kB to a sixth of that. Only gzip (aiohttp would pick deflate,
    # which some HTTP stacks mistake for raw deflate), and only where it is accepted.
    if "gzip" in request.headers.get("Accept-Encoding", "").lower():
        response.enable_compression(web.ContentCoding.gzip)
    return response


async def segment(request: web.Request) -> web.Response:
    """GET/HEAD /hls/<id>/<sequence>.ts: one segment, while it is in the window."""
    hls = _hls(request)
    raw = request.match_info["sequence"]
    sequence = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None
    if sequence is None:
        raise NotFound(f"no HLS segment {raw!r}: segments are named <sequence>.ts")
    found = hls.segment(sequence)
    if found is None:
        kept = [s.sequence for s in hls.segments]
        held = f"segments {kept[0]} to {kept[-1]} are held" if kept else "no segment is held yet"
        raise NotFound(
            f"HLS segment {sequence} of {request.match_info['station']!r} is not in the window "
            f"({held}, about {SEGMENT_SECONDS:.2f} s each); reload live.m3u8"
        )
    if request.method == "GET":
        client = f"{request.remote} {request.headers.get('User-Agent', '')}"
        if hls.listeners.seen(client, time.monotonic()):
            # Told at a fetch: a client that stops fetching is noticed at the next one.
            radio = request.app[RADIO]
            radio.tell(ListenersChanged(request.match_info["station"]))
    return web.Response(
        body=found.data, content_type=SEGMENT_TYPE, headers={"Cache-Control": SEGMENT_CACHE}
    )


async def malformed(request: web.Request) -> web.Response:
    """Anything else under /hls/: a 404 that says what is there."""
    raise NotFound(f"no HLS resource {request.path!r}: a station's playlist is /hls/<id>/live.m3u8")
