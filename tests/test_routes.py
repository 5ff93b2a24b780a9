"""Every route of the URL table against hostile input: never a 5xx, every 4xx a JSON error.

A table of cases rather than random fuzzing, so a failure names its input and
reruns the same (#10 item 7). The table must cover the whole URL table: a new
route without cases fails the first test.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import ClientResponseError, web

from tests.support import StartServer

TOKEN = "correct horse battery staple"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

# What a path parameter is replaced with: real ids, and what broke or might break.
HOSTILE_SEGMENTS = (
    "²",
    "٣",
    "99999999999999999999999",
    "9223372036854775808",
    "-1",
    "0",
    "%00",
    "%0d%0aX-Evil:%201",
    "..%2F..%2Fetc%2Fpasswd",
    "%E2%80%A8",
    "%ff%fe",
    "x" * 2000,
)
REAL = {
    "{station}": "jazz",
    "{id}": "1",
    "{sequence}": "1",
    "{tail}": "x",
    "{session}": "abcdefgh1234",
    "{path}": "js/api.js",
}
QUERIES = (
    "",
    "?limit=²",
    "?limit=99999999999999999999999",
    "?limit=-5",
    "?limit=%00",
    "?before=²",
    "?before=99999999999999999999999",
    "?station=²",
    "?station=%0d%0a",
    "?session=%ff",
)
DEEP = "[" * 100_000 + "]" * 100_000
BODIES: tuple[str | bytes, ...] = (
    b"",
    b"\xff\xfe",
    "not json",
    "[]",
    "null",
    DEEP,
    json.dumps({"name": [[[[[[[[[["x"]]]]]]]]]]}),
    json.dumps({"id": "jazz", "name": "x\r\ny"}),
    json.dumps({"prompt": "{mood!r:>99999999}"}),
    json.dumps({"pools": {"mood": DEEP}}),
    json.dumps({"id": 7, "pools": None}),
    json.dumps({"dayparts": [{"name": 1}]}),
    '{"track_seconds": ' + "9" * 5000 + "}",  # past Python's 4,300-digit int limit
)
# The URL table (server/routes.py and the console's sub-app), with the methods each takes.
ROUTES: dict[str, tuple[str, ...]] = {
    "/stream/{station}.mp3": ("HEAD",),  # a GET would stream for ever
    "/stream/{station}.opus": ("HEAD",),
    "/stream/{station}.m3u": ("GET",),
    "/stream/{station}.pls": ("GET",),
    "/stations.m3u": ("GET",),
    "/status-json.xsl": ("GET",),
    "/hls/{station}/live.m3u8": ("GET",),
    "/hls/{station}/{sequence}.ts": ("GET",),
    "/hls/{tail}": ("GET",),
    "/metrics": ("GET",),
    # M
    "/api/stations": ("GET",),
    "/api/stations/{station}": ("GET",),
    "/api/stations/{station}/sessions/{session}": ("GET",),
    "/api/tracks": ("GET",),
    "/api/tracks/{id}": ("GET",),
    "/api/tracks/{id}/audio": ("GET",),
    "/api/events": ("GET",),
    "/api/admin/stations": ("GET", "POST"),
    "/api/admin/stations/{station}/skip": ("POST",),
    "/api/admin/stations/{station}/apply-now": ("POST",),
    "/api/admin/edits": ("GET",),
    "/api/admin/pool": ("GET",),
    "/api/admin/outputs": ("GET",),
    "/": ("GET",),
    "/admin": ("GET",),
    "/static/{path}": ("GET",),
    "/api/admin/stations/{station}": ("PATCH", "DELETE"),  # last: DELETE takes jazz off air
}


def _canonical(app: web.Application) -> set[str]:
    """Every path of the app and its sub-apps (whose resources carry their prefix)."""
    paths = set()
    for resource in app.router.resources():
        if isinstance(resource, web.PrefixedSubAppResource):
            paths |= _canonical(resource._app)
        else:
            paths.add(resource.canonical)
    return paths


def _urls(template: str) -> list[str]:
    """The route with real values, and with each hostile segment in each parameter."""
    params = [p for p in REAL if p in template]
    real = template
    for p in params:
        real = real.replace(p, REAL[p])
    urls = [real]
    for p in params:
        others = template
        for q in params:
            if q != p:
                others = others.replace(q, REAL[q])
        urls += [others.replace(p, segment) for segment in HOSTILE_SEGMENTS]
    return urls


async def test_the_table_covers_every_route(start_server: StartServer) -> None:
    client, _ = await start_server(admin_token=TOKEN)
    assert client.app is not None
    assert _canonical(client.app) == set(ROUTES)


async def test_no_input_gets_a_5xx_and_every_4xx_is_json(start_server: StartServer) -> None:
    client, radio = await start_server(admin_token=TOKEN)
    failures: list[str] = []

    async def check(method: str, url: str, body: str | bytes | None) -> None:
        headers = {**AUTH, "Content-Type": "application/json"}
        async with client.request(method, url, data=body, headers=headers) as response:
            what = f"{method} {url[:80]} {str(body)[:40]!r}: {response.status}"
            if response.status >= 500:
                failures.append(what)
            elif response.status >= 400 and method != "HEAD":
                try:
                    error = (await response.json())["error"]
                except (ValueError, KeyError, TypeError, ClientResponseError) as exc:
                    failures.append(f"{what} without a JSON error ({exc!r})")
                else:
                    assert isinstance(error, str) and error

    for template, methods in ROUTES.items():
        for method in methods:
            for url in _urls(template):
                queries = QUERIES if method == "GET" else ("",)
                bodies: tuple[str | bytes | None, ...] = (
                    BODIES if method in ("POST", "PATCH") else (None,)
                )
                for query in queries:
                    for body in bodies:
                        await check(method, url + query, body)
    assert not failures, "\n".join(failures)
    assert set(radio.on_air) <= {"jazz", "metal"}


async def test_ids_are_ascii_digits_in_range(start_server: StartServer) -> None:
    client, _ = await start_server(admin_token=TOKEN)
    cases: list[tuple[str, int]] = [
        ("/api/tracks/99999999999999999999999", 400),
        ("/api/tracks/²", 400),
        ("/api/tracks/²/audio", 400),
        ("/api/tracks/٣", 400),
        ("/api/tracks/9223372036854775807", 404),
        ("/api/tracks?limit=²", 400),
        ("/api/tracks?before=99999999999999999999999", 400),
        ("/api/admin/edits?limit=²", 400),
        ("/api/admin/edits?limit=7", 200),
    ]
    for url, status in cases:
        response = await client.get(url, headers=AUTH)
        assert response.status == status, url
        body: dict[str, Any] = await response.json()
        assert ("error" in body) == (status != 200), url


async def test_a_deeply_nested_console_edit_is_a_400(start_server: StartServer) -> None:
    client, _ = await start_server(admin_token=TOKEN)
    for body in (DEEP, json.dumps({"pools": {"mood": [[[[[[["calm"]]]]]]]}})):
        response = await client.patch(
            "/api/admin/stations/jazz",
            data=body,
            headers={**AUTH, "Content-Type": "application/json"},
        )
        assert response.status == 400
        assert "nested" in (await response.json())["error"]
