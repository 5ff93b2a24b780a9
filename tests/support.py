"""What the test modules share: the short lineup, waiting without sleep loops, and a
listener's tools (read a mount, split ICY, decode with ffmpeg, find a tone's pitch).

No test module imports another; they all import from here (and fakes from dummies).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

REPO = Path(__file__).resolve().parent.parent
RATE = 44100  # the playout rate, as decoded by ffmpeg here

T = TypeVar("T")
StartServer = Callable[..., Any]  # the start_server fixture: (text, generator, cache, **settings)

SHORT = """
[defaults]
track_seconds = {track_seconds}
crossfade_seconds = {crossfade_seconds}
backlog_minutes = {backlog_minutes}
bitrate = {bitrate}

[[stations]]
id = "jazz"
name = "Blue Hour Jazz"
genre = "Jazz"
description = "Small-combo jazz."
prompt = "{{mood}} jazz, {{tempo}} BPM"
[stations.pools]
mood = ["smoky", "warm", "wistful"]
tempo = ["96", "120"]

[[stations]]
id = "metal"
name = "Iron Forge Metal"
genre = "Metal"
description = "Heavy riffs."
prompt = "{{mood}} metal, {{tempo}} BPM"
[stations.pools]
mood = ["epic", "furious"]
tempo = ["140", "180"]
"""


def short_lineup(
    track_seconds: float = 4,
    crossfade_seconds: float = 0.5,
    backlog_minutes: float = 0.2,
    bitrate: int = 128,
) -> str:
    """Two stations (jazz, metal) with short tracks, so a test hears several changes."""
    return SHORT.format(
        track_seconds=track_seconds,
        crossfade_seconds=crossfade_seconds,
        backlog_minutes=backlog_minutes,
        bitrate=bitrate,
    )


async def wait_until(
    check: Callable[[], T | Awaitable[T]], seconds: float = 20.0, what: str = ""
) -> T:
    """Return the first truthy result of `check` (sync or async), polled every 50 ms;
    fail with `what` once `seconds` have passed. The one way tests wait for the radio."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        if loop.time() > deadline:
            raise AssertionError(f"waited {seconds} s for {what or check}")
        await asyncio.sleep(0.05)


def wait_for(check: Callable[[], T], seconds: float, what: str) -> T:
    """wait_until for threads without an event loop (the browser tests)."""
    deadline = time.monotonic() + seconds
    while True:
        if result := check():
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.1)


async def on_air(radio: Any, seconds: float = 15.0) -> None:
    """Wait until every station of a running radio has a track on air."""
    await wait_until(
        lambda: all(a.playout.now for a in radio.on_air.values()), seconds, "stations on air"
    )


async def read_stream(url: str, seconds: float, icy: bool = False) -> bytes:
    """What a listener of `url` receives in `seconds`."""
    from aiohttp import ClientSession

    headers = {"Icy-MetaData": "1"} if icy else {}
    data = bytearray()
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    async with ClientSession() as session, session.get(url, headers=headers) as response:
        while loop.time() < end:
            data += await asyncio.wait_for(response.content.readany(), timeout=5)
    return bytes(data)


async def read_icy_until_titles(url: str, titles: int, metaint: int, seconds: float = 30) -> bytes:
    """An ICY listener of `url` that hangs up once it has seen `titles` distinct titles."""
    from aiohttp import ClientSession

    data = bytearray()
    async with (
        asyncio.timeout(seconds),
        ClientSession() as session,
        session.get(url, headers={"Icy-MetaData": "1"}) as response,
    ):
        while len({t for _, t in parse_icy(bytes(data), metaint)[1] if t}) < titles:
            data += await response.content.readany()
    return bytes(data)


def parse_icy(stream: bytes, metaint: int) -> tuple[bytes, list[tuple[int, str | None]]]:
    """Split an ICY stream into audio bytes and (audio offset, title or None) per block."""
    audio, blocks, pos = bytearray(), [], 0
    while pos < len(stream):
        chunk = stream[pos : pos + metaint]
        audio += chunk
        pos += len(chunk)
        if len(chunk) < metaint or pos >= len(stream):
            break
        size = stream[pos] * 16
        text = stream[pos + 1 : pos + 1 + size].rstrip(b"\0").decode()
        blocks.append(
            (len(audio), text.removeprefix("StreamTitle='").removesuffix("';") if size else None)
        )
        pos += 1 + size
    return bytes(audio), blocks


async def decode(mp3: bytes) -> tuple[np.ndarray, str]:
    """ffmpeg decodes to 44.1 kHz stereo float; returns the samples and its stderr."""
    command = ["ffmpeg", "-v", "error", "-f", "mp3", "-i", "pipe:0"]
    command += ["-f", "s16le", "-ac", "2", "-ar", str(RATE), "pipe:1"]
    pipe = asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(*command, stdin=pipe, stdout=pipe, stderr=pipe)
    out, err = await proc.communicate(mp3)
    assert proc.returncode == 0, err
    pcm = np.frombuffer(out, dtype=np.int16).reshape(-1, 2).astype(np.float32) / 32768
    return pcm, err.decode()


def dominant_hz(pcm: np.ndarray, rate: int = RATE) -> float:
    """The loudest frequency of a block of (frames, channels) audio: a tone's pitch."""
    spectrum = np.abs(np.fft.rfft(pcm[:, 0] * np.hanning(len(pcm))))
    return float(np.argmax(spectrum) * rate / len(pcm))
