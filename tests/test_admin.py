"""The operator console's API against the real app: every action, and every refusal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from radio.core import Radio
from tests.support import StartServer, short_lineup, wait_until

TOKEN = "correct horse battery staple"
AUTH = {"Authorization": f"Bearer {TOKEN}", "X-Operator": "ada"}
Client = TestClient[web.Request, web.Application]

NEW_STATION = {
    "id": "lofi",
    "name": "Late Lo-fi",
    "genre": "Lo-fi",
    "description": "Dusty beats.",
    "prompt": "{mood} lo-fi",
    "pools": {"mood": ["dusty", "rainy"]},
}
# (method, path, body) for every console action
ACTIONS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/admin/stations", None),
    ("GET", "/api/admin/edits", None),
    ("GET", "/api/admin/pool", None),
    ("PATCH", "/api/admin/stations/jazz", {"prompt": "{mood} jazz at dawn"}),
    ("POST", "/api/admin/stations", NEW_STATION),
    ("DELETE", "/api/admin/stations/metal", None),
    ("POST", "/api/admin/stations/jazz/skip", None),
    ("POST", "/api/admin/stations/jazz/apply-now", None),
]


@pytest.fixture
async def console(start_server: StartServer) -> tuple[Client, Radio]:
    client, radio = await start_server(admin_token=TOKEN)
    return client, radio


@pytest.mark.parametrize(("method", "path", "body"), ACTIONS)
async def test_without_a_configured_token_the_console_is_off(
    start_server: StartServer,
    tmp_path: Path,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    client, _ = await start_server()
    before = (tmp_path / "stations.toml").read_bytes()
    response = await client.request(method, path, json=body, headers=AUTH)
    assert response.status == 403
    assert "RADIO_ADMIN_TOKEN" in (await response.json())["error"]
    assert (tmp_path / "stations.toml").read_bytes() == before


async def test_pages_and_streams_need_no_token(start_server: StartServer) -> None:
    client, _ = await start_server()
    page = await client.get("/admin")
    assert page.status == 403 and "RADIO_ADMIN_TOKEN" in await page.text()
    for path in ("/", "/static/js/player.js", "/static/css/radio.css", "/api/stations"):
        assert (await client.get(path)).status == 200, path
    assert (await client.head("/stream/jazz.mp3")).status == 200
    client, _ = await start_server(admin_token=TOKEN)
    assert "<title>" in await (await client.get("/admin")).text()


@pytest.mark.parametrize(("method", "path", "body"), ACTIONS)
@pytest.mark.parametrize("header", ["", "Bearer", f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN])
async def test_missing_or_wrong_tokens_are_401_and_change_nothing(
    console: tuple[Client, Radio],
    tmp_path: Path,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    header: str,
) -> None:
    client, radio = console
    before = (tmp_path / "stations.toml").read_bytes()
    response = await client.request(method, path, json=body, headers={"Authorization": header})
    assert response.status == 401
    assert "token" in (await response.json())["error"]
    assert (tmp_path / "stations.toml").read_bytes() == before
    assert await radio.catalog.run(lambda c: c.edits()) == []


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"track_seconds": 1}, 422, "track_seconds"),
        ({"crossfade_seconds": 3}, 422, "half of track_seconds"),
        ({"prompt": "{colour} jazz"}, 422, "{colour}"),
        ({"pools": {"mood": []}}, 422, "pools.mood"),
        ({"bitrate": 100}, 422, "MP3 bitrate"),
        ({"id": "jazz2"}, 422, "cannot change"),
        (
            {"dayparts": [{"name": "n", "cron": "at ten", "prompt": "x", "pools": {"a": ["b"]}}]},
            422,
            "cron",
        ),
        ({"volume": 11}, 422, "unknown key"),
        ([1, 2], 400, "JSON object"),
        # The file's text rules hold over HTTP too (#10 items 3 and 4).
        ({"prompt": "{mood!r:>99999999} jazz"}, 422, "format spec"),
        ({"name": "Jazz\r\nicy-url: http://evil.example/"}, 422, "U+000D"),
        ({"description": "x" * 501}, 422, "at most 500"),
        ({"pools": {"mood": [[[[[[["calm"]]]]]]]}}, 400, "nested"),
    ],
)
async def test_invalid_edits_are_refused_and_leave_the_file_alone(
    console: tuple[Client, Radio],
    tmp_path: Path,
    body: Any,
    status: int,
    words: str,
) -> None:
    client, radio = console
    before = (tmp_path / "stations.toml").read_bytes()
    response = await client.patch("/api/admin/stations/jazz", json=body, headers=AUTH)
    assert response.status == status
    assert words in (await response.json())["error"]
    assert (tmp_path / "stations.toml").read_bytes() == before
    assert radio.lineup.get("jazz").prompt == "{mood} jazz, {tempo} BPM"  # type: ignore[union-attr]


async def test_unknown_stations_are_404(console: tuple[Client, Radio]) -> None:
    client, _ = console
    for method, path in [
        ("PATCH", "/api/admin/stations/nope"),
        ("DELETE", "/api/admin/stations/nope"),
        ("POST", "/api/admin/stations/nope/skip"),
        ("POST", "/api/admin/stations/nope/apply-now"),
    ]:
        response = await client.request(method, path, json={"name": "x"}, headers=AUTH)
        assert response.status == 404, path


async def test_a_prompt_edit_applied_now_is_the_next_generated_track(
    console: tuple[Client, Radio], tmp_path: Path
) -> None:
    client, radio = console

    async def on_air() -> bool:
        return radio.on_air["jazz"].playout.now is not None

    await wait_until(on_air)
    response = await client.patch(
        "/api/admin/stations/jazz", json={"prompt": "console-edited {mood} jazz"}, headers=AUTH
    )
    assert response.status == 200
    assert (await response.json())["station"]["prompt"] == "console-edited {mood} jazz"
    text = (tmp_path / "stations.toml").read_text()
    assert 'prompt = "console-edited {mood} jazz"' in text and "[stations.pools]" in text
    applied = await client.post("/api/admin/stations/jazz/apply-now", headers=AUTH)
    assert applied.status == 200 and isinstance((await applied.json())["dropped"], int)

    async def edited_track_on_air() -> Any:
        detail = await (await client.get("/api/stations/jazz")).json()
        playing = detail["now_playing"]
        track = await (await client.get(f"/api/tracks/{playing['id']}")).json()
        return track if track["prompt"].startswith("console-edited ") else None

    # Within one track (4 s) plus generation, the new sound is on air.
    track = await wait_until(edited_track_on_air, seconds=15)
    assert track["station"] == "jazz"


async def test_every_action_is_in_the_edits_log(console: tuple[Client, Radio]) -> None:
    client, _ = console
    await client.patch("/api/admin/stations/jazz", json={"name": "Dawn Jazz"}, headers=AUTH)
    await client.post("/api/admin/stations/jazz/apply-now", headers=AUTH)
    edits = (await (await client.get("/api/admin/edits?station=jazz", headers=AUTH)).json())[
        "edits"
    ]
    assert [e["action"] for e in edits] == ["apply-now", "edit"]
    edit = edits[1]
    assert edit["who"] == "ada (127.0.0.1)" and edit["station"] == "jazz"
    assert edit["before"]["name"] == "Blue Hour Jazz" and edit["after"]["name"] == "Dawn Jazz"
    assert edit["at"] > "2024"
    assert (await client.get("/api/admin/edits?limit=0", headers=AUTH)).status == 400


async def test_add_disable_enable_and_remove_a_station(
    console: tuple[Client, Radio], tmp_path: Path
) -> None:
    client, radio = console
    added = await client.post("/api/admin/stations", json=NEW_STATION, headers=AUTH)
    assert added.status == 201
    assert (await client.head("/stream/lofi.mp3")).status == 200
    assert "lofi" in (tmp_path / "stations.toml").read_text()
    duplicate = await client.post("/api/admin/stations", json=NEW_STATION, headers=AUTH)
    assert duplicate.status == 422

    off = await client.patch("/api/admin/stations/lofi", json={"enabled": False}, headers=AUTH)
    assert off.status == 200 and "lofi" not in radio.on_air
    assert (await client.head("/stream/lofi.mp3")).status == 404
    overview = await (await client.get("/api/admin/stations", headers=AUTH)).json()
    lofi = next(s for s in overview["stations"] if s["id"] == "lofi")
    assert lofi["enabled"] is False and lofi["live"]["on_air"] is False

    await client.patch("/api/admin/stations/lofi", json={"enabled": True}, headers=AUTH)
    assert (await client.head("/stream/lofi.mp3")).status == 200
    removed = await client.delete("/api/admin/stations/lofi", headers=AUTH)
    assert removed.status == 200 and "lofi" not in radio.on_air
    assert "lofi" not in (tmp_path / "stations.toml").read_text()
    await client.delete("/api/admin/stations/metal", headers=AUTH)
    last = await client.delete("/api/admin/stations/jazz", headers=AUTH)
    assert last.status == 422 and "no stations" in (await last.json())["error"]
    assert "jazz" in radio.on_air


async def test_skip_cuts_to_the_next_track(start_server: StartServer) -> None:
    # Long tracks, so a natural track change cannot pass for the skip.
    text = short_lineup(track_seconds=30, crossfade_seconds=0.5, backlog_minutes=1)
    client, radio = await start_server(text, admin_token=TOKEN)
    playout = radio.on_air["jazz"].playout

    async def ready() -> bool:
        return (
            playout.now is not None
            and playout.up_next is not None
            and playout.mixer.seconds_left > 8
        )

    await wait_until(ready, seconds=60, what="a track on air with 8 s left and one up next")
    assert playout.now is not None
    first = playout.now.track.id
    left = playout.mixer.seconds_left
    response = await client.post("/api/admin/stations/jazz/skip", headers=AUTH)
    assert response.status == 202
    assert (await response.json())["skipped"].startswith("Blue Hour Jazz - ")

    async def moved_on() -> bool:
        return playout.now is not None and playout.now.track.id != first

    # Without the skip the next track could not start before `left` less the 0.5 s
    # crossfade; a busy machine gets all the time up to there, not a guessed 5 s.
    await wait_until(moved_on, seconds=left - 2, what="the skip, before the natural change")


async def test_overview_shows_backlog_generation_replays_and_listeners(
    console: tuple[Client, Radio],
) -> None:
    client, _ = console

    async def generated() -> Any:
        body = await (await client.get("/api/admin/stations", headers=AUTH)).json()
        jazz = body["stations"][0]
        return body if jazz["live"]["generated"] and jazz["live"]["now_playing"] else None

    body = await wait_until(generated)
    assert body["generator"] == {"name": "tone", "model": "tone-v1"}
    assert body["defaults"]["track_seconds"] == 4
    jazz = body["stations"][0]
    assert jazz["id"] == "jazz" and jazz["pools"]["mood"] == ["smoky", "warm", "wistful"]
    live = jazz["live"]
    assert live["on_air"] and live["backlog_seconds"] > 0 and live["speed"] > 1
    assert live["replays"] == 0 and live["listeners"] == 0 and live["daypart"] is None


async def test_the_pool_shows_the_local_generator_and_its_batches(
    console: tuple[Client, Radio],
) -> None:
    client, _ = console

    async def made() -> Any:
        body = await (await client.get("/api/admin/pool", headers=AUTH)).json()
        return body if body["pool"][0]["batches"] else None

    body = await wait_until(made)
    assert body["workers"] == "local"
    (worker,) = body["pool"]
    assert (worker["name"], worker["node"], worker["model"]) == ("local", "head", "tone-v1")
    assert worker["failures"] == 0 and worker["state"] in ("idle", "busy")


async def test_dayparts_edited_over_the_api_take_over(console: tuple[Client, Radio]) -> None:
    client, radio = console
    always = {
        "name": "always",
        "cron": "* * * * *",  # every minute: it holds the station from now on
        "prompt": "{mood} daypart jazz",
        "pools": {"mood": ["nocturnal"]},
    }
    response = await client.patch(
        "/api/admin/stations/jazz", json={"dayparts": [always]}, headers=AUTH
    )
    assert response.status == 200
    assert radio.daypart("jazz").name == "always"  # type: ignore[union-attr]
    await client.post("/api/admin/stations/jazz/apply-now", headers=AUTH)

    async def daypart_track() -> Any:
        rows = await radio.catalog.run(lambda c: c.tracks("jazz", 5))
        return [r for r in rows if r.prompt == "nocturnal daypart jazz"]

    await wait_until(daypart_track)
    overview = await (await client.get("/api/admin/stations", headers=AUTH)).json()
    assert overview["stations"][0]["live"]["daypart"] == "always"
    await client.patch("/api/admin/stations/jazz", json={"dayparts": []}, headers=AUTH)
    assert radio.daypart("jazz") is None
