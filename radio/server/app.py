"""Settings, a lineup and a generator in, the aiohttp application out: the app factory.

The radio's lifecycle is entered from one cleanup_ctx; on shutdown every
listener's stream and event stream is closed first, so graceful shutdown never
waits on a listener. Errors leave as JSON and CORS headers are added in one place;
a client hanging up is not an error, and malformed requests log one short line.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from radio.core import Radio
from radio.errors import AuthError, ConfigError, Gone, NotFound, RadioError
from radio.generators import Generator
from radio.lineup.stations import StationsConfig
from radio.scheduler import random_seed
from radio.server.events import EventHub
from radio.server.keys import HUB, RADIO, SETTINGS
from radio.server.quiet import quiet_server_log
from radio.server.routes import setup_routes
from radio.settings import Settings

# A connection gets this long to send a complete request, and an idle keep-alive
# connection is closed after it: aiohttp's keepalive timer starts when a connection is
# made and closes it while no whole request has arrived. The default of 75 s let idle
# sockets hold every descriptor (issue #10); players and browsers reconnect at once.
REQUEST_TIMEOUT_SECONDS = 5.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Public, read-only surfaces any web page may use; the console's API is not one of them.
CORS_PREFIXES = ("/stream/", "/hls/", "/api/", "/status-json.xsl", "/stations.m3u")
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Icy-MetaData, Range",
    "Access-Control-Expose-Headers": (
        "icy-name, icy-description, icy-genre, icy-url, icy-br, icy-pub, icy-metaint,"
        " ice-audio-info"
    ),
}


def create_app(
    settings: Settings,
    lineup: StationsConfig,
    generator: Generator,
    generator_reason: str,
    seeds: Callable[[], int] = random_seed,
) -> web.Application:
    app = web.Application(
        middlewares=[json_errors, cors_preflight],
        handler_args={"keepalive_timeout": REQUEST_TIMEOUT_SECONDS},
    )
    quiet_server_log()
    radio = Radio(settings, lineup, generator, generator_reason, seeds)
    app[SETTINGS] = settings
    app[RADIO] = radio
    app[HUB] = EventHub(radio)
    app.cleanup_ctx.append(_on_air)
    app.on_shutdown.append(_close_streams)
    app.on_response_prepare.append(_cors_headers)
    setup_routes(app)
    return app


async def _on_air(app: web.Application) -> AsyncIterator[None]:
    async with app[RADIO].running(), app[HUB].watching():
        yield


async def _close_streams(app: web.Application) -> None:
    app[RADIO].close_streams()
    app[HUB].close()


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as JSON {"error": ...} with the right status."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        return _error(exc.status, exc.reason)
    except NotFound as exc:
        return _error(404, str(exc))
    except Gone as exc:
        return _error(410, str(exc))
    except AuthError as exc:
        return _error(401, str(exc))
    except ConfigError as exc:
        return _error(422, str(exc))
    except RadioError as exc:
        return _error(400, str(exc))
    except ConnectionError:
        transport = request.transport
        if transport is not None and not transport.is_closing():
            raise  # not our client's connection: a real error, with its traceback
        # The client hung up before or while we answered (#10 item 5): not an error.
        # aiohttp finds the connection closed when it sends this and drops it quietly.
        return web.Response(status=499, reason="Client Closed Request")


def _public(request: web.Request) -> bool:
    path = request.path
    return path.startswith(CORS_PREFIXES) and not path.startswith("/api/admin/")


@web.middleware
async def cors_preflight(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer a browser's preflight for any public route that exists."""
    exists = (
        request.match_info.http_exception is None or request.match_info.http_exception.status == 405
    )
    if request.method == "OPTIONS" and _public(request) and exists:
        return web.Response(status=204, headers={"Access-Control-Max-Age": "86400"})
    return await handler(request)


async def _cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    if _public(request):
        response.headers.update(CORS)
