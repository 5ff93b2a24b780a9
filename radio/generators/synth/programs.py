"""A genre and the synth's voice and drum names in, General MIDI programs, kits and keys out.

The palettes name instruments for the sine renderer (voices.py); this table says
which General MIDI program plays each of them through a SoundFont, which bank-128
drum kit each genre uses, and where each of the synth's drums sits on GM channel 10.
It holds numbers only, so the composer and both renderers stay independent of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# fmt: off
# GM programs, counted from 0 as FluidSynth counts them (the GM list counts from 1).
PROGRAMS: dict[str, int] = {
    "piano": 0, "epiano": 4, "clav": 7, "celesta": 8, "vibes": 11, "bells": 14,
    "organ": 16, "harmonium": 20, "accordion": 21, "melodica": 21, "harmonica": 22,
    "nylon": 24, "oud": 24, "guitar": 25, "mandolin": 25, "jazz_guitar": 26, "skank": 27,
    "drive_guitar": 29, "blues_guitar": 29, "metal_guitar": 30, "guitar_lead": 30,
    "palm_mute": 30,
    "upright": 32, "finger_bass": 33, "dist_bass": 34, "slap": 36, "synth_bass": 38,
    # Synth Bass 1 is a filtered saw that decays: an octave up it is the arpeggio pluck.
    "pluck_synth": 38, "acid": 38, "sub_bass": 39, "fm_bass": 39,
    "violin": 40, "cello": 42, "harp": 46, "kora": 46, "strings": 48, "voice": 52,
    "trumpet": 56, "muted_trumpet": 59, "horns": 61, "sax": 66, "clarinet": 71, "flute": 73,
    "soft_lead": 75, "square_lead": 80, "saw_lead": 81, "supersaw": 81,
    "pad": 89, "juno_pad": 90, "glass_pad": 94, "sitar": 104, "banjo": 105, "kalimba": 108,
}
# Where a genre hears one of those names as another instrument.
GENRE_PROGRAMS: dict[str, dict[str, int]] = {
    "rock": {"organ": 18},  # rock organ
    "funk & soul": {"sax": 65, "organ": 17, "skank": 28},  # alto, percussive organ, muted
    "folk": {"violin": 110},  # fiddle
    "world": {"violin": 110, "oud": 106},  # fiddle, shamisen's dry twang for the oud
    "latin": {"accordion": 23},  # bandoneon: the tango accordion
    "opera": {"voice": 53},  # a solo voice over the strings, not a choir
    # No struck attacks in ambient: its bells and celesta are glass, bowed rather than hit.
    "ambient": {"bells": 92, "celesta": 92},
    "electronic": {"supersaw": 90},  # chords on the polysynth, leads on the saw
    "synthwave": {"supersaw": 90},
}
# Bank-128 kits of a GM SoundFont: standard 0, room 8, power 16, electronic 24,
# TR-808 25, jazz 32, brush 40, orchestra 48.
KITS: dict[str, int] = {
    "jazz": 40, "rock": 8, "electronic": 25, "metal": 16, "reggae": 8, "world": 0,
    "lo-fi hip-hop": 25, "blues": 32, "funk & soul": 0, "latin": 0, "folk": 40,
    "synthwave": 24, "classical": 48, "opera": 48,
}
# The synth's drum names as GM percussion keys (channel 10).
DRUM_KEYS: dict[str, int] = {
    "kick": 36, "rim": 37, "snare": 38, "clap": 39, "tom_lo": 45, "hat": 42, "openhat": 46,
    "tom_hi": 48, "crash": 49, "ride": 51, "cowbell": 56, "conga_hi": 62, "conga_lo": 64,
    "shaker": 70, "clave": 75,
}
# Drums that are pitched instruments in GM: played on a melodic channel at the tonic.
PITCHED_DRUMS: dict[str, tuple[int, tuple[int, int]]] = {"timpani": (47, (41, 52))}
# Channel volume (CC7) per part: the balance the sine mixer's LEVELS give, for GM tones.
VOLUMES: dict[str, int] = {"drums": 112, "bass": 104, "chords": 84, "lead": 100, "extra": 80}
# Reverb send (CC91) per part, as a share of the palette's send.
SENDS: dict[str, float] = {"drums": 0.4, "bass": 0.1, "chords": 1.0, "lead": 0.9, "extra": 1.2}
# fmt: on
DEFAULT_KIT = 0


@dataclass(frozen=True)
class Programs:
    """One genre's instruments: melodic programs by voice name, and its drum kit."""

    genre: str
    melodic: Mapping[str, int]
    kit: int

    def program(self, voice: str) -> int:
        return self.melodic.get(voice, 0)


def programs_for(palette_name: str) -> Programs:
    """The GM instruments of a palette (by its name); unknown ones get the defaults."""
    melodic = {**PROGRAMS, **GENRE_PROGRAMS.get(palette_name, {})}
    kit = KITS.get(palette_name, DEFAULT_KIT)
    return Programs(palette_name, melodic, kit)
