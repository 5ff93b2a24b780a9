"""A plan and an rng in, a score out: every note and drum hit of a track, in seconds.

The form (form.py) says which chord sounds when and which parts play; this
module turns the genre's pattern strings into bass lines, comping, arpeggios and
grooves over it, adds the lead from melody.py, and humanises the timing
where the genre is played by people.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from radio.generators.synth.form import (
    ENERGY,
    PARTS,
    Plan,
    Section,
    Slot,
    grid_of,
    plan_form,
    total_bars,
)
from radio.generators.synth.melody import melody
from radio.generators.synth.palettes import Groove
from radio.generators.synth.theory import Chord, nearest_pitch, scale_pitches, voice_chord

VELOCITY = {"X": 1.0, "x": 0.8, "o": 0.4}
BEAT_KEEPING_HITS = 4  # an intro's drums mark at least this many beats a bar
HOLD_LEVEL = 1.0  # chords held under an intro's or an outro's comping, against the comping's 0.8
# Three-four time sets the genre's four-four patterns aside and waltzes instead.
WALTZ_GROOVE = {"kick": "x...........", "snare": "....o...o...", "hat": "x.x.x.x.x.x."}
WALTZ_BASS = ("R-------5---", "R---5---8---")
WALTZ_COMP = ("....x---x---", "x---x---x---")
BASS_RANGE = (28, 47)
STRUM_GAP = 0.012  # seconds between strings in a strum
# Section-end fills, a few per instrument, each the length of its own last beats
# (4 or 8 sixteenths); a fill is drawn per section end, so no two ends need match.
FILLS: dict[str, tuple[dict[str, str], ...]] = {
    "toms": (
        {"tom_hi": "xx..", "tom_lo": "..xX"},
        {"snare": "oo..", "tom_hi": "..x.", "tom_lo": "...X"},
        {"tom_hi": "x.x.xx..", "tom_lo": "......xX"},
        {"snare": "x.o.x.o.", "tom_hi": "....x...", "tom_lo": "......xX", "kick": "X......."},
    ),
    "snare": (
        {"snare": "oxxX"},
        {"snare": "x.xX"},
        {"snare": "oooxoxxX"},
        {"snare": "x..x..xX", "kick": "..x..x.."},
    ),
    "congas": (
        {"conga_hi": "xx..", "conga_lo": "..xX"},
        {"conga_hi": "x.xx", "conga_lo": ".x.."},
        {"conga_hi": "x.x.xx..", "conga_lo": "...x..xX"},
    ),
}
# An orchestra's accents: (where in the bar, how loud) of each stroke.
ACCENTS = (((0.0, 1.0),), ((0.0, 1.0), (0.5, 0.55)), ((0.0, 1.0), (0.75, 0.4), (0.875, 0.6)))
# Drums whose lines take an extra ghost note now and then, as a player's hands do.
GHOSTED = ("snare", "hat", "rim", "shaker", "conga_hi")
GHOST_CHANCE = 0.35  # per bar and line
VELOCITY_SPREAD = 0.08  # humanised velocity: the spread of a hit's level around its mark


@dataclass(frozen=True)
class Note:
    part: str  # bass | chords | lead | extra
    voice: str
    time: float  # seconds
    steps: float  # how long it is held, in sixteenths
    midi: int
    velocity: float
    pan: float = 0.0


@dataclass(frozen=True)
class Hit:
    drum: str
    time: float
    velocity: float


@dataclass
class Score:
    sections: list[Section]
    notes: list[Note] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)


def compose(plan: Plan, rng: np.random.Generator) -> Score:
    sections, slots = plan_form(plan, rng)
    composer = _Composer(plan, rng, Score(sections), _dynamics(sections, rng))
    composer.bass(slots)
    composer.chords(slots)
    for note in melody(plan, sections, slots, rng):
        composer.add("lead", note.voice, note.step, note.steps, note.midi, note.velocity)
    composer.drums(sections)
    return composer.score


class _Composer:
    def __init__(
        self, plan: Plan, rng: np.random.Generator, score: Score, dynamics: list[float]
    ) -> None:
        self.plan, self.rng, self.score = plan, rng, score
        self.dynamics = dynamics  # a level per bar: sections rise, fall and differ
        self.grid = grid_of(plan)
        self.palette, self.ensemble, self.key = plan.palette, plan.ensemble, plan.key
        self.waltz = plan.beats == 3

    def time(self, step: float) -> float:
        humanize = self.palette.humanize
        jitter = float(self.rng.normal(0.0, humanize)) if humanize else 0.0
        return max(0.0, self.grid.time(step) + jitter)

    def add(
        self,
        part: str,
        voice: str,
        step: float,
        steps: float,
        midi: int,
        velocity: float,
        pan: float = 0.0,
        late: float = 0.0,
    ) -> None:
        # Velocities stay within 0..1, the range a renderer maps to MIDI velocity.
        velocity = min(1.0, velocity * float(self.rng.uniform(0.9, 1.0)) * self._level(step))
        when = self.time(step) + late
        self.score.notes.append(Note(part, voice, when, steps, midi, velocity, pan))

    def _level(self, step: float) -> float:
        bar = int(step // self.grid.bar_steps)
        return self.dynamics[min(max(bar, 0), len(self.dynamics) - 1)]

    def bass(self, slots: list[Slot]) -> None:
        patterns = WALTZ_BASS if self.waltz else self.palette.bass_patterns
        bar_steps = self.grid.bar_steps
        previous = BASS_RANGE[0] + 8
        for n, slot in enumerate(slots):
            section = slot.section
            if "bass" not in PARTS[section.label]:
                continue
            following = slots[n + 1] if n + 1 < len(slots) else slot
            if section.label == "break":
                pattern, origin = "R" + "-" * (slot.steps - 1), slot.step  # a held drone
            else:
                pattern, origin = patterns[section.label == "B"], 0
            for step in range(slot.step, slot.step + slot.steps):
                index = (step - origin) % bar_steps % len(pattern)
                if pattern[index] in ".-":
                    continue
                held = _held(pattern, index)
                if n + 1 == len(slots):  # the last note rings to the end
                    held = max(held, slot.step + slot.steps - step)
                previous = self._bass_pitch(pattern[index], slot.chord, following.chord, previous)
                velocity = ENERGY[section.label] * (1.0 if step % 4 == 0 else 0.85)
                self.add("bass", self.ensemble.bass, step, held, previous, velocity)

    def _bass_pitch(self, token: str, chord: Chord, following: Chord, previous: int) -> int:
        tonic, tones = self.key.tonic, chord.intervals
        root = _clamp(nearest_pitch((tonic + chord.root) % 12, previous), *BASS_RANGE)
        fifth = tones[2] if len(tones) > 2 else 7
        seventh = tones[3] if len(tones) > 3 else 10
        offsets = {"R": 0, "3": tones[1], "5": fifth, "6": 9, "7": seventh, "b": 10, "8": 12}
        if token in offsets:
            return root + offsets[token]
        target = _clamp(nearest_pitch((tonic + following.root) % 12, previous), *BASS_RANGE)
        if token == "N":
            return target
        if token == "A":  # a chromatic neighbour of the next root, from the side we are on
            below, above = target - 1, target + 1
            return (
                below if (previous < target and previous != below) or previous == above else above
            )
        # 'W': a scale tone a step or two from the last note, heading for the next root.
        pool = scale_pitches(tonic, self.key.scale, previous - 4, previous + 4)
        moves = [p for p in pool if p != previous and (p - previous) * (target - previous) >= 0]
        return int(self.rng.choice(moves)) if moves else root

    def chords(self, slots: list[Slot]) -> None:
        ens = self.ensemble
        low, high = ens.chord_range
        voicing: tuple[int, ...] | None = None
        upper: tuple[int, ...] | None = None
        for n, slot in enumerate(slots):
            label = slot.section.label
            classes = slot.chord.pitch_classes(self.key.tonic)
            voicing = voice_chord(classes, low, high, voicing)
            last = n + 1 == len(slots)
            energy = ENERGY[label]
            style, voice = ens.comp, ens.chords
            if label == "break" and ens.comp != "arp":
                # A break holds its chords; a piano or a guitar held would die away into
                # a hole (#9), so the palette's sustaining voice holds them.
                style, voice = "pad", self.palette.hold or ens.chords
            patterns = ens.patterns
            if self.waltz and style in ("rhythm", "strum", "power"):
                patterns = WALTZ_COMP
            pattern = patterns[label == "B"]
            self._comp("chords", voice, style, pattern, slot, voicing, energy * 0.8, last)
            edge = label in ("intro", "outro") or last
            hold = HOLD_LEVEL if edge else self.palette.bed
            if hold and style != "pad":
                # Sparse comping leaves holes between hits that a radio join hears as a
                # dip (#9): the intro and the outro hold their chords under the hits, so a
                # track opens and ends at the band's level while the hits keep the genre's
                # rhythm. A piano or a skank held still dies away within a beat: the
                # palette's hold voice sustains.
                held = self.palette.hold or ens.chords
                self._comp("chords", held, "pad", pattern, slot, voicing, energy * hold, last)
            if ens.extra and "extra" in PARTS[label]:
                upper = voice_chord(classes, low + 12, high + 12, upper)
                extra = (ens.extra_style, ens.extra_pattern)
                self._comp("extra", ens.extra, *extra, slot, upper, energy * 0.7, last)

    def _comp(
        self,
        part: str,
        voice: str,
        style: str,
        pattern: str,
        slot: Slot,
        voicing: tuple[int, ...],
        energy: float,
        last: bool,
    ) -> None:
        """One chord slot played as a pad, rhythm hits, a strum, an arpeggio or power chords."""
        size = len(voicing)
        spread = [0.35 * (1 if i % 2 else -1) * (0.5 + i / (2 * size)) for i in range(size)]
        if style == "pad" or last:
            length = slot.steps + (16 if last else 0.3)  # legato; the final chord rings out
            for midi, pan in zip(voicing, spread, strict=True):
                self.add(part, voice, slot.step, length, midi, energy * 0.8, pan)
            return
        for step in range(slot.step, slot.step + slot.steps):
            index = step % self.grid.bar_steps % len(pattern)
            token = pattern[index]
            if token in ".-":
                continue
            held = _held(pattern, index)
            if style == "arp" and token.isdigit():
                octave, degree = divmod(int(token), size)
                midi = voicing[degree] + 12 * octave
                self.add(part, voice, step, max(held, 2), midi, energy, spread[degree])
            elif style == "power":
                low = self.ensemble.chord_range[0]
                root = low + ((self.key.tonic + slot.chord.root - low) % 12)
                if token == "m":
                    self.add(part, "palm_mute", step, 1, root, energy * 0.85)
                else:
                    self.add(part, voice, step, held, root, energy)
            elif style in ("rhythm", "strum"):
                up = style == "strum" and step % 4 == 2  # off-beats strum upwards
                order = list(enumerate(voicing))[:: -1 if up else 1]
                velocity = energy * (0.75 if up else 0.9)
                for rank, (i, midi) in enumerate(order):
                    late = rank * STRUM_GAP if style == "strum" else 0.0
                    self.add(part, voice, step, held, midi, velocity, spread[i], late)

    def drums(self, sections: list[Section]) -> None:
        palette, bar_steps, bars = self.palette, self.grid.bar_steps, total_bars(self.plan)
        if not self.plan.drums:
            return
        if palette.grooves is None:
            if palette.accent:  # an orchestra's timpani on the downbeats that open sections
                starts = [s.start_bar for s in sections if s.label in ("A", "B", "outro")]
                for bar in [*starts, bars - 1]:
                    # A single stroke, or one answered later in the bar, drawn per accent.
                    strokes = ACCENTS[int(self.rng.integers(len(ACCENTS)))]
                    level = 0.8 * self.dynamics[bar] * float(self.rng.uniform(0.7, 1.0))
                    for beat, weight in strokes if bar < bars - 1 else ((0.0, 1.0),):
                        when = self.grid.time(bar * bar_steps + beat * bar_steps)
                        self.score.hits.append(Hit(palette.accent, when, level * weight))
            return
        grooves = palette.grooves_at(self.plan.tempo) or palette.grooves
        pair = grooves[self.plan.groove % len(grooves)]
        for section in sections:
            if "drums" not in PARTS[section.label]:
                continue
            groove: Groove = WALTZ_GROOVE if self.waltz else pair[section.label == "B"]
            if section.label == "intro":
                groove = _intro_groove(groove, palette.intro_drums, bar_steps)
            for index in range(section.bars):
                bar = section.start_bar + index
                lines = self._varied(groove, index)
                closing = index == section.bars - 1 and section.bars >= 2
                if bar == bars - 1 and section.label == "outro":
                    lines = {"kick": "x", "crash": "x"} if palette.crash else {"kick": "x"}
                elif closing and section.label != "outro":
                    lines = self._with_fill(lines, long=section.bars >= 8)
                if index == 0 and palette.crash and section.label in ("A", "B", "outro"):
                    lines["crash"] = "x"
                self._bar_of_drums(lines, bar, index, ENERGY[section.label])

    def _varied(self, groove: Groove, index: int) -> dict[str, str]:
        """The groove as a player plays it this bar: a ghost note here and there."""
        bar_steps = self.grid.bar_steps
        lines = dict(groove)
        for drum, pattern in groove.items():
            if drum not in GHOSTED or len(pattern) != bar_steps:
                continue
            if self.rng.random() < GHOST_CHANCE:
                rests = [i for i, char in enumerate(pattern) if char == "." and i % 2]
                if rests:
                    at = int(self.rng.choice(rests))
                    lines[drum] = pattern[:at] + "o" + pattern[at + 1 :]
        return lines

    def _with_fill(self, lines: dict[str, str], long: bool) -> dict[str, str]:
        """Clear the last beat (or two) and roll into the next section."""
        bar_steps = self.grid.bar_steps
        fills = [f for f in FILLS[self.palette.fill] if long or len(next(iter(f.values()))) <= 4]
        fill = fills[int(self.rng.integers(len(fills)))]
        keep = bar_steps - len(next(iter(fill.values())))
        out = {d: p[:keep] for d, p in lines.items() if len(p) == bar_steps and d != "crash"}
        for drum, hits in fill.items():
            out[drum] = out.get(drum, "." * bar_steps)[:keep] + hits
        return {d: p.ljust(bar_steps, ".") for d, p in out.items()}

    def _bar_of_drums(self, lines: Groove, bar: int, index: int, energy: float) -> None:
        bar_steps = self.grid.bar_steps
        level = energy * self.dynamics[bar]
        for drum, pattern in lines.items():
            # Two-bar patterns (a son clave) alternate halves; one letter means the downbeat.
            offset = (index % 2) * bar_steps if len(pattern) >= 2 * bar_steps else 0
            bar_pattern = pattern.ljust(bar_steps, ".")
            for step in range(bar_steps):
                char = bar_pattern[(offset + step) % len(bar_pattern)]
                if char in VELOCITY:
                    spread = float(self.rng.normal(1.0, VELOCITY_SPREAD))
                    velocity = min(1.0, VELOCITY[char] * level * min(max(spread, 0.75), 1.2))
                    self.score.hits.append(Hit(drum, self.time(bar * bar_steps + step), velocity))


def _intro_groove(groove: Groove, names: tuple[str, ...], bar_steps: int) -> Groove:
    """The groove's lines an intro plays. Where those leave the beat unmarked (brushes
    without a ride, a one-drop without a hat), the busiest line besides the kick keeps
    time too: an intro with a hit or two a bar is heard as a hole (#9)."""
    lines = {drum: pattern for drum, pattern in groove.items() if drum in names}
    if sum(_hits_per_bar(p, bar_steps) for p in lines.values()) >= BEAT_KEEPING_HITS:
        return lines
    others = [drum for drum in groove if drum not in lines and drum != "kick"]
    if others:
        busiest = max(others, key=lambda drum: _hits_per_bar(groove[drum], bar_steps))
        lines[busiest] = groove[busiest]
    return lines


def _hits_per_bar(pattern: str, bar_steps: int) -> float:
    return sum(char in VELOCITY for char in pattern) * bar_steps / max(len(pattern), bar_steps)


def _dynamics(sections: list[Section], rng: np.random.Generator) -> list[float]:
    """A level per bar: each section a little louder or softer than the last time its kind
    played, swelling through it; the intro grows and the outro falls away."""
    levels: list[float] = []
    for section in sections:
        base = float(rng.uniform(0.88, 1.05))
        for index in range(section.bars):
            through = index / max(1, section.bars - 1)
            if section.label == "intro":  # a build, but from near the band's level
                swell = 0.95 + 0.05 * through
            elif section.label == "outro":
                swell = 1.0 - 0.12 * through
            else:
                swell = 0.94 + 0.08 * through
            levels.append(base * swell)
    return levels


def _held(pattern: str, index: int) -> int:
    """One sixteenth plus the '-' holds that follow it."""
    held = 1
    while index + held < len(pattern) and pattern[index + held] == "-":
        held += 1
    return held


def _clamp(midi: int, low: int, high: int) -> int:
    while midi < low:
        midi += 12
    while midi > high:
        midi -= 12
    return midi
