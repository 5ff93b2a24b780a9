"""The listener page and the operator console in headless Chromium (Debian's), via Playwright.

The real app runs on 127.0.0.1 in a thread with its own event loop, all fifteen
stations of stations.toml with 4-second tracks. Each track is a pure tone whose
pitch the test knows from the catalog, so the page's audio can be checked
against the title it shows: what the listener sees is what they hear.
Screenshots go to artifacts/.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from radio.generators import GeneratedAudio, GenerationRequest
from radio.lineup.stations import parse_stations
from radio.server.app import create_app
from radio.settings import Settings
from tests.dummies import RATE, ToneGenerator
from tests.support import REPO, wait_for

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = REPO / "artifacts"
TOKEN = "browser-test-token"
TRACK_SECONDS = 4

# Hooks the page's own Web Audio graph: a fine analyser on the player's source
# node logs the dominant pitch heard, with the track id the page shows, every 50 ms.
PITCH_PROBE = """
(() => {
  const original = AudioContext.prototype.createMediaElementSource;
  AudioContext.prototype.createMediaElementSource = function (media) {
    const source = original.call(this, media);
    const probe = this.createAnalyser();
    probe.fftSize = 16384;
    probe.smoothingTimeConstant = 0;
    source.connect(probe);
    const bins = new Float32Array(probe.frequencyBinCount);
    window.heardLog = [];
    setInterval(() => {
      probe.getFloatFrequencyData(bins);
      let best = 1;
      for (let i = 2; i < bins.length; i += 1) if (bins[i] > bins[best]) best = i;
      window.heardLog.push({
        t: performance.now() / 1000,
        hz: bins[best] > -70 ? (best * this.sampleRate) / probe.fftSize : 0,
        shown: Number(document.getElementById("now-title").dataset.track || 0),
      });
    }, 50);
    return source;
  };
})();
"""


class PitchPerTrack(ToneGenerator):
    """A tone per track: 60 pitches 25 Hz apart, each detuned by a seed-drawn fraction
    of 5 Hz so that no two tracks share audio (the catalog refuses duplicates)."""

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GeneratedAudio]:
        out = []
        for r in requests:
            hz = 300.0 + 25.0 * (r.seed % 60) + (r.seed // 60) % 500 / 100
            t = np.arange(int(r.seconds * RATE), dtype=np.float32) / RATE
            wave = 0.3 * np.sin(2 * np.pi * hz * t, dtype=np.float32)
            out.append(GeneratedAudio(r, wave[:, None].astype(np.float32), RATE, {"hz": hz}))
        return out


class ServerThread:
    """The real app in a thread with its own loop, so the sync Playwright API can drive it."""

    def __init__(self, tmp: Path) -> None:
        text = (REPO / "stations.toml").read_text()
        for key, value in (
            ("track_seconds", TRACK_SECONDS),
            ("crossfade_seconds", 0.5),
            ("backlog_minutes", 0.2),
        ):
            text = re.sub(rf"(?m)^{key} = \S+", f"{key} = {value}", text, count=1)
        self.stations = tmp / "stations.toml"
        self.stations.write_text(text)
        settings = Settings.load(
            {"cache": tmp / "cache", "stations": self.stations, "admin_token": TOKEN}, environ={}
        )
        self.app = create_app(
            settings, parse_stations(text, self.stations), PitchPerTrack(), "browser test"
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="server", daemon=True)

    def __enter__(self) -> str:
        from aiohttp import web

        self.thread.start()
        self.runner = web.AppRunner(self.app, handle_signals=False)

        async def start() -> int:
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
            return int(self.runner.addresses[0][1])

        port = asyncio.run_coroutine_threadsafe(start(), self.loop).result(30)
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with ServerThread(tmp_path_factory.mktemp("web")) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make system-deps installs it)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    """New pages, closed after the test (which stops their audio); a script error fails it."""
    pages: list[tuple[Any, list[str]]] = []

    def new_page(**options: Any) -> Any:
        page = browser.new_page(**{"viewport": {"width": 1280, "height": 900}, **options})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        pages.append((page, errors))
        return page

    yield new_page
    for page, errors in pages:
        page.close()
        assert errors == []


def get_json(url: str, token: str | None = None) -> Any:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_listener_page_plays_and_shows_the_title_it_is_playing(server: str, open_page: Any) -> None:
    base = server
    page = open_page()
    page.add_init_script(PITCH_PROBE)
    page.goto(base + "/")
    page.wait_for_function("document.querySelectorAll('.station').length === 15")
    names = page.locator(".station .name").all_text_contents()
    assert len(names) == 15 and names[0] == "Blue Hour Jazz"
    links = page.locator(".station").first.locator(".links")
    assert links.locator("a", has_text="M3U").get_attribute("href").endswith("/stream/jazz.m3u")
    assert links.locator("a", has_text="PLS").get_attribute("href").endswith("/stream/jazz.pls")

    page.locator(".station .tune").first.click()
    page.wait_for_function("document.getElementById('audio').currentTime > 1", timeout=20_000)
    start = page.evaluate("document.getElementById('audio').currentTime")
    # Each connection names its own session, which places track starts on its clock.
    src = page.evaluate("document.getElementById('audio').src")
    assert re.search(r"/stream/jazz\.mp3\?session=[A-Za-z0-9_-]{8,64}$", src), src
    page.wait_for_timeout((3 * TRACK_SECONDS + 1) * 1000)  # several track changes
    assert (
        page.evaluate("document.getElementById('audio').currentTime")
        > start + 3 * TRACK_SECONDS - 2
    )
    assert page.locator("#player-status").text_content() == "Live"
    assert page.locator(".station.playing .name").text_content() == "Blue Hour Jazz"
    log = page.evaluate("window.heardLog")
    page.screenshot(path=str(ARTIFACTS / "listener.png"))
    page.locator("#panel").screenshot(path=str(ARTIFACTS / "listener-recent.png"))

    tracks = get_json(f"{base}/api/tracks?station=jazz&limit=200")["tracks"]
    pitch = {t["id"]: t["parameters"]["hz"] for t in tracks}
    shown = [s for s in log if s["shown"]]
    changes = [b["t"] for a, b in itertools.pairwise(shown) if a["shown"] != b["shown"]]
    assert len(changes) >= 2, "the title never changed at a track change"
    # Away from each change (crossfade, analyser window), the tone heard is the shown track's.
    steady = [s for s in shown if s["hz"] and all(not 0 <= s["t"] - t < 1.2 for t in changes)]
    matching = [s for s in steady if abs(s["hz"] - pitch[s["shown"]]) < 8]
    assert len(steady) > 60
    assert len(matching) / len(steady) > 0.9, (len(matching), len(steady))

    # The track panel: prompt, station, duration, creation time and a download link.
    page.click("#now-title")
    dialog = page.locator("#track-dialog")
    dialog.wait_for()
    # The dialog names its track in the address; the title bar may already have moved on.
    page.wait_for_function("/#track=\\d+$/.test(location.hash)")
    shown_id = int(page.url.rsplit("#track=", 1)[1])
    track = get_json(f"{base}/api/tracks/{shown_id}")
    assert dialog.locator("#track-prompt").text_content() == track["prompt"]
    assert dialog.locator("#track-station").text_content() == "Blue Hour Jazz"
    assert dialog.locator("#track-duration").text_content() == "0:04"
    assert dialog.locator("#track-download").get_attribute("href") == track["audio_url"]
    page.screenshot(path=str(ARTIFACTS / "listener-track.png"))


def test_listener_page_on_a_phone(server: str, open_page: Any) -> None:
    base = server
    page = open_page(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page.goto(base + "/")
    page.wait_for_function("document.querySelectorAll('.station').length === 15")
    page.locator(".station .tune").nth(2).tap()
    page.wait_for_function("document.getElementById('audio').currentTime > 0.5", timeout=20_000)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page scrolls sideways on a phone"
    page.screenshot(path=str(ARTIFACTS / "listener-phone.png"))
    # Keyboard: with nothing focused, k (or Space) pauses.
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("k")
    page.wait_for_function("document.getElementById('audio').paused")
    assert page.locator("#play").get_attribute("aria-label") == "Play"


def test_player_reconnects_with_growing_pauses(server: str, open_page: Any) -> None:
    base = server
    page = open_page()
    page.goto(base + "/")
    page.wait_for_function("document.querySelectorAll('.station').length === 15")
    page.locator(".station .tune").nth(4).click()
    page.wait_for_function("document.getElementById('audio').currentTime > 0.5", timeout=20_000)
    refused: list[str] = []

    def refuse(route: Any) -> None:
        refused.append(route.request.url)
        route.abort()

    page.route("**/stream/metal.mp3*", refuse)
    page.evaluate("document.getElementById('audio').dispatchEvent(new Event('error'))")  # a drop
    page.wait_for_selector("#player-status:has-text('reconnecting in 1 s')")
    page.wait_for_selector("#player-status:has-text('reconnecting in 2 s')", timeout=5000)
    assert len(refused) == 1  # the retry after a second was refused; the next waits longer
    page.unroute("**/stream/metal.mp3*")
    page.wait_for_function("document.getElementById('audio').currentTime > 0.5", timeout=20_000)
    assert page.locator("#player-status").text_content() == "Live"


def test_console_edits_a_prompt_and_the_next_track_has_it(server: str, open_page: Any) -> None:
    base = server
    page = open_page(viewport={"width": 1280, "height": 1000})
    page.goto(base + "/admin")
    page.fill("#token", "not the token")
    page.click("#login button[type=submit]")
    page.wait_for_selector("#login-error:has-text('wrong admin token')")

    page.fill("#token", TOKEN)
    page.fill("#operator", "Grace")
    page.click("#login button[type=submit]")
    page.wait_for_selector("#overview tbody tr[data-id=jazz]")
    # The generator workers: here the one local generator, with the batches it has made.
    page.wait_for_selector("#pool-kind:has-text('in the server')")
    page.wait_for_function(
        "(() => { const cells = document.querySelectorAll('#pool tbody tr td');"
        " return cells.length === 7 && Number(cells[5].textContent) >= 1; })()"
    )
    assert page.locator("#pool tbody tr td").nth(3).text_content() == "tone-v1"
    page.click("#overview tr[data-id=jazz] button.edit")
    prompt = page.locator("textarea[name=prompt]")
    assert prompt.input_value() == (
        "{mood} {style} jazz with {instrument} and upright bass, {tempo} BPM, in {key}"
    )
    prompt.fill("{mood} console-edited jazz with {instrument}")
    page.click("#save-apply")
    page.wait_for_selector("#action-status:has-text('Saved Blue Hour Jazz: prompt')")

    def edited_track() -> Any:
        rows = get_json(f"{base}/api/tracks?station=jazz&limit=5")["tracks"]
        return next((r for r in rows if "console-edited jazz" in r["prompt"]), None)

    track = wait_for(edited_track, 20, "a jazz track generated from the edited prompt")
    assert track["prompt"].endswith(
        " console-edited jazz with " + track["parameters"]["instrument"]
    )
    page.wait_for_selector("#edits tbody tr td:has-text('Grace')")
    page.wait_for_timeout(2200)  # one refresh of the overview, for the screenshot
    page.screenshot(path=str(ARTIFACTS / "admin.png"), full_page=True)


def test_chromium_plays_the_opus_mount_on_across_track_changes(server: str, open_page: Any) -> None:
    page = open_page()
    page.goto(server + "/")
    link = page.locator(".station").first.locator(".links a", has_text="Opus")
    url = link.get_attribute("href")
    assert url == server + "/stream/jazz.opus"
    page.evaluate("url => { window.opus = new Audio(url); window.opus.play(); }", url)
    page.wait_for_function("window.opus.currentTime > 1", timeout=20_000)
    # The burst (about 5 s at 96 kbps) and then live chains: past 10 s, Chromium has
    # played on across at least one new logical stream that arrived live.
    page.wait_for_function("window.opus.currentTime > 10", timeout=40_000)
    assert page.evaluate("window.opus.error") is None


def test_listener_page_plays_hls_with_titles_from_its_id3_tags(server: str, open_page: Any) -> None:
    base = server
    page = open_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(base + "/")
    page.wait_for_function("document.querySelectorAll('.station').length === 15")
    assert not page.evaluate("document.getElementById('hls').checked")  # Chromium: MP3 first
    page.check("#hls")
    page.locator(".station .tune").nth(1).click()
    page.wait_for_function("document.getElementById('audio').currentTime > 2", timeout=30_000)
    # hls.js feeds the element; the ID3 tags arrive as cues of a metadata text track, as
    # hls.js parses each segment (on a busy machine, after the audio has begun).
    page.wait_for_function(
        """Array.from(document.getElementById('audio').textTracks)
             .filter((t) => t.kind === 'metadata')
             .flatMap((t) => Array.from(t.cues ?? []).map((c) => c.value?.key))
             .includes('TIT2')""",
        timeout=30_000,
    )
    first_title = page.locator("#now-title").text_content()
    page.wait_for_function(
        f"document.getElementById('now-title').textContent !== {json.dumps(first_title)}",
        timeout=(3 * TRACK_SECONDS + 20) * 1000,
    )
    assert page.locator("#player-status").text_content() == "Live (HLS)"
    start = page.evaluate("document.getElementById('audio').currentTime")
    page.wait_for_function(
        f"document.getElementById('audio').currentTime > {start + 2}", timeout=20_000
    )
    assert any("/hls/" in url and url.endswith("/live.m3u8") for url in requested)
    assert any(re.search(r"/hls/[a-z-]+/\d+\.ts$", url) for url in requested)
    assert not any("/stream/" in url and ".mp3" in url for url in requested)
    station = page.locator(".station.playing").get_attribute("data-id")
    summary = get_json(f"{base}/api/stations/{station}")
    assert summary["listeners_by_format"]["hls"] == 1  # the page, counted by its fetches
    page.screenshot(path=str(ARTIFACTS / "listener-hls.png"))
