"""A genre name in, the palette the synth composes with out: tempo, harmony, grooves, instruments.

Pattern strings are one character per sixteenth note, a bar (16) or two (32) long.
Drums: 'X' accent, 'x' hit, 'o' ghost, '.' rest. Bass: 'R' root, '3' '5' '6' '7' '8'
chord degrees, 'b' flat seventh, 'W' walking tone, 'A' approach to the next root,
'N' the next root early, '-' hold, '.' rest. Chords ('rhythm', 'strum', 'power'):
'x' play, 'm' palm-muted, '-' hold. Arpeggios: digits index the voiced chord from
the bottom (past the top they climb an octave).

The module is long because it is the table of fifteen genres; the code is the two
dataclasses and `palette_for`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from radio.generators.synth.drums import Kit

Groove = Mapping[str, str]


@dataclass(frozen=True)
class Ensemble:
    words: tuple[str, ...]  # prompt words that pick this ensemble ("saxophone", "harp")
    leads: tuple[str, str]  # lead voice in A sections, in B sections
    chords: str
    comp: str = "pad"  # pad | rhythm | strum | arp | power
    patterns: tuple[str, str] = ("x---------------", "x-------x-------")
    bass: str = "finger_bass"
    extra: str | None = None  # a layer that joins in B sections and breaks
    extra_style: str = "pad"
    extra_pattern: str = "x---------------"
    chord_range: tuple[int, int] = (52, 72)
    lead_range: tuple[int, int] | None = None


@dataclass(frozen=True)
class Palette:
    name: str
    tempo: tuple[int, int]  # BPM range drawn from when the prompt gives none
    modes: tuple[str, ...]
    major: tuple[str, ...]  # progressions, one token per bar, '/' splits a bar
    minor: tuple[str, ...]
    ensembles: tuple[Ensemble, ...]
    bass_patterns: tuple[str, str]
    kit: Kit | None = None
    # Several grooves, each an (A sections, B sections) pair; a track plays one of them.
    grooves: tuple[tuple[Groove, Groove], ...] | None = None
    slow_grooves: tuple[tuple[Groove, Groove], ...] | None = None  # below `slow_below` BPM
    slow_below: float = 0.0
    intro_drums: tuple[str, ...] = ("hat", "ride", "shaker")
    # A sustaining voice that holds the intro's chords under comping that dies away within
    # a beat (piano, guitar, skank); None: the comping voice holds them itself.
    hold: str | None = None
    # Where the comping leaves holes even inside the tracks (a skank, a lazy Rhodes), the
    # hold voice keeps playing under every section at this level (0: the intro only).
    bed: float = 0.0
    fill: str = "snare"  # "toms" | "snare": the instrument of section-end fills
    crash: bool = False
    accent: str | None = None  # a drum on section downbeats when there is no groove
    swing: float = 0.5  # where the off-beat lands inside its pair; 0.5 is straight
    swing_16ths: bool = False
    melody: str = "mode"  # mode | pentatonic | blues
    scale_words: Mapping[str, str] = field(default_factory=dict)
    density: float = 0.4  # chance of a note on a strong sixteenth
    lead_range: tuple[int, int] = (62, 84)
    reverb: tuple[float, float] = (1.4, 0.2)  # decay seconds, send
    humanize: float = 0.0  # timing jitter, seconds
    echo: float = 0.0  # feedback of a dotted-eighth ping-pong echo on the lead (dub, synthwave)
    crackle: bool = False
    drum_chance: float = 1.0
    levels: Mapping[str, float] = field(default_factory=dict)

    def grooves_at(self, tempo: float) -> tuple[tuple[Groove, Groove], ...] | None:
        """The grooves a track at `tempo` draws from: the slow ones below `slow_below`."""
        if self.slow_grooves and tempo < self.slow_below:
            return self.slow_grooves
        return self.grooves


ROCK_KIT = Kit(kick_click=0.35, drive=0.6, snare_decay=0.18)
_ROCK = {"kick": "x.......x.x.....", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."}
_FOUR = {"kick": "x...x...x...x...", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."}
_DISCO = {**_FOUR, "hat": "xoxoxoxoxoxoxoxo", "openhat": "..x...x...x...x."}
_SON_CLAVE = "x.....x.....x.......x...x......."
_RUMBA_CLAVE = "x.....x......x......x...x......."
_BOSSA_RIM = "x..x..x...x..x..x..x..x...x..x.."
_SWING_COMP = ("x-.....x-.......", "..x-......x-....")
_SKANK = ("..x...x...x...x.", "..x...x...x.x.x.")
_BUBBLE = ".x.x..x..x.x..x."
_STRUM = ("x.x.xxx.x.x.xxx.", "x.xxx.xxx.xxx.x.")
_MONTUNO = ("0.1.2.01.2.1.21.", "0.2.1.20.2.1.2.1")
_POWER = (40, 51)
_LOW_POWER = (38, 47)
_ARP16 = "0123012301230123"

# Line breaks in this table follow the music, not the formatter.
# fmt: off
PALETTES: dict[str, Palette] = {
    "jazz": Palette(
        "jazz", (90, 180), ("major", "minor"),
        major=("ii7 V7 Imaj7 Imaj7", "Imaj7 vi7 ii7 V7", "iii7 vi7 ii7 V7",
               "Imaj7 IV7 iii7/vi7 ii7/V7"),
        minor=("i7 iv7 iim7b5/V7 i7", "iim7b5 V7 i7 i7", "i7 bVI7 iim7b5 V7"),
        ensembles=(
            Ensemble(("saxophone", "sax"), ("sax", "piano"), "piano", "rhythm", _SWING_COMP,
                     "upright"),
            Ensemble(("trumpet",), ("muted_trumpet", "piano"), "piano", "rhythm",
                     ("x-.....x-.......", "...x-.....x-...."), "upright"),
            Ensemble(("vibraphone", "vibes"), ("vibes", "vibes"), "epiano", "rhythm",
                     ("x---...x--......", "..x-......x-...."), "upright"),
            Ensemble(("piano",), ("piano", "piano"), "piano", "rhythm",
                     ("x-.....x-.......", "..x-..x-....x-.."), "upright"),
            Ensemble(("guitar",), ("jazz_guitar", "jazz_guitar"), "epiano", "rhythm",
                     ("x---....x---....", "..x-......x-...."), "upright"),
        ),
        bass_patterns=("R---W---W---A---", "R---W---W---A-W-"),
        kit=Kit(kick_hz=(90.0, 55.0), kick_decay=0.25, kick_click=0.05, snare_decay=0.12),
        grooves=(
            ({"ride": "x...x.x.x...x.x.", "hat": "....x.......x...", "kick": "o.......o......."},
             {"ride": "x...x.x.x...x.x.", "hat": "....x.......x...", "kick": "o...o...o...o...",
              "snare": "......o....o..o."}),
            # Brushes: the snare carries the time, the ride only marks the quarters.
            ({"snare": "o.o.o.o.o.o.o.o.", "hat": "....x.......x...", "kick": "o.......o......."},
             {"ride": "x...x...x...x...", "snare": "o.o.o.o.o..oo.o.", "hat": "....x.......x...",
              "kick": "o.....o.o......."}),
            # Bebop: kick "bombs" and snare comping under the ride.
            ({"ride": "x...x.x.x...x.x.", "hat": "....x.......x...", "snare": "...o.....o....o.",
              "kick": "..........o....."},
             {"ride": "x.x.x.x.x.x.x.x.", "hat": "....x.......x...", "snare": ".o....o..o..o...",
              "kick": "o.....o.....o..."}),
        ),
        hold="strings",
        intro_drums=("ride", "hat"), swing=0.64, density=0.45, lead_range=(60, 82),
        reverb=(1.6, 0.22), humanize=0.008,
    ),
    "rock": Palette(
        "rock", (100, 160), ("major", "minor", "mixolydian"),
        major=("I V vi IV", "I IV I V", "I bVII IV I", "vi IV I V"),
        minor=("i bVI bIII bVII", "i bVII bVI bVII", "i iv bVI bVII"),
        ensembles=(
            Ensemble(("power", "crunchy", "guitars"), ("guitar_lead", "guitar_lead"),
                     "drive_guitar", "power", ("x-x-x-x-x-x-x-x-", "x-------x---x-x-"),
                     chord_range=_POWER),
            Ensemble(("twin lead",), ("guitar_lead", "guitar_lead"), "drive_guitar", "power",
                     ("x-------x-x-x---", "x-x-x-x-x-x-x-x-"), extra="guitar_lead",
                     extra_style="arp", extra_pattern="0-1-2-1-0-1-2-1-", chord_range=_POWER),
            Ensemble(("fuzz",), ("guitar_lead", "organ"), "drive_guitar", "power",
                     ("x-x-x-x-x-x-x-x-", "x---x---x---x---"), "dist_bass", chord_range=_POWER),
        ),
        bass_patterns=("R-R-R-R-R-R-R-R-", "R-R-R-R-R-R-5-8-"),
        kit=ROCK_KIT,
        grooves=(
            (_ROCK, {"kick": "x.....x.x.x.....", "snare": "....x.......x...",
                     "ride": "x.x.x.x.x.x.x.x."}),
            # Driving eighths on the kick, the hats opening on the "and" of four.
            ({"kick": "x.x...x.x.x...x.", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.o.",
              "openhat": "..............x."},
             {"kick": "x.x.x.x.x.x.x.x.", "snare": "....x.......x...",
              "crash": "x.......x......."}),
            # Syncopated: the kick anticipates beat three, a ghost snare before the backbeat.
            ({"kick": "x......x..x.....", "snare": "....x..o....x...", "hat": "xxxxxxxxxxxxxxxx"},
             {"kick": "x..x..x...x..x..", "snare": "....x.......x.o.", "ride": "x.x.x.x.x.x.x.x."}),
        ),
        fill="toms", crash=True, melody="pentatonic", density=0.4, reverb=(1.2, 0.15),
        humanize=0.005,
    ),
    "electronic": Palette(
        "electronic", (118, 132), ("minor",),
        major=("I V vi IV", "vi IV I V"),
        minor=("i bVI bIII bVII", "i i bVI bVII", "i iv i bVI", "i bVII bVI bVII"),
        ensembles=(
            Ensemble(("analog bass",), ("pluck_synth", "saw_lead"), "supersaw", "rhythm",
                     ("..x...x...x...x.", "x-.x-.x-.x-.x-.."), "synth_bass", "juno_pad"),
            Ensemble(("supersaw", "pads"), ("pluck_synth", "saw_lead"), "juno_pad",
                     bass="synth_bass", extra="supersaw", extra_style="rhythm",
                     extra_pattern="..x...x...x...x."),
            Ensemble(("303", "acid"), ("pluck_synth", "square_lead"), "juno_pad", bass="acid",
                     extra="pluck_synth", extra_style="arp", extra_pattern="0.1.2.0.1.2.0.1."),
            Ensemble(("arps", "plucked"), ("saw_lead", "saw_lead"), "juno_pad", bass="synth_bass",
                     extra="pluck_synth", extra_style="arp", extra_pattern=_ARP16),
        ),
        bass_patterns=("..R-..R-..R-..R-", "R.RR.RR.R.RR.R8."),
        kit=Kit(kick_hz=(120.0, 45.0), kick_decay=0.4, kick_click=0.15, hat_decay=0.03),
        grooves=(
            ({"kick": "x...x...x...x...", "clap": "....x.......x...", "hat": "..x...x...x...x."},
             {"kick": "x...x...x...x...", "clap": "....x.......x...", "hat": "oxoxoxoxoxoxoxox",
              "openhat": "..x...x...x...x."}),
            # Techno: rolling sixteenth hats, a rim on the offbeat sixteenths.
            ({"kick": "x...x...x...x...", "hat": "xoxoxoxoxoxoxoxo", "rim": "...x..x....x..x."},
             {"kick": "x...x...x...x...", "clap": "....x.......x...", "hat": "xoxoxoxoxoxoxoxo",
              "rim": "...x..x....x..x.", "openhat": "..x...x...x...x."}),
            # Broken: a skipping kick under the four, shaker sixteenths.
            ({"kick": "x.....x...x.....", "clap": "....x.......x...", "shaker": "xoxoxoxoxoxoxoxo"},
             {"kick": "x...x...x...x.x.", "clap": "....x.......x..o", "hat": "..x...x...x...x.",
              "shaker": "xoxoxoxoxoxoxoxo"}),
        ),
        intro_drums=("kick", "hat"), crash=True, density=0.3, lead_range=(64, 84),
        reverb=(1.8, 0.2), echo=0.25,
    ),
    "classical": Palette(
        "classical", (60, 120), ("major", "minor"),
        major=("I IV V I", "I vi ii V", "I V vi iii IV I IV V", "I ii V I"),
        minor=("i iv V i", "i VI iv V", "i iv bVII bIII bVI iidim V i"),
        ensembles=(
            Ensemble(("string quartet", "strings"), ("violin", "violin"), "strings",
                     bass="cello"),
            Ensemble(("solo piano", "piano"), ("piano", "piano"), "piano", "arp",
                     ("0-2-1-2-0-2-1-2-", "0-2-1-2-3-2-1-2-"), "piano", chord_range=(55, 72)),
            Ensemble(("flute and harp", "harp"), ("flute", "flute"), "harp", "arp",
                     ("0-1-2-3-2-1-2-1-", "0-1-2-1-3-1-2-1-"), "harp"),
            Ensemble(("chamber orchestra", "orchestra"), ("violin", "flute"), "strings",
                     bass="cello", extra="harp", extra_style="arp",
                     extra_pattern="0.1.2.3.4.3.2.1."),
        ),
        bass_patterns=("R-------5-------", "R---5---8---5---"),
        density=0.5, reverb=(2.4, 0.3), humanize=0.006, levels={"chords": 0.5},
    ),
    "metal": Palette(
        "metal", (140, 200), ("minor", "phrygian"),
        major=("I bVII bVI bVII",),
        minor=("i bVI bVII i", "i bII i bVII", "i i bVI bVII", "i iv bVI bV"),
        ensembles=(
            Ensemble(("palm-muted", "riffs", "distorted"), ("guitar_lead", "guitar_lead"),
                     "metal_guitar", "power", ("mmmmmmmmmmmmx---", "x-------x-------"),
                     "dist_bass", chord_range=_LOW_POWER, lead_range=(62, 86)),
            Ensemble(("shredding", "solo"), ("guitar_lead", "guitar_lead"), "metal_guitar",
                     "power", ("x---mmmmx---mmmm", "x-------x---x---"), "dist_bass",
                     chord_range=_LOW_POWER, lead_range=(64, 88)),
        ),
        bass_patterns=("RRRRRRRRRRRRRRRR", "R-R-R-R-R-R-R-R-"),
        kit=Kit(kick_hz=(170.0, 55.0), kick_decay=0.16, kick_click=0.7, snare_hz=220.0,
                snare_decay=0.14, drive=1.5),
        grooves=(
            ({"kick": "xxxxxxxxxxxxxxxx", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
             {"kick": "x.x.x.x.x.x.x.x.", "snare": "..x...x...x...x.",
              "ride": "x.x.x.x.x.x.x.x."}),
            # Thrash skank beat: kick and snare alternate on the eighths.
            ({"kick": "x...x...x...x...", "snare": "..x...x...x...x.", "hat": "x.x.x.x.x.x.x.x."},
             {"kick": "xxxxxxxxxxxxxxxx", "snare": "....x.......x...",
              "crash": "x.......x......."}),
            # Gallop: the double kick in triplet-feel bursts.
            ({"kick": "x.xxx.xxx.xxx.xx", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
             {"kick": "xxx.xxx.xxx.xxx.", "snare": "....x.......x...", "ride": "x...x...x...x..."}),
        ),
        # Doom and heavy metal below 120 BPM: half-time, the snare on three.
        slow_grooves=(
            ({"kick": "x.....x.x.......", "snare": "........x.......", "hat": "x...x...x...x..."},
             {"kick": "x.x...x.x.x.....", "snare": "........x.......",
              "ride": "x.x.x.x.x.x.x.x."}),
            ({"kick": "x.......x.x.....", "snare": "........x.......", "ride": "x.......x......."},
             {"kick": "xx......xx......", "snare": "........x.......",
              "crash": "x.......x......."}),
            ({"kick": "x..x....x.......", "snare": "........x.....o.", "hat": "x.x.x.x.x.x.x.x."},
             {"kick": "x.x.x...x.x.x...", "snare": "........x.......",
              "ride": "x...x...x...x..."}),
        ),
        slow_below=120, fill="toms", crash=True, density=0.5, reverb=(1.0, 0.12),
        levels={"drums": 0.6, "chords": 0.6, "lead": 0.7},
    ),
    "reggae": Palette(
        "reggae", (68, 90), ("major", "minor"),
        major=("I IV I V", "I V vi IV", "I I IV IV", "ii V I I"),
        minor=("i iv i iv", "i bVII i bVII", "i bVI bVII i"),
        ensembles=(
            Ensemble(("skank", "guitar"), ("melodica", "organ"), "skank", "rhythm", _SKANK,
                     extra="organ", extra_style="rhythm", extra_pattern=_BUBBLE),
            Ensemble(("organ",), ("organ", "melodica"), "skank", "rhythm", _SKANK,
                     extra="organ", extra_style="rhythm", extra_pattern=_BUBBLE),
            Ensemble(("melodica",), ("melodica", "melodica"), "skank", "rhythm", _SKANK),
            Ensemble(("bassline",), ("melodica", "organ"), "skank", "rhythm", _SKANK,
                     "sub_bass"),
        ),
        bass_patterns=("R--.R.5-..R-5-N-", "R-.R..5-R--.3-5."),
        kit=Kit(kick_hz=(110.0, 50.0), kick_decay=0.35, snare_hz=240.0, snare_decay=0.1),
        grooves=(
            # One drop: kick and rim together on three.
            ({"kick": "........x.......", "rim": "........x.......", "hat": "x.x.x.x.x.x.x.x."},
             {"kick": "x...x...x...x...", "rim": "........x.......", "hat": "..x...x...x...x.",
              "openhat": "..............x."}),
            # Rockers: the kick on every beat, the hat on the off-beats.
            ({"kick": "x...x...x...x...", "rim": "....x.......x...", "hat": "..x...x...x...x."},
             {"kick": "x...x...x...x...", "snare": "....x.......x...", "hat": "xoxoxoxoxoxoxoxo"}),
            # Steppers with a triplet-ish hat skip.
            ({"kick": "x.......x.......", "rim": "....x.......x..o", "hat": "x.xxx.xxx.xxx.xx"},
             {"kick": "x...x...x...x...", "rim": "........x.......", "hat": "x.xxx.xxx.xxx.xx",
              "openhat": "......x.......x."}),
        ),
        hold="organ", bed=0.85,
        intro_drums=("hat", "rim", "kick"), swing=0.56, melody="pentatonic", density=0.35,
        reverb=(2.0, 0.3), humanize=0.006, echo=0.4, levels={"drums": 1.6},
    ),
    "world": Palette(
        "world", (84, 132), ("dorian", "phrygian", "minor", "mixolydian"),
        major=("I bVII I I", "I IV I V", "I I bVII IV"),
        minor=("i bVII i i", "i iv i bVII", "i bVI bVII i"),
        ensembles=(
            Ensemble(("kora",), ("kora", "flute"), "kora", "arp",
                     ("0121312101213121", "0-1-2-1-3-1-2-1-"), "upright"),
            Ensemble(("oud",), ("oud", "clarinet"), "oud", "rhythm",
                     ("x..x..x.x..x..x.", "x..x..x.x.x.x.x."), "upright"),
            Ensemble(("sitar",), ("sitar", "flute"), "harmonium", bass="sub_bass"),
            Ensemble(("fiddle",), ("violin", "violin"), "guitar", "strum", _STRUM, "upright"),
            Ensemble(("kalimba",), ("kalimba", "flute"), "kalimba", "arp",
                     ("0.2.1.3.0.2.1.3.", "0213021302130213"), "upright"),
            Ensemble(("clarinet",), ("clarinet", "clarinet"), "accordion", "rhythm",
                     ("x...x.x.x...x.x.", "x.x.x.x.x.x.x.x."), "upright"),
        ),
        bass_patterns=("R-----..5-----..", "R-..R-..5-..R-.."),
        kit=Kit(),
        grooves=(
            ({"conga_lo": "x.......x.......", "conga_hi": "..x...x.....x...",
              "shaker": "x.x.x.x.x.x.x.x."},
             {"conga_lo": "x..x..x...x.x...", "conga_hi": "..x.x..x.x..x.xx",
              "shaker": "xoxoxoxoxoxoxoxo"}),
            # A maqsum-like doum-tek pattern on the hand drums.
            ({"conga_lo": "x.....x...x.....", "conga_hi": "...x....x...x.x.",
              "shaker": "x.x.x.x.x.x.x.x."},
             {"conga_lo": "x.....x...x.....", "conga_hi": ".xx.x..xx.x.x.xx",
              "rim": "x.......x.......", "shaker": "xoxoxoxoxoxoxoxo"}),
            # A 12/8 bell over the four: the West African standard pattern, squeezed to 16ths.
            ({"cowbell": "x.x.x.xx.x.x.x.x", "conga_lo": "x.......x.......",
              "shaker": "x...x...x...x..."},
             {"cowbell": "x.x.x.xx.x.x.x.x", "conga_lo": "x..x....x..x....",
              "conga_hi": "....x.x.....x.x.", "shaker": "xoxoxoxoxoxoxoxo"}),
        ),
        hold="harmonium", bed=0.85,
        intro_drums=("shaker",), fill="congas",
        scale_words={"middle eastern": "hijaz", "balkan": "hijaz",
                     "west african": "major pentatonic", "celtic": "major pentatonic"},
        density=0.5, reverb=(1.4, 0.22), humanize=0.01,
    ),
    "opera": Palette(
        "opera", (56, 96), ("major", "minor"),
        major=("I IV V I", "I vi IV V", "I iii IV V", "I V vi IV"),
        minor=("i iv V i", "i VI iv V", "i bVI bIII V"),
        ensembles=(
            Ensemble(("soprano",), ("voice", "voice"), "strings", bass="cello", extra="harp",
                     extra_style="arp", extra_pattern="0.1.2.3.2.1.2.1.", lead_range=(67, 88)),
            Ensemble(("tenor",), ("voice", "voice"), "strings", bass="cello", extra="horns",
                     lead_range=(55, 74)),
            Ensemble(("mezzo",), ("voice", "voice"), "strings", bass="cello", extra="harp",
                     extra_style="arp", extra_pattern="0.1.2.1.3.1.2.1.", lead_range=(60, 80)),
            Ensemble(("cello-voiced", "cello"), ("cello", "cello"), "strings", bass="cello",
                     extra="horns", lead_range=(50, 72)),
        ),
        bass_patterns=("R-------5-------", "R---5---R---5---"),
        accent="timpani", density=0.3, reverb=(2.8, 0.32), humanize=0.008,
        levels={"chords": 0.5},
    ),
    "lo-fi hip-hop": Palette(
        "lo-fi hip-hop", (70, 90), ("major", "minor", "dorian"),
        major=("ii7 V7 Imaj7 vi7", "Imaj7 vi7 ii7 V7", "IVmaj7 iii7 vi7 vi7",
               "IVmaj7 V7 iii7 vi7"),
        minor=("i7 iv7 bVII7 bIIImaj7", "i7 bVImaj7 iv7 v7", "i7 iv7 i7 v7"),
        ensembles=(
            Ensemble(("rhodes",), ("epiano", "vibes"), "epiano", "rhythm",
                     ("x-------..x-----", "x-----x-----x---"), "upright"),
            Ensemble(("guitar",), ("jazz_guitar", "jazz_guitar"), "jazz_guitar", "rhythm",
                     ("x-----..x-----..", "..x-----..x-----"), "upright"),
            Ensemble(("piano",), ("piano", "piano"), "piano", "rhythm",
                     ("x-------..x-----", "x-----x-----x---"), "upright"),
            Ensemble(("tape bass",), ("epiano", "soft_lead"), "epiano", "rhythm",
                     ("x-------x-------", "x-----x-----x---")),
        ),
        bass_patterns=("R-----.R-.5-..N-", "R-----..R-5-..7."),
        kit=Kit(kick_hz=(100.0, 45.0), kick_decay=0.3, kick_click=0.1, snare_decay=0.12,
                hat_decay=0.03, lowpass_hz=6000.0),
        grooves=(
            ({"kick": "x......x..x.....", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
             {"kick": "x.....x...x..x..", "snare": "....x.......x..o",
              "hat": "xoxoxoxoxoxoxoxo"}),
            # Boom-bap with a lazy kick after the backbeat and a rim instead of a snare.
            ({"kick": "x.........x..x..", "rim": "....x.......x...", "hat": "x.xxx.x.x.xxx.x."},
             {"kick": "x..x......x.....", "snare": "....x.......x...",
              "hat": "x.xxx.x.x.xxx.x.", "shaker": "..x...x...x...x."}),
            # Half-time: the snare only on three, sparse hats.
            ({"kick": "x.....x.........", "snare": "........x.......", "hat": "x...x...x...x..."},
             {"kick": "x.....x...x.....", "snare": "........x......o",
              "hat": "x.x.x.x.x.x.x.x."}),
        ),
        hold="pad", bed=0.85,
        intro_drums=("hat",), swing=0.58, swing_16ths=True, density=0.3, lead_range=(62, 80),
        reverb=(1.5, 0.25), humanize=0.012, crackle=True,
    ),
    "ambient": Palette(
        "ambient", (50, 70), ("major", "lydian", "minor", "dorian"),
        major=("I I IV IV", "I I vi vi IV IV I I", "Imaj7 Imaj7 IVmaj7 IVmaj7",
               "I I iii iii IV IV I I"),
        minor=("i i bVI bVI", "i i iv iv", "i i bVII bVII bVI bVI bVII bVII"),
        ensembles=(
            Ensemble(("synth pads", "evolving"), ("bells", "soft_lead"), "pad", bass="pad",
                     extra="glass_pad"),
            Ensemble(("bowed strings", "strings"), ("cello", "violin"), "strings", bass="pad",
                     extra="glass_pad"),
            Ensemble(("granular", "shimmer"), ("celesta", "bells"), "glass_pad", bass="pad",
                     extra="pluck_synth", extra_style="arp", extra_pattern="0...2...1...3..."),
            Ensemble(("drones", "bells"), ("bells", "bells"), "pad", bass="pad",
                     extra="glass_pad"),
        ),
        bass_patterns=("R---------------", "R---------------"),
        melody="pentatonic", density=0.15, lead_range=(64, 86), reverb=(5.0, 0.45), echo=0.35,
        levels={"chords": 0.22, "lead": 0.4, "extra": 0.15, "bass": 0.45},
    ),
    "blues": Palette(
        "blues", (66, 120), ("major",),
        major=("I7 I7 I7 I7 IV7 IV7 I7 I7 V7 IV7 I7 V7",
               # quick change: IV in bar two
               "I7 IV7 I7 I7 IV7 IV7 I7 I7 V7 IV7 I7 V7",
               # quick change, a passing diminished chord, I-IV-I-V turnaround
               "I7 IV7 I7 I7 IV7 #ivdim I7 I7 V7 IV7 I7/IV7 I7/V7",
               # jazz blues: ii-V in bars nine and ten, I-vi-ii-V turnaround
               "I7 IV7 I7 I7 IV7 IV7 I7 VI7 ii7 V7 I7/vi7 ii7/V7",
               # a ii-V into the IV, bVI7 standing in for the V
               "I7 I7 I7 v7/I7 IV7 IV7 I7 I7 bVI7 V7 I7 V7",
               # stop-time feel: V all of bar nine and ten, chromatic turnaround
               "I7 I7 I7 I7 IV7 IV7 I7 I7 V7 V7 I7/bVII7 bVI7/V7"),
        minor=("i7 i7 i7 i7 iv7 iv7 i7 i7 bVI7 V7 i7 V7",
               "i7 iv7 i7 i7 iv7 iv7 i7 i7 bVI7 V7 i7/iv7 i7/V7",
               "i7 i7 i7 i7 iv7 iv7 i7 bVI7 iim7b5 V7 i7/bVI7 iim7b5/V7"),
        ensembles=(
            Ensemble(("slide", "electric", "overdriven"), ("blues_guitar", "blues_guitar"),
                     "piano", "rhythm", ("..x-..x-..x-..x-", "x-.x-.x-.x-.x-..")),
            Ensemble(("harmonica",), ("harmonica", "harmonica"), "guitar", "rhythm",
                     ("x-.x-.x-.x-.x-..", "..x-..x-..x-..x-")),
            Ensemble(("piano", "barrelhouse"), ("piano", "piano"), "piano", "rhythm",
                     ("..x-..x-..x-..x-", "x-x-x-x-x-x-x-x-"), "upright"),
        ),
        bass_patterns=("R-3-5-6-b-6-5-3-", "R---W---W---A---"),
        kit=Kit(kick_decay=0.3, snare_decay=0.18),
        grooves=(
            ({"kick": "x.......x.......", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
             {"kick": "x.....x.x.......", "snare": "....x.......x...",
              "ride": "x.x.x.x.x.x.x.x."}),
            # Texas shuffle: the snare shuffles along with the hats.
            ({"kick": "x.......x.......", "snare": "..o.x.o...o.x.o.", "hat": "x.x.x.x.x.x.x.x."},
             {"kick": "x...x...x...x...", "snare": "..o.x.o...o.x.o.",
              "ride": "x.x.x.x.x.x.x.x."}),
            # Slow-blues backbeat with the kick walking into beat three.
            ({"kick": "x.....x.x.....x.", "snare": "....x.......x...", "ride": "x...x.x.x...x.x."},
             {"kick": "x.....x.x.....x.", "snare": "....x......ox...", "hat": "x.x.x.x.x.x.x.x.",
              "openhat": "..............x."}),
        ),
        hold="organ",
        fill="snare", crash=True, swing=0.66, melody="blues", density=0.4, lead_range=(60, 81),
        reverb=(1.3, 0.2), humanize=0.01,
    ),
    "funk & soul": Palette(
        "funk & soul", (96, 120), ("dorian", "minor", "mixolydian"),
        major=("I7 IV7", "I7 I7 IV7 IV7", "Imaj7 ii7 iii7 ii7", "I9 I9 IV9 IV9"),
        minor=("i7 IV7", "i7 i7 iv7 v7", "i9 i9 bVII9 bVII9", "i7 iv7 bVIImaj7 bIIImaj7"),
        ensembles=(
            Ensemble(("clavinet", "slap"), ("horns", "organ"), "clav", "rhythm",
                     ("x.xx.x.x.xx.x.x.", ".x.x.xx..x.x.xx."), "slap"),
            Ensemble(("horn",), ("horns", "sax"), "epiano", "rhythm",
                     ("x--.....x--.....", "..x-..x-..x-..x-"), "slap", "horns", "rhythm",
                     "....x-......x-.."),
            Ensemble(("wah", "guitar"), ("sax", "horns"), "skank", "rhythm",
                     ("x.xxx.x.x.xxx.x.", "xx.xx.x.xx.xx.x."), "slap", "epiano"),
            Ensemble(("hammond", "organ"), ("organ", "sax"), "organ", "rhythm",
                     ("x-.x-.x-x-.x-.x-", "x---..x-x---..x-")),
        ),
        bass_patterns=("R..8..R.8.R..5.b", "R.8.R.8..RR.5-8."),
        kit=Kit(kick_hz=(120.0, 50.0), kick_decay=0.25, snare_hz=200.0, snare_decay=0.13),
        grooves=(
            ({"kick": "x..x..x...x..x..", "snare": "....x..o.o..x..o", "hat": "xoxoxoxoxoxoxoxo"},
             {"kick": "x.x...x..xx.....", "snare": "....x..o.o.ox...", "hat": "xoxoxoxoxoxoxox.",
              "openhat": "..............x."}),
            # Break-beat: the kick doubles before three, ghost notes everywhere.
            ({"kick": "x.x.......xx....", "snare": "....x..o.o..x.oo", "hat": "x.x.x.x.x.x.x.x."},
             {"kick": "x.x.......x..x..", "snare": ".o..x..o.o.ox..o", "hat": "xxxxxxxxxxxxxxxx",
              "openhat": "......x........."}),
            # Disco-soul: four on the floor with the hats opening on the off-beats.
            ({"kick": "x...x...x...x...", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x.",
              "openhat": "..x...x...x...x."},
             {"kick": "x...x...x...x...", "snare": "....x..o....x..o", "hat": "xoxoxoxoxoxoxoxo",
              "openhat": "..x...x...x...x."}),
        ),
        hold="organ",
        fill="snare", swing=0.54, swing_16ths=True, melody="pentatonic", density=0.4,
        lead_range=(60, 82), reverb=(1.1, 0.16), humanize=0.006,
    ),
    "latin": Palette(
        "latin", (96, 124), ("minor", "major"),
        major=("I IV V IV", "I vi ii V", "Imaj7 ii7 V7 Imaj7", "I V V I"),
        minor=("i iv V i", "i iv bVII bIII", "i V i V", "i bVII bVI V"),
        ensembles=(
            Ensemble(("montuno", "piano"), ("piano", "trumpet"), "piano", "arp", _MONTUNO),
            Ensemble(("brass",), ("trumpet", "trumpet"), "piano", "arp", _MONTUNO,
                     extra="horns", extra_style="rhythm", extra_pattern="x-.x-...x-.x-..."),
            Ensemble(("nylon",), ("nylon", "flute"), "nylon", "strum",
                     ("x.xx.xx.x.xx.xx.", "x..x..x.x..x..x."), "upright"),
            Ensemble(("bandoneon",), ("accordion", "violin"), "accordion", "rhythm",
                     ("x-.x..x.x-.x..x.", "x...x...x...x..."), "upright"),
        ),
        bass_patterns=("......5-....N---", "R-....5-R-....5-"),
        kit=Kit(),
        grooves=(
            ({"clave": _SON_CLAVE, "conga_hi": "....x...........", "conga_lo": "............x.x.",
              "shaker": "xoxoxoxoxoxoxoxo"},
             {"clave": _SON_CLAVE, "conga_hi": "....x..x....x...", "conga_lo": "..x.........x.x.",
              "cowbell": "x.x.x.x.x.x.x.x.", "kick": "...x.......x...."}),
            # Rumba clave and a tumbao on the congas.
            ({"clave": _RUMBA_CLAVE, "conga_hi": "..x...xx..x...xx", "conga_lo": "......x.......x.",
              "shaker": "x.x.x.x.x.x.x.x."},
             {"clave": _RUMBA_CLAVE, "conga_hi": "..x...xx..x...xx",
              "conga_lo": "......x.......x.", "cowbell": "x...x...x...x...",
              "kick": "...x.......x...."}),
            # Bossa nova: rim on the clave, kick on one and three with pickups.
            ({"rim": _BOSSA_RIM, "kick": "x..xx..xx..xx..x", "shaker": "xoxoxoxoxoxoxoxo"},
             {"rim": _BOSSA_RIM, "kick": "x..xx..xx..xx..x", "hat": "x.x.x.x.x.x.x.x.",
              "conga_lo": "............x.x."}),
        ),
        hold="strings",
        intro_drums=("shaker", "clave"), fill="congas", density=0.45, lead_range=(62, 84),
        reverb=(1.2, 0.2), humanize=0.008,
    ),
    "folk": Palette(
        "folk", (80, 128), ("major", "mixolydian", "dorian"),
        major=("I IV I V", "I V vi IV", "I IV vi V", "I I IV I"),
        minor=("i bVII bVI bVII", "i bIII bVII i", "i iv i bVII"),
        ensembles=(
            Ensemble(("fingerpicked", "guitar"), ("harmonica", "violin"), "guitar", "arp",
                     ("0-2-1-2-0-2-1-2-", "0-3-1-3-0-3-1-3-"), "upright"),
            Ensemble(("fiddle", "banjo"), ("violin", "violin"), "banjo", "arp",
                     ("0121012101210121", "0213021302130213"), "upright"),
            Ensemble(("mandolin",), ("mandolin", "mandolin"), "guitar", "strum", _STRUM,
                     "upright"),
            Ensemble(("harmonium",), ("flute", "violin"), "harmonium", bass="upright"),
        ),
        bass_patterns=("R-----..5-----..", "R---5---R---5---"),
        kit=Kit(kick_decay=0.25, snare_decay=0.12),
        grooves=(
            ({"kick": "x.......x.......", "rim": "....x.......x...", "shaker": "x.x.x.x.x.x.x.x."},
             {"kick": "x.....x.x.......", "snare": "....x.......x...",
              "shaker": "xoxoxoxoxoxoxoxo"}),
            # Train beat: brushed sixteenths on the snare, accents on the backbeat.
            ({"kick": "x.......x.......", "snare": "ooooXoooooooXooo"},
             {"kick": "x...x...x...x...", "snare": "ooooXoooooooXooo", "hat": "x.x.x.x.x.x.x.x."}),
            # Stomp and clap.
            ({"kick": "x.......x.......", "clap": "....x.......x..."},
             {"kick": "x.....x.x.......", "clap": "....x.......x...",
              "shaker": "x.x.x.x.x.x.x.x."}),
        ),
        hold="harmonium",
        intro_drums=("shaker",), melody="pentatonic", density=0.45, reverb=(1.3, 0.2),
        humanize=0.01, drum_chance=0.6,
    ),
    "synthwave": Palette(
        "synthwave", (84, 118), ("minor",),
        major=("vi IV I V", "I V vi IV"),
        minor=("i bVI bIII bVII", "i bVII bVI bVII", "i iv bVI bVII", "i bVI bVII i"),
        ensembles=(
            Ensemble(("arpeggiated",), ("saw_lead", "saw_lead"), "juno_pad", bass="synth_bass",
                     extra="pluck_synth", extra_style="arp", extra_pattern=_ARP16),
            Ensemble(("juno", "pads"), ("square_lead", "saw_lead"), "juno_pad",
                     bass="synth_bass", extra="pluck_synth", extra_style="arp",
                     extra_pattern="0.1.2.3.2.1.2.3."),
            Ensemble(("fm bass",), ("saw_lead", "square_lead"), "juno_pad", bass="fm_bass",
                     extra="pluck_synth", extra_style="arp", extra_pattern=_ARP16),
            Ensemble(("lead synth", "soaring"), ("saw_lead", "saw_lead"), "juno_pad",
                     bass="fm_bass", extra="supersaw", extra_style="rhythm",
                     extra_pattern="x-.x-.x-x-.x-.x-"),
        ),
        bass_patterns=("R-R-R-R-R-R-R-R-", "R8R8R8R8R8R8R8R8"),
        kit=Kit(kick_hz=(130.0, 48.0), kick_decay=0.35, snare_gate=0.22, snare_decay=0.2,
                hat_decay=0.04),
        grooves=(
            (_FOUR, {**_FOUR, "hat": "oxoxoxoxoxoxoxox", "openhat": "..x.......x....."}),
            # Eighties pop-rock: kick on one and the "and" of two, big backbeat.
            ({"kick": "x.....x.x.......", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
             {"kick": "x.....x.x.x.....", "snare": "....x.......x...",
              "hat": "xxxxxxxxxxxxxxxx"}),
            # Motorik drive with a clap doubling the backbeat.
            ({"kick": "x.x...x.x.x...x.", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
             {"kick": "x.x...x.x.x...x.", "snare": "....x.......x...", "clap": "....x.......x...",
              "hat": "oxoxoxoxoxoxoxox", "openhat": "..............x."}),
        ),
        intro_drums=("hat",), fill="toms", crash=True, density=0.35, lead_range=(64, 86),
        reverb=(2.2, 0.28), echo=0.3,
    ),
}

FALLBACK = Palette(
    "pop", (90, 128), ("major", "minor"),
    major=("I V vi IV", "vi IV I V", "I IV vi V"),
    minor=("i bVI bIII bVII", "i iv bVI bVII"),
    ensembles=(
        Ensemble((), ("saw_lead", "epiano"), "epiano", "rhythm",
                 ("x-x-x-x-x-x-x-x-", "x---x---x---x---"), extra="juno_pad"),
    ),
    bass_patterns=("R-R-R-R-5-5-R-R-", "R-R-R-R-R-R-5-8-"),
    kit=ROCK_KIT, grooves=((_ROCK, _FOUR), (_FOUR, _ROCK), (_DISCO, _FOUR)), crash=True,
)

# Other names a station might give its genre.
ALIASES = {
    "lofi": "lo-fi hip-hop", "lo-fi": "lo-fi hip-hop", "hip-hop": "lo-fi hip-hop",
    "hip hop": "lo-fi hip-hop", "funk": "funk & soul", "soul": "funk & soul",
    "techno": "electronic", "house": "electronic", "electro": "electronic", "edm": "electronic",
    "trance": "electronic", "orchestral": "classical", "baroque": "classical", "salsa": "latin",
    "bossa": "latin", "country": "folk", "bluegrass": "folk", "retrowave": "synthwave",
    "outrun": "synthwave", "dub": "reggae", "heavy": "metal", "chill": "ambient",
}
# fmt: on


def palette_for(genre: str) -> Palette:
    """The palette of a genre name, case-insensitively; unknown genres get a pop palette."""
    name = " ".join(re.sub(r"\band\b", "&", genre.lower()).split())
    if name in PALETTES:
        return PALETTES[name]
    for alias, target in ALIASES.items():
        if alias in name:
            return PALETTES[target]
    return next((p for key, p in PALETTES.items() if key in name), FALLBACK)
