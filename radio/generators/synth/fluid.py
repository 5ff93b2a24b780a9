"""A score and a General MIDI SoundFont in, a stereo mix out: the synth played by samples.

FluidSynth renders offline, with no audio driver: every note-on and note-off of the
score becomes an event at its sample frame, sorted; the synth is run up to each
event's frame straight into one float32 array and the event is sent, so Python
handles events and never samples. FluidSynth starts its sound at its next 64-frame
block, which is at most 1.5 ms late, well inside the score's humanised timing.

Each render builds its own FluidSynth synth (they are not to be shared between the
worker threads that generate), so a render depends on its score alone: same seed,
same bytes. One synth made at start-up keeps the SoundFont loaded, which keeps its
samples in FluidSynth's sample cache, so each render's load only reads the presets.

When the binding, libfluidsynth or the SoundFont is missing, `instruments_for`
says so once in the log and hands back None: the generator renders with sines.
"""

from __future__ import annotations

import ctypes
import logging
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from radio.generators.synth.form import Plan
from radio.generators.synth.programs import (
    DRUM_KEYS,
    PITCHED_DRUMS,
    SENDS,
    VOLUMES,
    Programs,
    programs_for,
)
from radio.generators.synth.score import Score
from radio.generators.synth.voices import RATE, VOICES

log = logging.getLogger(__name__)

Stereo = npt.NDArray[np.float32]  # (2, frames), as the generator's master takes it
DRUM_CHANNEL = 9  # GM channel 10
DRUM_BANK = 128
GAIN = 0.4  # float output cannot clip; the master sets the peak afterwards
PANS = {"lead": 0.12, "extra": -0.2}  # the part's place; notes add their own spread
TIMPANI_SECONDS = 3.0  # a timpani stroke rings this long before its note-off
# Comping, arpeggios and bass re-strike many notes a bar; at a GM SoundFont's full release
# each rings for seconds under the next dozen, which blurs the harmony and costs most of
# the render (folk: 20x real time on one core at full release, 37x at half). -1200
# timecents halves the release; the lead and the drums keep theirs.
GEN_VOLENVRELEASE = 38
GEN_FILTERFC = 8  # a SoundFont's filter cutoff, in cents above 8.176 Hz
OPEN_FILTER_HZ = 19912.0  # 13500 cents: the cutoff of an unfiltered preset
RELEASE_CUT = -1200.0
SHORTER_RELEASE = ("chords", "extra", "bass")
NOTE_OFF, NOTE_ON = 0, 1  # sort order at one frame: release before re-striking
_warned: set[str] = set()
_shared: dict[Path, Instruments] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Found:
    """Whether FluidSynth can play, and in words why or why not (for the log and doctor)."""

    soundfont: Path | None  # None: the sine fallback plays
    description: str


def find(soundfont: Path | None) -> tuple[Found, ModuleType | None]:
    """Look for the binding, the library and the SoundFont file; loads nothing big."""
    if soundfont is None:
        return Found(None, "sine voices: no SoundFont asked for"), None
    try:
        fluidsynth = _import_binding()
    except ImportError as exc:  # the binding raises ImportError when the library is missing
        hint = "apt-get install libfluidsynth3; pip install pyfluidsynth"
        return Found(None, f"sine fallback: FluidSynth unavailable ({exc}; {hint})"), None
    except OSError as exc:
        return Found(None, f"sine fallback: libfluidsynth failed to load ({exc})"), None
    if not soundfont.is_file():
        hint = "apt-get install fluid-soundfont-gm, or set RADIO_SOUNDFONT"
        return Found(None, f"sine fallback: no SoundFont at {soundfont} ({hint})"), None
    return Found(soundfont, f"FluidSynth {_version(fluidsynth)} with {soundfont}"), fluidsynth


def instruments_for(soundfont: Path | None) -> Instruments | None:
    """FluidSynth instruments for the synth, or None (logged once) for the sine fallback.

    One Instruments per SoundFont per process, shared by every generator: its keeper
    holds the SoundFont's samples for as long as the process runs.
    """
    if soundfont is None:  # asked for the sine voices: nothing to say
        return None
    found, binding = find(soundfont)
    if found.soundfont is None or binding is None:
        _say_once(found.description)
        return None
    with _lock:
        if found.soundfont not in _shared:
            try:
                _shared[found.soundfont] = Instruments(found.soundfont, binding)
            except SoundFontError as exc:
                _say_once(f"sine fallback: {exc}")
                return None
        return _shared[found.soundfont]


class SoundFontError(Exception):
    """The file is there but FluidSynth cannot read it as a SoundFont (internal: we fall back)."""


class Instruments:
    """Renders scores through one SoundFont; safe to call from several threads at once."""

    def __init__(self, soundfont: Path, binding: ModuleType) -> None:
        self.soundfont = soundfont
        self._binding = binding
        self._native = _native(binding.lib)
        # Never played: it holds the parsed SoundFont so that each render's load hits the
        # cache (its samples are read per render, for the presets that render selects).
        self._keeper = self._synth()
        self._keeper_font = self._load(self._keeper)

    def play(self, score: Score, plan: Plan) -> Stereo:
        """The score's notes and hits as a (2, frames) float32 mix, reverb in."""
        frames = max(1, round(plan.seconds * RATE))
        programs = programs_for(plan.palette.name)
        synth = self._synth()
        try:
            font = self._load(synth)
            events = _Events(synth, self._native, font, programs, plan)
            events.notes(score, plan)
            events.hits(score, plan)
            return self._render(synth, events.sorted(), frames)
        finally:
            synth.delete()

    def _synth(self) -> Any:
        # FluidSynth's chorus comes out largely in antiphase: with the sends the SoundFont's
        # synth presets carry, synthwave measured 5-10 dB more side than mid, half gone in
        # mono. The palettes' own detuned layers are width enough.
        # Dynamic sample loading: a synth reads only the samples of the presets it selects,
        # so the server holds a few MB of the 148 MB SoundFont, not all of it (measured
        # 156 MB resident after four genres, against 272 MB loading every sample).
        options = {"synth.chorus.active": 0, "synth.dynamic-sample-loading": 1}
        return self._binding.Synth(gain=GAIN, samplerate=float(RATE), **options)

    def _load(self, synth: Any) -> int:
        font = int(synth.sfload(str(self.soundfont)))
        if font < 0:
            synth.delete()
            raise SoundFontError(f"FluidSynth cannot read {self.soundfont} as a SoundFont")
        return font

    def _render(
        self, synth: Any, events: list[tuple[int, int, int, int, int]], frames: int
    ) -> Stereo:
        out = np.zeros((frames, 2), dtype=np.float32)  # interleaved, as FluidSynth writes it
        address = out.ctypes.data
        handle = synth.synth
        noteon, noteoff, write = synth.noteon, synth.noteoff, self._native.write_float
        done = 0
        for frame, kind, channel, key, velocity in events:
            if frame >= frames:
                break
            if frame > done:
                write(handle, frame - done, address + done * 8, 0, 2, address + done * 8, 1, 2)
                done = frame
            if kind == NOTE_ON:
                noteon(channel, key, velocity)
            else:
                noteoff(channel, key)
        if done < frames:
            write(handle, frames - done, address + done * 8, 0, 2, address + done * 8, 1, 2)
        return np.ascontiguousarray(out.T)


class _Events:
    """A score as FluidSynth events; sets up one channel per (part, instrument, pan)."""

    def __init__(
        self, synth: Any, native: _Native, font: int, programs: Programs, plan: Plan
    ) -> None:
        self.synth, self.native, self.font, self.programs = synth, native, font, programs
        self.step_frames = 15.0 / plan.tempo * RATE
        self.events: list[tuple[int, int, int, int, int]] = []
        self.cancelled: set[int] = set()  # indices of note-offs a re-strike made redundant
        self.channels: dict[tuple[str, int, int], int] = {}
        room, send = plan.palette.reverb
        self.send = send
        # Freeverb's room size stands in for the palette's decay time: 1.2 s -> 0.36, 5 s -> 0.85.
        synth.set_reverb(min(0.95, 0.2 + 0.13 * room), 0.4, 0.8, 0.9)
        synth.program_select(DRUM_CHANNEL, font, DRUM_BANK, programs.kit)
        self._controls(DRUM_CHANNEL, "drums", 64)
        kit = plan.palette.kit
        if kit is not None and kit.lowpass_hz > 0:  # a dusty kit (lo-fi): darken the samples
            cents = 1200 * math.log2(kit.lowpass_hz / OPEN_FILTER_HZ)
            native.set_gen(synth.synth, DRUM_CHANNEL, GEN_FILTERFC, cents)

    def notes(self, score: Score, plan: Plan) -> None:
        ringing: dict[tuple[int, int], tuple[int, int]] = {}  # (channel, key) -> (off frame, index)
        for note in sorted(score.notes, key=lambda n: n.time):
            pan = _pan_cc(PANS.get(note.part, 0.0) + note.pan)
            channel = self._channel(note.part, self.programs.program(note.voice), pan)
            start = round(note.time * RATE)
            end = start + max(1, round(note.steps * self.step_frames))
            velocity = _velocity(note.velocity)
            # A GM guitar sounds one string: a voice's stack (a power chord) is played out.
            for step in VOICES[note.voice].stack if note.voice in VOICES else (0,):
                self._note(ringing, channel, note.midi + step, start, end, velocity)

    def hits(self, score: Score, plan: Plan) -> None:
        ringing: dict[tuple[int, int], tuple[int, int]] = {}
        for hit in sorted(score.hits, key=lambda h: h.time):
            start = round(hit.time * RATE)
            velocity = _velocity(hit.velocity)
            if hit.drum in PITCHED_DRUMS:
                program, (low, high) = PITCHED_DRUMS[hit.drum]
                channel = self._channel("drums", program, 64)
                key = low + (plan.key.tonic - low) % 12
                key = key if key <= high else key - 12
                self._note(
                    ringing, channel, key, start, start + int(TIMPANI_SECONDS * RATE), velocity
                )
            elif hit.drum in DRUM_KEYS:
                # GM kits ring out their own one-shots; hats choke through exclusive classes.
                self.events.append((start, NOTE_ON, DRUM_CHANNEL, DRUM_KEYS[hit.drum], velocity))

    def sorted(self) -> list[tuple[int, int, int, int, int]]:
        kept = (e for n, e in enumerate(self.events) if n not in self.cancelled)
        return sorted(kept)

    def _note(
        self,
        ringing: dict[tuple[int, int], tuple[int, int]],
        channel: int,
        key: int,
        start: int,
        end: int,
        velocity: int,
    ) -> None:
        held = ringing.get((channel, key))
        if held is not None and held[0] > start:
            # FluidSynth releases a re-struck key itself; the older note-off would cut the new.
            self.cancelled.add(held[1])
        self.events.append((start, NOTE_ON, channel, key, velocity))
        ringing[(channel, key)] = (end, len(self.events))
        self.events.append((end, NOTE_OFF, channel, key, 0))

    def _channel(self, part: str, program: int, pan: int) -> int:
        found = self.channels.get((part, program, pan))
        if found is not None:
            return found
        channel = len(self.channels)
        channel += channel >= DRUM_CHANNEL  # GM channel 10 is the kit's
        self.channels[(part, program, pan)] = channel
        self.synth.program_select(channel, self.font, 0, program)
        if part in SHORTER_RELEASE:
            self.native.set_gen(self.synth.synth, channel, GEN_VOLENVRELEASE, RELEASE_CUT)
        self._controls(channel, part, pan)
        return channel

    def _controls(self, channel: int, part: str, pan: int) -> None:
        reverb = round(127 * min(1.0, 2.0 * self.send * SENDS[part]))
        for control, value in ((7, VOLUMES[part]), (10, pan), (91, reverb)):
            self.synth.cc(channel, control, value)


def _velocity(level: float) -> int:
    return int(min(127, max(1, round(127 * level))))


def _pan_cc(pan: float) -> int:
    return round(64 + 63 * min(max(pan, -1.0), 1.0))


@dataclass(frozen=True)
class _Native:
    """The two libfluidsynth calls the binding does not wrap."""

    write_float: Callable[..., int]  # float output: the binding offers 16-bit only
    set_gen: Callable[..., int]  # a per-channel offset to a SoundFont generator


@cache
def _native(library: str) -> _Native:
    handle = ctypes.CDLL(library)
    write = handle.fluid_synth_write_float
    pointer, integer = ctypes.c_void_p, ctypes.c_int
    write.argtypes = [pointer, integer, pointer, integer, integer, pointer, integer, integer]
    write.restype = integer
    set_gen = handle.fluid_synth_set_gen
    set_gen.argtypes = [pointer, integer, integer, ctypes.c_float]
    set_gen.restype = integer
    return _Native(write, set_gen)


def _import_binding() -> ModuleType:
    """The pyfluidsynth module, imported without its note on stdout.

    pyfluidsynth prints where it found the library when CI is set in the environment,
    and our stdout carries the CLI's URLs and JSON. Hiding CI for the import (rather
    than swapping sys.stdout) cannot swallow what another thread prints meanwhile.
    """
    ci = os.environ.pop("CI", None)
    try:
        import fluidsynth as binding
    finally:
        if ci is not None:
            os.environ["CI"] = ci
    module: ModuleType = binding
    return module


def _version(binding: ModuleType) -> str:
    version = ctypes.CDLL(binding.lib).fluid_version_str
    version.restype = ctypes.c_char_p
    return str(version().decode())


def _say_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning("synth: %s", message)
