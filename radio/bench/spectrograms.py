"""`radio bench spectrograms`: genres in, 30 s of each as WAV, a spectrogram PNG and figures out.

What the synth sounds like, to look at: each genre is rendered from its station's
real prompt through the SoundFont (and, for comparison, through the sine voices),
written as a WAV, and drawn by ffmpeg's `showspectrumpic` (no plotting library).
The JSON gives per track what the eye looks for in the picture: the spectral
centroid (bright or dark), onsets per second (busy or still), the share of energy
above 5 kHz (cymbals, air) and the side/mid ratio (how wide the stereo is).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import click
import numpy as np
import numpy.typing as npt
import soundfile

from radio.audio import PLAYOUT_RATE
from radio.bench.report import machine, save, soundfont_option, stations_option
from radio.generators import GenerationRequest
from radio.generators.synth import SynthGenerator
from radio.lineup.prompts import concrete_prompt
from radio.lineup.stations import load_stations

Audio = npt.NDArray[np.float32]
GENRES = ("jazz", "metal", "classical", "lo-fi hip-hop", "synthwave")
FRAME, HOP = 2048, 512


@click.command("spectrograms")
@click.option("--genre", "genres", multiple=True, default=GENRES, show_default=True)
@click.option("--seconds", type=click.FloatRange(1.0, 120.0), default=30.0, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@stations_option()
@soundfont_option()
@click.option(
    "--folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("docs/sound"),
    show_default=True,
    help="Where the PNGs go (WAVs go to cache/bench/sound).",
)
def spectrograms_command(
    genres: tuple[str, ...],
    seconds: float,
    seed: int,
    stations_path: Path,
    soundfont: Path,
    folder: Path,
) -> None:
    """Spectrograms and figures of the synth's genres, sampled and sine, side by side."""
    if shutil.which("ffmpeg") is None:
        raise click.ClickException("ffmpeg draws the spectrograms: apt-get install ffmpeg")
    stations = {s.genre.lower(): s for s in load_stations(stations_path).stations}
    unknown = [g for g in genres if g.lower() not in stations]
    if unknown:
        raise click.ClickException(f"no station plays {', '.join(unknown)}")
    renderers = {"sampled": SynthGenerator(soundfont), "sine": SynthGenerator(None)}
    if renderers["sampled"].instruments is None:
        del renderers["sampled"]
    waves = Path("cache/bench/sound")
    folder.mkdir(parents=True, exist_ok=True)
    waves.mkdir(parents=True, exist_ok=True)
    tracks: dict[str, dict[str, Any]] = {}
    for genre in genres:
        station = stations[genre.lower()]
        prompt = concrete_prompt(station, seed)
        request = GenerationRequest(
            station.id, station.genre, prompt.text, seed, seconds, prompt.params
        )
        for renderer, generator in renderers.items():
            out = generator.generate([request])[0]
            name = f"{station.id}-{renderer}"
            wav, png = waves / f"{name}.wav", folder / f"{name}.png"
            soundfile.write(wav, out.samples, PLAYOUT_RATE, subtype="PCM_16")
            # Every sampled genre is drawn; the sines once, for comparison (figures for all).
            drawn = renderer == "sampled" or genre == genres[0]
            if drawn:
                _draw(wav, png)
            tracks[name] = {
                "genre": station.genre,
                "renderer": renderer,
                "prompt": prompt.text,
                "png": str(png) if drawn else None,
                "instruments": out.parameters["instruments"],
                "ensemble": {p: out.parameters[p] for p in ("lead", "chords", "bass", "extra")},
                **figures(out.samples),
            }
    report = {"benchmark": "spectrograms", "seconds": seconds, "tracks": tracks}
    report["machine"] = machine()
    save(report, folder / "spectrograms.json", _table(tracks))


def figures(samples: Audio) -> dict[str, float]:
    """Brightness, busyness, air and width of a (frames, 2) track."""
    mono = samples.mean(axis=1).astype(np.float64)
    side = (samples[:, 0] - samples[:, 1]).astype(np.float64) / 2
    count = (len(mono) - FRAME) // HOP
    index = np.arange(FRAME)[None, :] + HOP * np.arange(count)[:, None]
    spectrum = np.abs(np.fft.rfft(mono[index] * np.hanning(FRAME), axis=1))
    freqs = np.fft.rfftfreq(FRAME, 1 / PLAYOUT_RATE)
    power = spectrum**2
    energy = power.sum(axis=1)
    centroid = (power * freqs).sum(axis=1) / np.maximum(energy, 1e-12)
    flux = np.maximum(np.diff(np.log1p(spectrum), axis=0), 0).sum(axis=1)
    peaks = (flux[1:-1] > flux[:-2]) & (flux[1:-1] >= flux[2:])
    onsets = int((peaks & (flux[1:-1] > np.median(flux) + 2 * flux.std())).sum())
    return {
        "centroid_hz": round(float((centroid * energy).sum() / energy.sum()), 1),
        "onsets_per_second": round(onsets / (len(mono) / PLAYOUT_RATE), 2),
        "energy_above_5khz_db": round(
            float(10 * np.log10(power[:, freqs > 5000].sum() / power.sum() + 1e-12)), 1
        ),
        "side_to_mid_db": round(
            float(10 * np.log10((side**2).sum() / max((mono**2).sum(), 1e-12) + 1e-12)), 1
        ),
    }


def _draw(wav: Path, png: Path) -> None:
    """ffmpeg's spectrum picture: log frequency axis, log intensity, legend with axes."""
    # A 64-colour palette keeps each picture near 170 kB instead of 800 kB in the repo.
    picture = (
        "showspectrumpic=s=1000x400:mode=combined:scale=log:fscale=log:legend=1,"
        "split[a][b];[a]palettegen=max_colors=64[p];[b][p]paletteuse=dither=none"
    )
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-lavfi", picture, str(png)],
        check=True,
        timeout=1800,  # showspectrumpic takes about a CPU minute per 30 s picture
    )


def _table(tracks: dict[str, dict[str, Any]]) -> list[str]:
    lines = [f"{'track':<28} {'centroid Hz':>11} {'onsets/s':>9} {'>5 kHz dB':>10} {'S/M dB':>7}"]
    for name, t in tracks.items():
        lines.append(
            f"{name:<28} {t['centroid_hz']:>11.0f} {t['onsets_per_second']:>9.2f}"
            f" {t['energy_above_5khz_db']:>10.1f} {t['side_to_mid_db']:>7.1f}"
        )
    return lines
