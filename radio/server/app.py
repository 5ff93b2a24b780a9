"""The aiohttp application: the radio's lifecycle, JSON errors and the routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from radio.errors import AuthError, ConfigError, NotFound, RadioError
from radio.generators.base import Generator
from radio.lineup.stations import StationsConfig
from radio.server import admin, events
from radio.server.keys import RADIO
from radio.server.radio import Radio
from radio.server.routes import setup_routes
from radio.settings import Settings

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str) -> web.Response:
    return web.json_response(
        {"error": message}, status=status, headers={"Access-Control-Allow-Origin": "*"}
    )


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
    except AuthError as exc:
        return _error(401, str(exc))
    except ConfigError as exc:
        return _error(422, str(exc))
    except RadioError as exc:
        return _error(400, str(exc))


def create_app(
    settings: Settings, lineup: StationsConfig, generator: Generator, generator_reason: str
) -> web.Application:
    app = web.Application(middlewares=[json_errors])
    app[RADIO] = Radio(settings, lineup, generator, generator_reason)
    app.cleanup_ctx.append(_radio_lifecycle)
    admin.setup(app)  # dayparts start after the radio and stop before it
    events.setup(app)
    app.on_shutdown.append(_close_streams)
    setup_routes(app)
    return app


async def _radio_lifecycle(app: web.Application) -> AsyncIterator[None]:
    radio = app[RADIO]
    await radio.start()
    yield
    await radio.stop()


async def _close_streams(app: web.Application) -> None:
    app[RADIO].close_streams()
