"""The HTTP surface against the real app on 127.0.0.1: mounts, playlists, status, API, errors."""

from __future__ import annotations

import json

from radio.server.mounts import icecast_sources
from tests.support import REPO, StartServer, on_air, short_lineup, wait_until

# What a real Icecast 2.4.4 served as status-json.xsl (recorded in shared/reference).
REFERENCE = json.loads((REPO / "tests/fixtures/icecast-2.4.4-status-json.json").read_text())


async def test_mount_headers_and_cors(start_server: StartServer) -> None:
    client, _ = await start_server()
    response = await client.head("/stream/jazz.mp3", headers={"Icy-MetaData": "1"})
    assert response.status == 200
    h = response.headers
    assert h["Content-Type"] == "audio/mpeg"
    assert (h["icy-name"], h["icy-genre"], h["icy-br"], h["icy-pub"]) == (
        "Blue Hour Jazz",
        "Jazz",
        "128",
        "1",
    )
    assert h["icy-description"] == "Small-combo jazz." and h["icy-url"].startswith(
        "http://127.0.0.1"
    )
    assert h["icy-metaint"] == "3200"  # 0.2 s of audio at 128 kbps
    assert "icy-metaint" in h["Access-Control-Expose-Headers"]
    plain = await client.head("/stream/jazz.mp3")
    assert "icy-metaint" not in plain.headers
    preflight = await client.options(
        "/stream/jazz.mp3",
        headers={"Origin": "http://example.test", "Access-Control-Request-Headers": "icy-metadata"},
    )
    assert preflight.status == 204
    assert "Icy-MetaData" in preflight.headers["Access-Control-Allow-Headers"]


async def test_status_json_matches_icecast_schema(start_server: StartServer) -> None:
    client, radio = await start_server()
    await on_air(radio)
    body = await (await client.get("/status-json.xsl")).json()
    stats, reference = body["icestats"], REFERENCE["icestats"]
    assert set(stats) == set(reference)
    ours = stats["source"]
    assert isinstance(ours, list) and len(ours) == 6  # each station's .mp3, .opus and HLS
    full_reference = reference["source"][2]  # the mount that has audio info
    types = {"mp3": ("audio/mpeg", 44100), "opus": ("audio/ogg", 48000)}
    for source in ours:
        assert set(source) == set(full_reference) | {"slow_listeners"}  # admin/stats.xml has it
        assert list(source)[-1] == "dummy" and source["dummy"] is None
    hls = ("application/vnd.apple.mpegurl", 44100)
    assert [
        (s["listenurl"].split("/", 3)[3], (s["server_type"], s["ice-samplerate"])) for s in ours
    ] == [
        ("stream/jazz.mp3", types["mp3"]),
        ("stream/jazz.opus", types["opus"]),
        ("hls/jazz/live.m3u8", hls),
        ("stream/metal.mp3", types["mp3"]),
        ("stream/metal.opus", types["opus"]),
        ("hls/metal/live.m3u8", hls),
    ]
    assert all(" - " in s["title"] for s in ours if "/stream/" in s["listenurl"])
    assert stats["server_start_iso8601"][-5:] == "+0000"


def test_single_source_is_an_object_as_in_icecast() -> None:
    # Every station lists three sources (its MP3 and Opus mounts and HLS), so the quirk
    # is checked where it is kept.
    assert icecast_sources([{"listeners": 1}]) == {"source": {"listeners": 1}}
    assert icecast_sources([{}, {}]) == {"source": [{}, {}]}
    assert icecast_sources([]) == {}


async def test_playlists(start_server: StartServer) -> None:
    client, _ = await start_server()
    m3u = await client.get("/stream/jazz.m3u")
    text = await m3u.text()
    base = f"http://{client.host}:{client.port}"
    assert m3u.content_type == "audio/x-mpegurl"
    assert text.splitlines() == ["#EXTM3U", "#EXTINF:-1,Blue Hour Jazz", f"{base}/stream/jazz.mp3"]
    pls = await (await client.get("/stream/metal.pls")).text()
    assert f"File1={base}/stream/metal.mp3" in pls and "NumberOfEntries=1" in pls
    everything = await (await client.get("/stations.m3u")).text()
    assert everything.count("/stream/") == 2


async def test_playlists_and_headers_never_take_the_host_header(start_server: StartServer) -> None:
    client, _ = await start_server()
    base = f"http://{client.host}:{client.port}"
    evil = {"Host": "evil.example:666"}
    for path in ("/stream/jazz.m3u", "/stream/jazz.pls", "/stations.m3u", "/status-json.xsl"):
        text = await (await client.get(path, headers=evil)).text()
        assert "evil" not in text and f"{base}/stream/" in text, path
    stations = await (await client.get("/api/stations", headers=evil)).json()
    assert stations["stations"][0]["stream"]["mp3"] == f"{base}/stream/jazz.mp3"
    head = await client.head("/stream/jazz.mp3", headers=evil)
    assert head.headers["icy-url"] == base


async def test_public_url_wins_over_the_address(start_server: StartServer) -> None:
    client, _ = await start_server(public_url="https://radio.example/")
    text = await (await client.get("/stations.m3u")).text()
    assert text.splitlines()[2] == "https://radio.example/stream/jazz.mp3"


async def test_api_stations_and_tracks(start_server: StartServer) -> None:
    client, radio = await start_server()
    await on_air(radio)
    stations = (await (await client.get("/api/stations")).json())["stations"]
    assert [s["id"] for s in stations] == ["jazz", "metal"]
    jazz = stations[0]
    assert jazz["stream"]["mp3"].endswith("/stream/jazz.mp3")
    assert jazz["now_playing"]["display"].startswith("Blue Hour Jazz - ")
    detail = await (await client.get("/api/stations/jazz")).json()
    now = detail["now_playing"]
    assert 0 <= now["elapsed"] <= now["duration"] and now["remaining"] <= now["duration"]
    assert detail["recent"][0]["id"] == now["id"]
    tracks = (await (await client.get("/api/tracks?station=jazz&limit=1")).json())["tracks"]
    assert len(tracks) == 1 and tracks[0]["station"] == "jazz" and len(tracks[0]["hash"]) == 64
    one = await (await client.get(f"/api/tracks/{tracks[0]['id']}")).json()
    assert one["prompt"] and one["seed"] == tracks[0]["seed"]
    audio = await client.get(f"/api/tracks/{tracks[0]['id']}/audio")
    assert audio.status == 200 and (await audio.read())[:4] == b"fLaC"
    assert "attachment" in audio.headers["Content-Disposition"]


async def test_errors_are_json_with_the_right_status(start_server: StartServer) -> None:
    client, _ = await start_server()
    cases = {
        "/api/stations/nope": 404,
        "/stream/nope.mp3": 404,
        "/api/tracks?limit=many": 400,
        "/api/tracks?limit=0": 400,
        "/api/tracks?station=nope": 404,
        "/api/tracks/999999": 404,
        "/api/tracks/..%2F..%2Fcatalog.db/audio": 400,
        "/api/tracks/-1": 400,
        "/no/such/page": 404,
    }
    for path, status in cases.items():
        response = await client.get(path)
        assert response.status == status, path
        assert set(await response.json()) == {"error"}, path


async def test_apply_now_drops_the_backlog_and_the_queued_track(start_server: StartServer) -> None:
    _, radio = await start_server(short_lineup(track_seconds=6, backlog_minutes=0.4))
    await on_air(radio)
    playout = radio.station("jazz").playout
    await wait_until(
        lambda: playout.mixer.next is not None and radio.backlog.queued("jazz"),
        what="a track queued for the crossfade and one in the backlog",
    )
    queued = playout.mixer.next
    assert queued is not None
    waiting = {t.id for t in radio.backlog.queued("jazz")} | {queued.track.id}
    await radio.drop_backlog("jazz")
    await wait_until(
        lambda: playout.mixer.next is None or playout.mixer.next.track.id not in waiting,
        5,
        "the queued track given back",
    )

    async def all_discarded() -> bool:
        rows = await radio.catalog.run(lambda c: c.tracks("jazz", 100))
        return {r.id for r in rows if r.discarded_at} == waiting

    await wait_until(all_discarded, 5, "the dropped tracks marked discarded")
    assert not waiting & {r.id for r in await radio.catalog.run(lambda c: c.unplayed())}


async def test_a_session_places_track_starts_on_the_players_clock(
    start_server: StartServer,
) -> None:
    client, radio = await start_server(short_lineup(track_seconds=3))
    await on_air(radio)
    url = "/stream/jazz.mp3?session=test-session-1"
    async with client.get(url) as stream:
        await stream.content.readexactly(1000)
        found = await (await client.get("/api/stations/jazz/sessions/test-session-1")).json()
        playout = radio.station("jazz").playout
        assert playout.now is not None
        assert found["byte_rate"] == 16000
        assert 0 < radio.station("jazz").broadcast.head - found["start"] <= 64 * 1024
        assert (
            radio.station("jazz")
            .broadcast.title_at(playout.now.offset)
            .endswith(playout.now.track.title)
        )

    async def forgotten() -> bool:  # the session is forgotten once its connection is gone
        response = await client.get("/api/stations/jazz/sessions/test-session-1")
        return response.status == 404

    await wait_until(forgotten, 5, "the session forgotten")
