"""Raw URL text in (path ids, query numbers), checked ints out, or a 400 naming the parameter.

Only ASCII digits are numbers here: `str.isdigit` accepts '²' (which `int` then
refuses) and `int` accepts '٣' and ' 5', and an id beyond SQLite's 64 bits made
the catalog raise (#10 item 7). Each of those is a 400 with a JSON body.
"""

from __future__ import annotations

from aiohttp import web

SQLITE_MAX_INT = 2**63 - 1


def ascii_int(raw: str, name: str, low: int = 1, high: int = SQLITE_MAX_INT) -> int:
    """`raw` as an int in [low, high]; anything else is an HTTP 400."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(high)):
        raise web.HTTPBadRequest(reason=f"{name} must be a whole number from {low} to {high}")
    value = int(raw)
    if not low <= value <= high:
        raise web.HTTPBadRequest(reason=f"{name} must be a whole number from {low} to {high}")
    return value


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """The query parameter `name` as an int in [low, high], `default` when absent or empty."""
    raw = request.query.get(name)
    return default if not raw else ascii_int(raw, name, low, high)
