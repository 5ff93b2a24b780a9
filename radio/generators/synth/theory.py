"""Key, tempo and chord-symbol text in, pitch classes and MIDI voicings out; pure music theory.

The synth reads a station's pool values ("B-flat major", "D Dorian", "120") rather
than prose, so parsing is strict: anything it cannot read returns None and the
composer falls back to the seed and the genre.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MODES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
}
# Melody scales that are not modes of a key: chosen per genre (blues licks over a
# major key) or by a word in the prompt ("Middle Eastern" -> hijaz).
SCALES: dict[str, tuple[int, ...]] = {
    "major pentatonic": (0, 2, 4, 7, 9),
    "minor pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
    "hijaz": (0, 1, 4, 5, 7, 8, 10),
    **MODES,
}
_MODE_ALIASES = {
    "ionian": "major",
    "aeolian": "minor",
    "maj": "major",
    "min": "minor",
    "m": "minor",
}
_LETTERS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_ACCIDENTALS = {"flat": -1, "b": -1, "♭": -1, "sharp": 1, "#": 1, "♯": 1}
_SPELLING = (
    "C", "C-sharp", "D", "E-flat", "E", "F", "F-sharp", "G", "A-flat", "A", "B-flat", "B",
)  # fmt: skip
_KEY = re.compile(
    r"^(?P<letter>[a-g])\s*(?:-?\s*(?P<acc>flat|sharp|[b#♭♯]))?"
    r"\s*(?P<mode>major|minor|maj|min|m|ionian|dorian|phrygian|lydian|mixolydian|aeolian|locrian)?"
    r"\s*(?P<ext>7|9|11|13)?$",
    re.IGNORECASE,
)
_TEMPO = re.compile(r"\d+(?:\.\d+)?")
_ROMAN = re.compile(
    r"^(?P<acc>[b#]?)(?P<num>VII|VI|IV|V|III|II|I|vii|vi|iv|v|iii|ii|i)"
    r"(?P<quality>maj7|m7b5|add9|sus2|sus4|dim|7|9|6|5)?$"
)
_DEGREES = {"I": 0, "II": 2, "III": 4, "IV": 5, "V": 7, "VI": 9, "VII": 11}
_QUALITIES: dict[tuple[str, bool], tuple[int, ...]] = {
    ("", True): (0, 4, 7),
    ("", False): (0, 3, 7),
    ("7", True): (0, 4, 7, 10),
    ("7", False): (0, 3, 7, 10),
    ("maj7", True): (0, 4, 7, 11),
    ("maj7", False): (0, 3, 7, 11),
    ("9", True): (0, 4, 7, 10, 14),
    ("9", False): (0, 3, 7, 10, 14),
    ("6", True): (0, 4, 7, 9),
    ("6", False): (0, 3, 7, 9),
    ("add9", True): (0, 4, 7, 14),
    ("add9", False): (0, 3, 7, 14),
    ("dim", False): (0, 3, 6),
    ("m7b5", False): (0, 3, 6, 10),
    ("sus2", True): (0, 2, 7),
    ("sus4", True): (0, 5, 7),
    ("5", True): (0, 7, 12),
    ("5", False): (0, 7, 12),
}
TEMPO_RANGE = (30.0, 300.0)
# Vamps that make a mode audible; offered alongside a genre's own progressions.
MODAL_VAMPS: dict[str, tuple[str, ...]] = {
    "dorian": ("i7 IV7", "i7 i7 IV7 IV7", "i ii i bVII"),
    "phrygian": ("i bII i bII", "i bII bIII bII", "i bVII bII i"),
    "lydian": ("I II I II", "Imaj7 II Imaj7 II"),
    "mixolydian": ("I bVII IV I", "I bVII I bVII"),
}


@dataclass(frozen=True)
class Key:
    tonic: int  # pitch class, C = 0
    mode: str  # a name in MODES
    extension: int = 0  # 7 or 9 when the key names a chord colour ("F major 7")

    @property
    def scale(self) -> tuple[int, ...]:
        return MODES[self.mode]

    @property
    def minor(self) -> bool:
        """Modes with a minor third take the minor progressions."""
        return 3 in self.scale

    @property
    def name(self) -> str:
        mode = self.mode if self.mode in ("major", "minor") else self.mode.capitalize()
        suffix = f" {self.extension}" if self.extension else ""
        return f"{_SPELLING[self.tonic]} {mode}{suffix}"


@dataclass(frozen=True)
class Chord:
    root: int  # semitones above the key's tonic
    intervals: tuple[int, ...]  # semitones above the chord root, root first
    symbol: str

    def pitch_classes(self, tonic: int) -> tuple[int, ...]:
        return tuple((tonic + self.root + step) % 12 for step in self.intervals)


def parse_key(text: str) -> Key | None:
    """'B-flat major', 'F-sharp minor', 'D Dorian', 'F major 7', 'Ebm' -> Key; else None."""
    match = _KEY.match(text.strip())
    if match is None:
        return None
    tonic = _LETTERS[match["letter"].lower()] + _ACCIDENTALS.get((match["acc"] or "").lower(), 0)
    raw_mode = (match["mode"] or "major").lower()
    mode = _MODE_ALIASES.get(raw_mode, raw_mode)
    extension = int(match["ext"]) if match["ext"] else 0
    return Key(tonic=tonic % 12, mode=mode, extension=min(extension, 9))


def parse_tempo(text: str) -> float | None:
    """'120', '120 BPM', '96.5' -> beats per minute, when within a playable range."""
    match = _TEMPO.search(text)
    if match is None:
        return None
    bpm = float(match.group())
    return bpm if TEMPO_RANGE[0] <= bpm <= TEMPO_RANGE[1] else None


def parse_chord(symbol: str, key: Key) -> Chord:
    """A roman-numeral symbol ('ii7', 'bVII', 'V9', 'i5') in `key`; ValueError if malformed."""
    match = _ROMAN.match(symbol)
    if match is None:
        raise ValueError(f"not a chord symbol: {symbol!r}")
    numeral = match["num"]
    upper = numeral.isupper()
    quality = match["quality"] or ""
    intervals = _QUALITIES.get((quality, upper)) or _QUALITIES[(quality, not upper)]
    root = _DEGREES[numeral.upper()] + (-1 if match["acc"] == "b" else 1 if match["acc"] else 0)
    if key.extension and len(intervals) == 3 and quality == "":
        intervals = _extend(root, intervals, key)
    return Chord(root=root % 12, intervals=intervals, symbol=symbol)


def parse_progression(text: str, key: Key) -> list[list[Chord]]:
    """'ii7/V7 Imaj7' -> one list of chords per bar ('/' splits a bar evenly)."""
    return [[parse_chord(part, key) for part in bar.split("/")] for bar in text.split()]


def scale_pitches(tonic: int, steps: tuple[int, ...], low: int, high: int) -> list[int]:
    """Every MIDI note in [low, high] whose pitch class is in the scale."""
    classes = {(tonic + step) % 12 for step in steps}
    return [midi for midi in range(low, high + 1) if midi % 12 in classes]


def nearest_pitch(pitch_class: int, target: int) -> int:
    """The MIDI note of `pitch_class` closest to `target`."""
    below = target - ((target - pitch_class) % 12)
    return below if target - below <= 6 else below + 12


def voice_chord(
    classes: tuple[int, ...], low: int, high: int, previous: tuple[int, ...] | None
) -> tuple[int, ...]:
    """Close-position voicing in [low, high], the inversion nearest the previous voicing.

    Voice leading by least total movement keeps chord changes smooth instead of
    jumping every voice by a fifth, which is what makes sequenced chords sound played.
    """
    unique = list(dict.fromkeys(classes))
    candidates: list[tuple[int, ...]] = []
    for turn in range(len(unique)):
        order = unique[turn:] + unique[:turn]
        start = low + ((order[0] - low) % 12)
        for base in (start, start + 12):
            notes = [base]
            for pc in order[1:]:
                notes.append(notes[-1] + 1 + ((pc - notes[-1] - 1) % 12))
            if notes[-1] <= high + 4:
                candidates.append(tuple(notes))
    if not candidates:
        base = low + ((unique[0] - low) % 12)
        return tuple(base + ((pc - base) % 12) for pc in unique)
    centre = (low + high) / 2
    if previous is None:
        return min(candidates, key=lambda c: abs(sum(c) / len(c) - centre))
    return min(candidates, key=lambda c: _movement(c, previous) + 0.1 * abs(c[0] - low))


def _movement(chord: tuple[int, ...], previous: tuple[int, ...]) -> float:
    return sum(min(abs(note - old) for old in previous) for note in chord)


def _extend(root: int, triad: tuple[int, ...], key: Key) -> tuple[int, ...]:
    """Add the diatonic seventh (and ninth) a 'major 7' or 'minor 9' key asks for."""
    scale = {(step - root) % 12 for step in key.scale}
    seventh = 11 if 11 in scale else 10
    extended = (*triad, seventh)
    return (*extended, 14) if key.extension >= 9 and 2 in scale else extended
