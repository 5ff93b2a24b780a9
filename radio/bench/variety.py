"""`radio bench variety`: stations.toml in, how much the synth repeats itself out (JSON).

For each station it draws tracks as the scheduler would (seeds in a row, the
station's own prompt and pools; each title and plan chosen against the ones the
station already has, as preparation and the scheduler choose them against the
catalog) and reports, per station and overall:

- repeated titles: tracks whose title an earlier track of the station already had;
- twins: tracks whose plan (key, tempo, instruments, progressions) an earlier one had;
- grooves: distinct drum grooves (a track's groove is its most common bar of drum
  hits, as sixteenth positions, so a groove whose A and B bars each win somewhere
  counts twice; `grooves_drawn` counts the plans' own groove choices) and distinct
  chord progressions;
- repeated bars: on a few rendered tracks, the share of bars whose samples are an
  exact copy of another bar of the same track, in the full mix and the drums alone.

Titles, plans and scores need no audio, so 50 tracks per station stay quick; only
the bar figures render, and they render fewer, shorter tracks.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
import numpy as np

from radio.bench.report import machine, output_option, save, stations_option
from radio.generators import GenerationRequest
from radio.generators.synth.form import Plan, grid_of
from radio.generators.synth.generator import plan_unused, render
from radio.generators.synth.score import compose
from radio.generators.synth.voices import RATE
from radio.lineup.prompts import concrete_prompt
from radio.lineup.stations import Station, load_stations
from radio.tracks import unique_title

# Bars this close to another are heard as a loop; measured on the landed main, drum bars
# that differ only by the synth's velocity jitter sit at -25 to -31 dB.
NEAR_COPY_DB = -20.0
SILENT_DB = -60.0


@click.command("variety")
@click.option("--tracks", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option(
    "--rendered",
    type=click.IntRange(0, 50),
    default=2,
    show_default=True,
    help="Tracks per station rendered for the repeated-bar figures.",
)
@click.option("--seconds", type=click.FloatRange(4.0, 600.0), default=90.0, show_default=True)
@click.option(
    "--render-seconds", type=click.FloatRange(4.0, 600.0), default=40.0, show_default=True
)
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the first track.")
@stations_option()
@output_option("variety")
def variety_command(
    tracks: int,
    rendered: int,
    seconds: float,
    render_seconds: float,
    seed: int,
    stations_path: Path,
    output: Path,
) -> None:
    """Count repeated titles, twin tracks, grooves and copied bars per station."""
    config = load_stations(stations_path)
    report = run_benchmark(config.stations, tracks, rendered, seconds, render_seconds, seed)
    save(report, output, table(report))


def run_benchmark(
    stations: tuple[Station, ...],
    tracks: int,
    rendered: int,
    seconds: float,
    render_seconds: float,
    seed: int,
) -> dict[str, Any]:
    figures = {
        s.id: station_figures(s, tracks, rendered, seconds, render_seconds, seed) for s in stations
    }
    total = tracks * len(figures)
    bars = sum(f["bars"] for f in figures.values())
    return {
        "benchmark": "variety",
        "tracks_per_station": tracks,
        "rendered_per_station": rendered,
        "track_seconds": seconds,
        "render_seconds": render_seconds,
        "overall": {
            "tracks": total,
            "repeated_titles": sum(f["repeated_titles"] for f in figures.values()),
            "twins": sum(f["twins"] for f in figures.values()),
            "twin_share": sum(f["twins"] for f in figures.values()) / total,
            "repeated_bar_share": (
                sum(f["repeated_bars"] for f in figures.values()) / bars if bars else 0.0
            ),
            "near_copy_bar_share": (
                sum(f["near_copy_bar_share"] * f["bars"] for f in figures.values()) / bars
                if bars
                else 0.0
            ),
            "stations_with_one_groove": sorted(
                sid for sid, f in figures.items() if f["drummed_tracks"] and f["grooves"] < 2
            ),
        },
        "stations": figures,
        "machine": machine(),
    }


def station_figures(
    station: Station, tracks: int, rendered: int, seconds: float, render_seconds: float, seed: int
) -> dict[str, Any]:
    titles: Counter[str] = Counter()
    plans: Counter[str] = Counter()
    used: set[str] = set()
    drawn: set[object] = set()  # the plan's own groove index, where the synth records one
    grooves: Counter[str] = Counter()
    progressions: set[str] = set()
    for n in range(tracks):
        request, candidates = _request(station, seed + n, seconds)
        titles[unique_title(candidates, titles)] += 1
        plan, parameters, _ = plan_unused(replace(request, used_plans=frozenset(used)))
        used.add(str(parameters["fingerprint"]))
        plans[plan_key(parameters)] += 1
        progressions.update(str(parameters[k]) for k in ("progression_a", "progression_b"))
        groove = groove_of(plan, request.seed) if plan.drums else ""
        if plan.drums and parameters.get("groove") is not None:
            drawn.add(parameters["groove"])
        if groove:
            grooves[groove] += 1
    bars = repeated = near = drum_bars = drum_repeated = drum_near = 0
    for n in range(rendered):
        request, _ = _request(station, seed + n, render_seconds)
        plan, _, rng = plan_unused(request)
        score = compose(plan, rng)
        state = rng.bit_generator.state
        counted = copied_bars(render(score, plan, rng), plan)
        bars, repeated, near = bars + counted[0], repeated + counted[1], near + counted[2]
        if score.hits:
            rng.bit_generator.state = state
            drums = copied_bars(render(replace(score, notes=[]), plan, rng), plan)
            drum_bars += drums[0]
            drum_repeated, drum_near = drum_repeated + drums[1], drum_near + drums[2]
    return {
        "repeated_titles": sum(count - 1 for count in titles.values()),
        "twins": sum(count - 1 for count in plans.values()),
        "drummed_tracks": sum(grooves.values()),
        "grooves": len(grooves),
        "grooves_drawn": len(drawn),
        "progressions": len(progressions),
        "bars": bars,
        "repeated_bars": repeated,
        "repeated_bar_share": repeated / bars if bars else 0.0,
        "near_copy_bar_share": near / bars if bars else 0.0,
        "drum_bars": drum_bars,
        "drum_repeated_bar_share": drum_repeated / drum_bars if drum_bars else 0.0,
        "drum_near_copy_bar_share": drum_near / drum_bars if drum_bars else 0.0,
    }


def plan_key(parameters: dict[str, object]) -> str:
    """The choices that make two tracks twins when they are all the same."""
    names = ("key", "tempo", "lead", "chords", "bass", "extra", "progression_a", "progression_b")
    return "|".join(str(parameters.get(name, "")) for name in names)


def groove_of(plan: Plan, seed: int) -> str:
    """The track's most common bar of drum hits, as (drum, sixteenth) pairs; '' without drums.

    Composed without humanised timing, so that a hit nudged across the rounding line
    does not count as another groove."""
    plan = replace(plan, palette=replace(plan.palette, humanize=0.0))
    score = compose(plan, _rng(seed))
    grid = grid_of(plan)
    bar_seconds = grid.bar_steps * grid.step_seconds
    bars: dict[int, set[tuple[str, int]]] = {}
    for hit in score.hits:
        bar, within = divmod(hit.time / bar_seconds, 1.0)
        bars.setdefault(int(bar), set()).add((hit.drum, round(within * grid.bar_steps)))
    if not bars:
        return ""
    shapes = Counter(" ".join(f"{d}@{s}" for d, s in sorted(hits)) for hits in bars.values())
    return shapes.most_common(1)[0][0]


def copied_bars(samples: np.ndarray[Any, Any], plan: Plan) -> tuple[int, int, int]:
    """(whole bars, exact copies, near copies) in one rendered track.

    An exact copy's samples equal another bar's; a near copy differs from another bar
    by less than NEAR_COPY_DB of its own energy (the same hits, only a little louder
    or softer: what a listener hears as a loop). Silent bars (a drumless stretch of the
    drums alone, more than SILENT_DB under the loudest bar) are not counted: silence
    repeating is not a loop."""
    grid = grid_of(plan)
    bar_frames = grid.bar_steps * grid.step_seconds * RATE
    length = int(bar_frames)
    starts = [round(i * bar_frames) for i in range(int(len(samples) // bar_frames))]
    bars = [
        np.ascontiguousarray(samples[s : s + length]) for s in starts if s + length <= len(samples)
    ]
    if bars:
        loudest = max(float(np.sum(np.square(bar, dtype=np.float64))) for bar in bars)
        floor = loudest * 10 ** (SILENT_DB / 10)
        bars = [bar for bar in bars if float(np.sum(np.square(bar, dtype=np.float64))) > floor]
    if not bars:
        return 0, 0, 0
    digests = Counter(hashlib.blake2b(bar.tobytes()).digest() for bar in bars)
    exact = sum(n for n in digests.values() if n > 1)
    matrix = np.stack([bar.ravel() for bar in bars]).astype(np.float64)
    gram = matrix @ matrix.T
    energy = np.diag(gram)
    residual = energy[:, None] + energy[None, :] - 2 * gram  # |a - b|^2 for every pair
    np.fill_diagonal(residual, np.inf)
    near = np.min(residual, axis=1) < energy * 10 ** (NEAR_COPY_DB / 10)
    return len(bars), exact, int(np.sum(near & (energy > 0)))


def table(report: dict[str, Any]) -> list[str]:
    lines = [
        f"{'station':<12} {'titles rep':>10} {'twins':>6} {'grooves':>8} {'progs':>6}"
        f" {'bars exact':>10} {'bars near':>9} {'drums near':>10}"
    ]
    for sid, f in report["stations"].items():
        lines.append(
            f"{sid:<12} {f['repeated_titles']:>10} {f['twins']:>6} {f['grooves']:>8}"
            f" {f['progressions']:>6} {f['repeated_bar_share']:>10.1%}"
            f" {f['near_copy_bar_share']:>9.1%} {f['drum_near_copy_bar_share']:>10.1%}"
        )
    overall = report["overall"]
    lines.append(
        f"{'overall':<12} {overall['repeated_titles']:>10} {overall['twins']:>6}"
        f" ({overall['twin_share']:.1%} twins; bars {overall['repeated_bar_share']:.1%} exact,"
        f" {overall['near_copy_bar_share']:.1%} near copies)"
    )
    return lines


def _request(
    station: Station, seed: int, seconds: float
) -> tuple[GenerationRequest, tuple[str, ...]]:
    prompt = concrete_prompt(station, seed)
    request = GenerationRequest(
        station.id, station.genre, prompt.text, seed, seconds, prompt.params
    )
    return request, (prompt.title, *prompt.alternatives)


def _rng(seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed % 2**128))
