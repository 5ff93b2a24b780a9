"""Generation requests in, genre-flavoured stereo music out: the built-in CPU composer.

No model and no GPU: a seeded plan (tempo, key, form, instruments) from the
request's pool values and genre, a score from `score`, and numpy rendering
with notes and drum hits synthesised once and placed many times. It is the
generator that always works, so a station never has to fall silent for want of
weights, and it runs well above real time on one core.

    plan_track   request + rng -> Plan      (what to play)
    compose      Plan + rng    -> Score     (score: sections, notes, hits)
    render       Score         -> samples   (voices, drums, space, master)

With a General MIDI SoundFont installed the score is played by sampled instruments
instead (fluid.py, through FluidSynth); the sine voices here are the fallback.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.fft import irfft, next_fast_len, rfft

from radio.audio import PLAYOUT_RATE, Samples
from radio.errors import GeneratorError
from radio.generators.base import GeneratedAudio, GenerationRequest
from radio.generators.synth.drums import VARIANT_TUNES, DrumKit, Kit
from radio.generators.synth.fluid import Instruments, instruments_for
from radio.generators.synth.form import Plan
from radio.generators.synth.palettes import Palette, palette_for
from radio.generators.synth.score import Hit, Score, compose
from radio.generators.synth.theory import (
    MODAL_VAMPS,
    SCALES,
    TEMPO_RANGE,
    Key,
    parse_key,
    parse_progression,
    parse_tempo,
)
from radio.generators.synth.voices import RATE, Mono, NoteCache, filtered
from radio.settings import Settings

MODEL = "synth-v1"
Stereo = npt.NDArray[np.float32]  # (2, frames): channel-first while mixing, for contiguous rows
PEAK = 0.89  # -1 dBFS; loudness normalisation downstream scales the whole track anyway
LEVELS = {"drums": 1.2, "bass": 0.6, "chords": 0.4, "lead": 0.5, "extra": 0.3}
SENDS = {"drums": 0.1, "bass": 0.02, "chords": 0.3, "lead": 0.3, "extra": 0.4}
PANS = {"bass": 0.0, "lead": 0.12, "extra": -0.2, "chords": 0.0}
WALTZ_WORDS = ("waltz", "minuet", "3/4")
TEMPO_NUDGES = (-4.0, -3.0, -2.0, -1.0, 1.0, 2.0, 3.0, 4.0)
# Draws of a plan before giving up on avoiding the station's used ones; past half of
# them a tempo the prompt gave may move a few BPM, when nothing else is left to change.
REDRAWS = 24
# A unit-energy impulse spreads the send over seconds, so its tail sits well under the
# dry sound; this brings the palette's reverb amounts (0.1-0.45) back to audible levels.
REVERB_GAIN = 2.5


class SynthGenerator:
    """The Generator protocol for the synth: blocking, deterministic per seed, CPU only."""

    name = "synth"
    model = MODEL
    # The synth renders one request after another, so a batch saves nothing; a batch of
    # four only held four finished tracks in memory until the last was done.
    max_batch = 1

    def __init__(self, soundfont: Path | None = Settings.soundfont) -> None:
        self.instruments = instruments_for(soundfont)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GeneratedAudio]:
        made: dict[str, set[str]] = {}  # a batch may hold several tracks of one station
        out = []
        for request in requests:
            earlier = made.setdefault(request.station, set())
            out.append(self._one(request, request.used_plans | earlier))
            earlier.add(str(out[-1].parameters["fingerprint"]))
        return out

    @property
    def instruments_name(self) -> str:
        return "sine" if self.instruments is None else self.instruments.soundfont.name

    def close(self) -> None:
        """Nothing to release: tables are small module caches shared by every instance."""

    def _one(self, request: GenerationRequest, used_plans: frozenset[str]) -> GeneratedAudio:
        if not np.isfinite(request.seconds) or request.seconds <= 0:
            raise GeneratorError(f"synth: track length must be positive, got {request.seconds}")
        try:
            plan, parameters, rng = plan_unused(request, used_plans)
            score = compose(plan, rng)
            parameters["form"] = " ".join(f"{s.label}:{s.bars}" for s in score.sections)
            if self.instruments is None:
                samples = render(score, plan, rng)
            else:
                samples = played(self.instruments, score, plan, rng)
            parameters["instruments"] = self.instruments_name
        except (ValueError, KeyError, IndexError) as exc:
            raise GeneratorError(
                f"synth failed on {request.station} seed {request.seed}: {exc}"
            ) from exc
        return GeneratedAudio(request, samples, PLAYOUT_RATE, parameters)


def plan_unused(
    request: GenerationRequest, used_plans: frozenset[str] | None = None
) -> tuple[Plan, dict[str, object], np.random.Generator]:
    """The seed's plan, or, when the station already has a track of that fingerprint,
    the first unused one of a fixed series of redraws: the same seed and used set
    always give the same plan. The rng comes back to compose with. `used_plans` stands
    in for the request's own."""
    used = request.used_plans if used_plans is None else used_plans
    rng = np.random.Generator(np.random.PCG64(request.seed % 2**128))
    plan, parameters = plan_track(request, rng)
    for attempt in range(1, REDRAWS + 1):
        if parameters["fingerprint"] not in used:
            break
        rng = np.random.Generator(np.random.PCG64([request.seed % 2**128, attempt]))
        plan, parameters = plan_track(request, rng, nudge=attempt > REDRAWS // 2)
        parameters["redraws"] = attempt
    return plan, parameters, rng


def fingerprint(plan: Plan) -> str:
    """Key, tempo, instruments and progressions: two tracks sharing all four are twins."""
    ens = plan.ensemble
    instruments = "/".join((*ens.leads, ens.chords, ens.bass, ens.extra or ""))
    return "|".join((plan.key.name, f"{plan.tempo:g}", instruments, *plan.progressions))


def plan_track(
    request: GenerationRequest, rng: np.random.Generator, nudge: bool = False
) -> tuple[Plan, dict[str, object]]:
    """Everything the score needs, from params first, then prompt words, then the seed.

    `nudge` moves the tempo a few BPM off the one asked for (a redraw's last resort)."""
    palette = palette_for(request.genre)
    prompt = request.prompt.lower()
    # Seeded choices are drawn even when params or words override them, so that giving a
    # tempo or naming an instrument does not reshuffle everything drawn after it.
    low, high = palette.tempo
    if "slow" in prompt:
        high = low + (high - low) // 3
    elif any(word in prompt for word in ("fast", "uptempo", "furious", "driving")):
        low = high - (high - low) // 3
    seeded_tempo = float(rng.integers(low, high + 1))
    seeded_key = _seeded_key(palette, prompt, rng)
    given_tempo = parse_tempo(request.params.get("tempo", ""))
    given_key = parse_key(request.params.get("key", ""))
    tempo = given_tempo or seeded_tempo
    if nudge:
        tempo = min(max(tempo + float(rng.choice(TEMPO_NUDGES)), TEMPO_RANGE[0]), TEMPO_RANGE[1])
    key = given_key or seeded_key
    drawn = palette.ensembles[int(rng.integers(len(palette.ensembles)))]
    matching = [e for e in palette.ensembles if any(w.lower() in prompt for w in e.words)]
    ensemble = matching[0] if matching else drawn
    drums_drawn = rng.random() < palette.drum_chance
    playable = palette.grooves is not None or palette.accent is not None
    asked_not = "no drums" in prompt or "drumless" in prompt
    drums = playable and drums_drawn and not asked_not
    progressions = _progressions(palette, key, rng)
    scale = _melody_scale(palette, key, prompt)
    beats = 3 if any(word in prompt for word in WALTZ_WORDS) else 4
    grooves = palette.grooves_at(tempo) or ()
    groove = int(rng.integers(len(grooves))) if grooves else 0
    plan = Plan(
        palette,
        ensemble,
        key,
        tempo,
        beats,
        drums,
        SCALES[scale],
        progressions,
        request.seconds,
        groove,
    )
    parameters: dict[str, object] = {
        "palette": palette.name,
        "tempo": tempo,
        "tempo_source": ("params" if given_tempo else "seed") + (", nudged" if nudge else ""),
        "key": key.name,
        "key_source": "params" if given_key else "seed",
        "meter": f"{beats}/4",
        "swing": palette.swing,
        "progression_a": progressions[0],
        "progression_b": progressions[1],
        "melody_scale": scale,
        "drums": drums,
        "groove": groove if drums and grooves else None,
        "lead": "/".join(ensemble.leads),
        "chords": ensemble.chords,
        "bass": ensemble.bass,
        "extra": ensemble.extra or "",
        "seed": request.seed,
        "fingerprint": fingerprint(plan),
    }
    return plan, parameters


def _seeded_key(palette: Palette, prompt: str, rng: np.random.Generator) -> Key:
    tonic = int(rng.integers(12))
    mode = str(rng.choice(palette.modes))
    if "dark" in prompt and mode in ("major", "lydian", "mixolydian"):
        mode = "minor"
    return Key(tonic, mode)


def _progressions(palette: Palette, key: Key, rng: np.random.Generator) -> tuple[str, str]:
    pool = list(palette.minor if key.minor else palette.major)
    if key.mode in MODAL_VAMPS:
        pool = [*MODAL_VAMPS[key.mode], *pool[:1]]  # let the mode be heard, not just named
    first = str(rng.choice(pool))
    others = [p for p in pool if p != first] or pool
    second = str(rng.choice(others))
    for text in (first, second):
        parse_progression(text, key)  # a typo in a palette fails here, loudly, not mid-render
    return first, second


def _melody_scale(palette: Palette, key: Key, prompt: str) -> str:
    for word, scale in palette.scale_words.items():
        if word in prompt:
            return scale
    if palette.melody == "pentatonic":
        return "minor pentatonic" if key.minor else "major pentatonic"
    if palette.melody == "blues":
        return "blues"
    return key.mode


def render(score: Score, plan: Plan, rng: np.random.Generator) -> Samples:
    """Place every note and hit in the stereo mix, add space, and master to (frames, 2)."""
    frames = max(1, round(plan.seconds * RATE))
    palette = plan.palette
    levels = {**LEVELS, **palette.levels}
    mix = _Mix(frames, echo=palette.echo > 0)
    cache = NoteCache()
    step_frames = 15.0 / plan.tempo * RATE
    for note in score.notes:
        sound = cache.note(note.voice, note.midi, max(1, round(note.steps * step_frames)))
        gain = note.velocity * levels[note.part]
        pan = PANS.get(note.part, 0.0) + note.pan
        mix.add(sound, round(note.time * RATE), gain, pan, SENDS[note.part], note.part == "lead")
    if score.hits:
        _place_hits(score.hits, DrumKit(palette.kit or Kit(), rng), mix, levels["drums"], rng)
    if mix.lead is not None:
        _echo(mix.dry, mix.lead, palette.echo, plan.tempo)
    wet = np.float32(palette.reverb[1] * REVERB_GAIN)
    mix.dry += _reverb(mix.send, palette.reverb[0], rng) * wet
    if palette.crackle:
        mix.dry += _crackle(frames, rng)[None, :]
    return _master(mix.dry)


def played(instruments: Instruments, score: Score, plan: Plan, rng: np.random.Generator) -> Samples:
    """The score on sampled instruments, with the same vinyl and mastering as `render`."""
    mix = instruments.play(score, plan)
    if plan.palette.crackle:
        mix += _crackle(mix.shape[1], rng)[None, :]
    return _master(mix)


class _Mix:
    """The stereo dry mix, the reverb send, and the lead alone when it feeds an echo.

    Notes go straight in with their pan and send: a few full-length arrays whatever
    the arrangement, so a ten-minute track costs memory in proportion to its length only.
    """

    def __init__(self, frames: int, echo: bool) -> None:
        self.frames = frames
        self.dry = np.zeros((2, frames), dtype=np.float32)
        self.send = np.zeros(frames, dtype=np.float32)
        self.lead = np.zeros(frames, dtype=np.float32) if echo else None

    def add(
        self, sound: Mono, start: int, gain: float, pan: float, send: float, lead: bool = False
    ) -> None:
        end = min(self.frames, start + len(sound))
        if start < 0 or end <= start:
            return
        piece = sound[: end - start] * np.float32(gain)
        angle = (min(max(pan, -1.0), 1.0) + 1) * np.pi / 4  # equal-power pan law
        self.dry[0, start:end] += np.float32(np.cos(angle)) * piece
        self.dry[1, start:end] += np.float32(np.sin(angle)) * piece
        self.send[start:end] += np.float32(send) * piece
        if lead and self.lead is not None:
            self.lead[start:end] += piece


def _place_hits(
    hits: list[Hit], kit: DrumKit, mix: _Mix, level: float, rng: np.random.Generator
) -> None:
    """Each drum chokes its own last hit, as a re-struck skin does; hats choke open hats.
    Each hit plays one of the drum's round-robin variants, drawn at random."""
    variants = rng.integers(len(VARIANT_TUNES), size=len(hits))
    starts: dict[str, list[int]] = {}
    for hit in hits:
        starts.setdefault(_choke_group(hit.drum), []).append(round(hit.time * RATE))
    for group in starts.values():
        group.sort()
    for hit, variant in zip(hits, variants, strict=True):
        start = round(hit.time * RATE)
        if start >= mix.frames:
            continue
        stops = starts[_choke_group(hit.drum)]
        following = bisect_right(stops, start)
        stop = stops[following] if following < len(stops) else mix.frames
        send = 0.2 if hit.drum in ("snare", "clap", "rim") else 0.1
        take = int(variant) % kit.takes(hit.drum)
        sound = _choked(kit.sound(hit.drum, take), stop - start)
        mix.add(sound, start, hit.velocity * level, kit.pan(hit.drum), send)


def _choke_group(drum: str) -> str:
    return "hat" if drum == "openhat" else drum


def _choked(sound: Mono, length: int) -> Mono:
    if length >= len(sound):
        return sound
    cut = sound[:length].copy()
    fade = min(64, length)
    cut[length - fade :] *= np.linspace(1, 0, fade, dtype=np.float32)
    return cut


def _echo(dry: Stereo, lead: Mono, feedback: float, tempo: float) -> None:
    """A dotted-eighth ping-pong: each repeat quieter and on the other side."""
    delay = round(45.0 / tempo * RATE)
    for repeat in range(1, 5):
        shift = delay * repeat
        if shift >= len(lead):
            break
        dry[repeat % 2, shift:] += np.float32(feedback**repeat * 0.5) * lead[:-shift]


def _reverb(send: Mono, seconds: float, rng: np.random.Generator) -> Stereo:
    """Convolution with decaying stereo noise, at half rate: a reverb tail is dark anyway."""
    half = send[: len(send) // 2 * 2].reshape(-1, 2).mean(axis=1, dtype=np.float32)
    rate = RATE / 2
    n = int(seconds * rate)
    t = np.arange(n, dtype=np.float32) / np.float32(rate)
    predelay = int(0.02 * rate)
    impulse = np.zeros((2, n + predelay), dtype=np.float32)
    for channel in range(2):
        noise = rng.standard_normal(n, dtype=np.float32)
        low = filtered(noise, "lowpass", 3000.0) * np.exp(-6.9 * t / np.float32(seconds))
        high = (noise - low) * np.exp(-6.9 * t / np.float32(seconds * 0.35))
        impulse[channel, predelay:] = low + np.float32(0.3) * high
    impulse /= np.float32(np.sqrt(np.sum(impulse**2) / 2))
    wet = _convolve(half, impulse)
    out = np.zeros((2, len(send)), dtype=np.float32)
    out[:, 0 : 2 * wet.shape[1] : 2] = wet
    out[:, 1 : 2 * wet.shape[1] - 2 : 2] = 0.5 * (wet[:, :-1] + wet[:, 1:])
    return out


def _convolve(signal: Mono, impulse: Stereo) -> Stereo:
    """Overlap-add in blocks of about four impulse lengths: one batched FFT, not one huge one."""
    taps = impulse.shape[1]
    size = next_fast_len(4 * taps, real=True)
    hop = size - taps + 1
    blocks = -(-len(signal) // hop)
    padded = np.zeros(blocks * hop, dtype=np.float32)
    padded[: len(signal)] = signal
    spectra = rfft(padded.reshape(blocks, hop), size, axis=1)
    out = np.zeros((2, len(signal)), dtype=np.float32)
    for channel in range(2):
        response = rfft(impulse[channel], size)
        pieces = irfft(spectra * response[None, :], size, axis=1).astype(np.float32)
        heads = np.zeros((blocks + 1) * hop, dtype=np.float32)
        heads[: blocks * hop] = pieces[:, :hop].ravel()
        # Each block's tail (taps - 1 < hop samples) spills into the next block only.
        tails = np.zeros((blocks, hop), dtype=np.float32)
        tails[:, : size - hop] = pieces[:, hop:]
        heads[hop:] += tails.ravel()
        out[channel] = heads[: len(signal)]
    return out


def _crackle(frames: int, rng: np.random.Generator) -> Mono:
    """Vinyl: sparse clicks of random size over a faint hiss."""
    out = rng.standard_normal(frames, dtype=np.float32) * np.float32(0.002)
    count = int(frames / RATE * 9)
    places = rng.integers(0, frames, count)
    sizes = rng.pareto(3.0, count).astype(np.float32) * np.float32(0.02)
    np.add.at(out, places, sizes * rng.choice(np.array([-1.0, 1.0], dtype=np.float32), count))
    return filtered(out, "bandpass", (800.0, 9000.0))


def _master(mix: Stereo) -> Samples:
    """Guard the edges against clicks, set the peak at PEAK, and hand over (frames, 2).

    No fade-out: the track ends at full level and the crossfade is the only fade
    at a join (#9: a fade here, another in preparation and the crossfade's own
    made a hole of about 9 LU at every track change)."""
    frames = mix.shape[1]
    mix -= mix.mean(axis=1, keepdims=True)  # distortion and drive leave a little DC behind
    guard = min(int(0.01 * RATE), frames // 10)
    if guard:
        ramp = np.linspace(0, 1, guard, dtype=np.float32)
        mix[:, :guard] *= ramp
        mix[:, frames - guard :] *= ramp[::-1]
    peak = float(np.max(np.abs(mix)))
    if peak > 0:
        mix *= np.float32(PEAK / peak)
    return np.ascontiguousarray(mix.T, dtype=np.float32)
