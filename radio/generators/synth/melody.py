"""Sections, chord slots and a scale in, the lead line out: motifs that return and resolve.

A melody is a two-bar motif per theme (A or B): rhythm from the genre's density,
mostly stepwise moves through the melody scale, chord tones on strong beats. A
section plays motif, variation, motif, cadence, so a returning A sings its tune
again and every section ends on a chord tone; the last phrase lands on the root.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from radio.generators.synth.form import ENERGY, PARTS, Plan, Section, Slot, grid_of, slot_at
from radio.generators.synth.theory import scale_pitches

Motif = list[tuple[int, int, int]]  # (offset in sixteenths, held sixteenths, scale move)
MOVES = (-2, -1, -1, 0, 1, 1, 2, 3, -3, 4)


@dataclass(frozen=True)
class LeadNote:
    voice: str
    step: int
    steps: float
    midi: int
    velocity: float


def melody(
    plan: Plan, sections: list[Section], slots: list[Slot], rng: np.random.Generator
) -> list[LeadNote]:
    low, high = plan.ensemble.lead_range or plan.palette.lead_range
    pitches = scale_pitches(plan.key.tonic, plan.melody_scale, low, high)
    bar_steps = grid_of(plan).bar_steps
    motifs: dict[str, list[Motif]] = {}
    notes: list[LeadNote] = []
    for section in sections:
        if "lead" not in PARTS[section.label]:
            continue
        theme = "B" if section.label in ("B", "break") else "A"
        if theme not in motifs:
            motifs[theme] = motif_variants(rng, plan.palette.density, bar_steps)
        voice = plan.ensemble.leads[section.label == "B"]
        stop = (section.start_bar + section.bars) * bar_steps
        index = len(pitches) // 2  # each section starts mid-range, so a repeat sounds the same
        phrases = math.ceil(section.bars / 2)
        for phrase in range(phrases):
            kind = 2 if phrase == phrases - 1 else (0, 1, 0, 2)[phrase % 4]
            start = (section.start_bar + phrase * 2) * bar_steps
            for n, (offset, held, move) in enumerate(motifs[theme][kind]):
                step = start + offset
                if step >= stop:
                    break
                index = _reflect(index + move, len(pitches))
                classes = slot_at(slots, step).chord.pitch_classes(plan.key.tonic)
                strong = offset % (bar_steps // 2) == 0
                final = kind == 2 and n == len(motifs[theme][kind]) - 1
                if strong or final:
                    index = _nearest_tone(pitches, index, classes[:1] if final else classes)
                velocity = ENERGY[section.label] * (0.95 if strong else 0.8)
                length = min(held, stop - step) - 0.2  # a breath between notes
                notes.append(LeadNote(voice, step, length, pitches[index], velocity))
    return notes


def motif_variants(rng: np.random.Generator, density: float, bar_steps: int) -> list[Motif]:
    """A two-bar motif, its variation (a few moves nudged), and its cadence (last note held)."""
    steps = 2 * bar_steps
    weights = [1.0 if s % 4 == 0 else 0.55 if s % 2 == 0 else 0.15 for s in range(steps)]
    chance = [min(1.0, density * w * 1.6) for w in weights]
    onsets = [s for s in range(steps - 2) if s == 0 or rng.random() < chance[s]]
    if len(onsets) > 2 and rng.random() < 0.6:  # breathe before the next phrase
        onsets = [s for s in onsets if s < steps - 4]
    motif: Motif = []
    last = 0
    for n, onset in enumerate(onsets):
        end = onsets[n + 1] if n + 1 < len(onsets) else steps - 1
        move = int(rng.choice(MOVES))
        if abs(last) >= 3:
            move = -int(np.sign(last))  # after a leap, step back the other way
        elif onset < steps / 2 and move < 0 and rng.random() < 0.3:
            move += 1  # phrases tend to rise first and fall after
        motif.append((onset, max(1, min(end - onset, 12)), move if n else 0))
        last = move
    varied = [
        (offset, held, move + int(rng.integers(-1, 2)) if n % 3 == 1 else move)
        for n, (offset, held, move) in enumerate(motif)
    ]
    cadence = list(varied)
    offset, _, move = cadence[-1]
    cadence[-1] = (offset, steps - offset, move)
    return [motif, varied, cadence]


def _nearest_tone(pitches: list[int], index: int, classes: tuple[int, ...]) -> int:
    tones = [i for i, pitch in enumerate(pitches) if pitch % 12 in classes]
    return min(tones, key=lambda i: abs(i - index)) if tones else index


def _reflect(index: int, size: int) -> int:
    """Keep a melody inside its range by turning it back at the edges."""
    if index < 0:
        return min(-index, size - 1)
    if index >= size:
        return max(2 * (size - 1) - index, 0)
    return index
