"""The operator console's API as a sub-app under /api/admin/, behind one token check.

Every request carries `Authorization: Bearer <admin token>` (the `admin_token`
setting, or RADIO_ADMIN_TOKEN). With no token configured the console is off and
says how to turn it on (403); a missing or wrong token is a 401.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from radio.console import OFF, Console
from radio.errors import AuthError
from radio.server.admin import views
from radio.server.keys import CONSOLE, OPERATOR, SETTINGS

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def admin_app(console: Console) -> web.Application:
    app = web.Application(middlewares=[token_check])
    app[CONSOLE] = console
    r = app.router
    r.add_get("/stations", views.overview)
    r.add_post("/stations", views.add)
    r.add_patch("/stations/{station}", views.edit)
    r.add_delete("/stations/{station}", views.remove)
    r.add_post("/stations/{station}/skip", views.skip)
    r.add_post("/stations/{station}/apply-now", views.apply_now)
    r.add_get("/edits", views.edits)
    r.add_get("/pool", views.pool)
    r.add_get("/outputs", views.outputs)
    return app


@web.middleware
async def token_check(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Who is acting, for the edits log, once the token matches."""
    token = request.config_dict[SETTINGS].admin_token
    if not token:
        raise web.HTTPForbidden(reason=OFF)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise AuthError("missing token: send the header Authorization: Bearer <admin token>")
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise AuthError("wrong admin token")
    name = request.headers.get("X-Operator", "").strip()[:64]
    name = "".join(ch for ch in name if ch.isprintable()) or "operator"
    request[OPERATOR] = f"{name} ({request.remote})"
    return await handler(request)
