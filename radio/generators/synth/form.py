"""A track length, a tempo and two progressions in, the form out: sections, chord slots, swing grid.

The form is what keeps 90 seconds from looping one bar: an intro, A and B
sections on their own progressions, sometimes a break, and an outro whose last
bar is the tonic. Sections are whole progressions long, so a 12-bar blues keeps
its twelve bars.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from radio.generators.synth.palettes import Ensemble, Palette
from radio.generators.synth.theory import Chord, Key, parse_chord, parse_progression

FORMS = (("A", "B", "A", "B"), ("A", "A", "B", "A"), ("A", "B", "break", "B", "A"))
# Which parts play in each kind of section, and how hard. The intro plays the band: on
# the radio a track begins at full musical level, as a radio edit does, or the join
# heard a hole where chords and drums played alone (#9); it is lighter by its drums.
PARTS = {
    "intro": {"drums", "bass", "chords", "lead"},
    "A": {"drums", "bass", "chords", "lead"},
    "B": {"drums", "bass", "chords", "lead", "extra"},
    "break": {"chords", "lead", "extra", "bass"},
    "outro": {"drums", "bass", "chords", "lead"},
}
ENERGY = {"intro": 0.8, "A": 0.85, "B": 1.0, "break": 0.7, "outro": 0.8}


@dataclass(frozen=True)
class Plan:
    palette: Palette
    ensemble: Ensemble
    key: Key
    tempo: float
    beats: int  # per bar
    drums: bool
    melody_scale: tuple[int, ...]
    progressions: tuple[str, str]  # A sections (and intro, outro), B sections (and break)
    seconds: float
    groove: int = 0  # which of the palette's grooves the drums play


@dataclass(frozen=True)
class Section:
    label: str  # intro | A | B | break | outro
    start_bar: int
    bars: int


@dataclass(frozen=True)
class Slot:
    """One chord's stretch of the track."""

    step: int  # first sixteenth, counted from the top of the track
    steps: int
    chord: Chord
    section: Section


@dataclass(frozen=True)
class Grid:
    tempo: float
    beats: int
    swing: float
    swing_16ths: bool

    @property
    def step_seconds(self) -> float:
        return 15.0 / self.tempo

    @property
    def bar_steps(self) -> int:
        return self.beats * 4

    def time(self, step: float) -> float:
        """Seconds at a sixteenth, with the off-beat of each swing pair pushed late."""
        pair = 2 if self.swing_16ths else 4
        index, position = divmod(step, pair)
        half = pair / 2
        if position < half:
            warped = position / half * self.swing
        else:
            warped = self.swing + (position - half) / half * (1 - self.swing)
        return (index + warped) * pair * self.step_seconds


def grid_of(plan: Plan) -> Grid:
    return Grid(plan.tempo, plan.beats, plan.palette.swing, plan.palette.swing_16ths)


def total_bars(plan: Plan) -> int:
    """Whole bars that fit, rounding up only when less than a quarter bar would be cut."""
    grid = grid_of(plan)
    return max(1, math.floor(plan.seconds / (grid.bar_steps * grid.step_seconds) + 0.25))


def plan_form(plan: Plan, rng: np.random.Generator) -> tuple[list[Section], list[Slot]]:
    bars_a = parse_progression(plan.progressions[0], plan.key)
    bars_b = parse_progression(plan.progressions[1], plan.key)
    sections = plan_sections(total_bars(plan), max(len(bars_a), len(bars_b)), rng)
    return sections, chord_slots(sections, bars_a, bars_b, plan.key, grid_of(plan).bar_steps)


def plan_sections(bars: int, unit: int, rng: np.random.Generator) -> list[Section]:
    """Intro, body sections of about eight bars (whole progressions), outro."""
    form = list(FORMS[int(rng.integers(len(FORMS)))])
    unit = unit * math.ceil(4 / unit) if unit < 4 else unit
    if bars < unit + 4:
        return [Section("A", 0, bars)]
    edge = 4 if bars >= 40 and unit % 4 == 0 else 2
    length = unit * max(1, round(8 / unit))
    sections = [Section("intro", 0, edge)]
    bar, end = edge, bars - edge

    def label() -> str:
        return form.pop(0) if form else ("A" if sections[-1].label != "A" else "B")

    while end - bar >= length:
        sections.append(Section(label(), bar, length))
        bar += length
    if end - bar >= length // 2 or len(sections) == 1:
        sections.append(Section(label(), bar, end - bar))
        bar = end
    # Leftover bars too few for a section of their own lengthen the outro instead.
    sections.append(Section("outro", bar, bars - bar))
    return sections


def chord_slots(
    sections: list[Section],
    bars_a: list[list[Chord]],
    bars_b: list[list[Chord]],
    key: Key,
    bar_steps: int,
) -> list[Slot]:
    first = bars_a[0][0]
    tonic = first if first.root == 0 else parse_chord("i" if key.minor else "I", key)
    slots = []
    for section in sections:
        progression = bars_b if section.label in ("B", "break") else bars_a
        for index in range(section.bars):
            bar = section.start_bar + index
            final = section is sections[-1] and index == section.bars - 1
            chords = [tonic] if final else progression[index % len(progression)]
            split = bar_steps // len(chords)
            for n, chord in enumerate(chords):
                slots.append(Slot(bar * bar_steps + n * split, split, chord, section))
    return slots


def slot_at(slots: list[Slot], step: int) -> Slot:
    """The chord sounding at a sixteenth (slots are in order)."""
    lo, hi = 0, len(slots) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if slots[mid].step <= step:
            lo = mid
        else:
            hi = mid - 1
    return slots[lo]
