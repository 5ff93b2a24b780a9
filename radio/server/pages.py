"""web/ in, the listener page at /, the operator console at /admin and their assets out.

Plain files, no build step: what is in web/ is what the browser gets.
"""

from __future__ import annotations

from html import escape

from aiohttp import web

from radio.console import OFF
from radio.server.keys import SETTINGS
from radio.shipped import WEB

PAGE_HEADERS = {"Cache-Control": "no-cache"}


async def asset(request: web.Request) -> web.FileResponse:
    """GET /static/<path>: a file of web/. Anything else is a 404 the error middleware turns
    into JSON: aiohttp's own static route finds a missing file only after it, too late."""
    root = WEB.resolve()
    try:
        path = (root / request.match_info["path"]).resolve()
        found = path.is_relative_to(root) and path.is_file()
    except (OSError, ValueError):  # a name too long, a NUL byte
        found = False
    if not found:
        raise web.HTTPNotFound(reason="no such file in web/")
    return web.FileResponse(path)


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(WEB / "index.html", headers=PAGE_HEADERS)


async def admin(request: web.Request) -> web.StreamResponse:
    """The console page; with no admin token configured, a page that says how to enable it."""
    if not request.app[SETTINGS].admin_token:
        body = (
            '<!doctype html><html lang="en"><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>Operator console is off</title>"
            '<link rel="stylesheet" href="/static/css/radio.css">'
            f'<main class="off"><h1>Operator console is off</h1><p>{escape(OFF)}.</p>'
            '<p><a href="/">Back to the stations</a></p></main></html>'
        )
        return web.Response(status=403, text=body, content_type="text/html")
    return web.FileResponse(WEB / "admin.html", headers=PAGE_HEADERS)
