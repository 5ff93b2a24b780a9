"""The generator setting (auto, synth, musicgen) in, a generator and the reason for it out.

`probe` looks at what is installed and present without loading a model, `decide`
turns that into a choice (pure, so `radio doctor` prints the very decision the
server makes), and `choose_generator` builds it. MusicGen that cannot load never
stops the radio: the synth takes over and the reason says how to fix it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, Unpack

from radio.errors import ConfigError, GeneratorUnavailable, RadioError
from radio.generators.base import Generator
from radio.generators.hub import hub_reachable
from radio.settings import Settings

log = logging.getLogger(__name__)

KINDS = ("auto", "synth", "musicgen")
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


class Tuning(TypedDict, total=False):
    """MusicgenSettings fields a caller may set; the rest keep MusicgenSettings' defaults."""

    guidance_scale: float
    top_k: int
    temperature: float
    window_seconds: float
    overlap_seconds: float
    max_batch: int


@dataclass(frozen=True)
class Probe:
    """What decides the generator, gathered without loading any weights."""

    extra_installed: bool  # torch and transformers importable
    cuda_device: str | None  # name of the first CUDA device, None without one
    weights: str | None  # where the model's config and weights were found locally
    model: str
    hub: bool = True  # the hub may be asked for weights (online, not switched off)


@dataclass(frozen=True)
class Decision:
    generator: str  # "synth" or "musicgen"
    reason: str


def probe(model: str) -> Probe:
    """Look for the musicgen extra, a CUDA device and local weights; loads no model."""
    installed = all(importlib.util.find_spec(name) for name in ("torch", "transformers"))
    weights = local_weights(model) if installed else None
    return Probe(
        extra_installed=installed,
        cuda_device=_cuda_device() if installed else None,
        weights=weights,
        model=model,
        # Asked only when it matters: MusicGen wanted by id with nothing local.
        hub=installed
        and weights is None
        and not model.startswith(("/", ".", "~"))
        and hub_reachable(),
    )


def decide(kind: str, found: Probe) -> Decision:
    """auto: MusicGen with a CUDA device and weights on disk, otherwise the synth."""
    if kind not in KINDS:
        raise ConfigError(
            f"unknown generator {kind!r} (known: {', '.join(KINDS)})", key="generator"
        )
    if kind == "synth":
        return Decision("synth", "generator = synth")
    if kind == "musicgen":
        # The server's own fallbacks, foreseen, so `radio doctor` says what it will do.
        if not found.extra_installed:
            return Decision(
                "synth",
                "generator = musicgen, but torch/transformers are not installed"
                " (pip install -e '.[musicgen]'); the synth plays instead",
            )
        if found.weights is None and not found.hub:
            return Decision(
                "synth",
                f"generator = musicgen, but no local weights for {found.model!r} and the hub"
                f" cannot be reached (offline): huggingface-cli download {found.model} while"
                " online, --model /path/to/folder, or --generator synth; the synth plays meanwhile",
            )
        return Decision("musicgen", "generator = musicgen")
    if not found.extra_installed:
        return Decision(
            "synth", "auto: torch/transformers not installed (pip install -e '.[musicgen]')"
        )
    if found.cuda_device is None:
        return Decision(
            "synth", "auto: no CUDA device, and MusicGen on a CPU is far slower than real time"
        )
    if found.weights is None:
        return Decision(
            "synth",
            f"auto: no local weights for {found.model!r} (huggingface-cli download "
            f"{found.model}, or --model /path/to/folder)",
        )
    return Decision(
        "musicgen", f"auto: CUDA device {found.cuda_device} and weights at {found.weights}"
    )


def choose_generator(
    kind: str,
    *,
    model: str,
    soundfont: Path | None = Settings.soundfont,
    device: str | None = None,
    dtype: str | None = None,
    spill_dir: Path | None = None,
    **tuning: Unpack[Tuning],
) -> tuple[Generator, str]:
    """Build the generator `kind` asks for; MusicGen that cannot load falls back to synth.

    `soundfont` is the synth's General MIDI SoundFont (None: its sine voices). With a
    `spill_dir` the synth runs in a worker process and spills its audio there
    (`radio.offload`); MusicGen stays in this process, where its CUDA graphs are.
    """
    decision = decide(kind, probe(model))
    if decision.generator == "synth" and kind == "musicgen":
        log.error("%s", decision.reason)
    if decision.generator == "musicgen":
        try:
            from radio.generators.musicgen import MusicgenGenerator, MusicgenSettings

            settings = MusicgenSettings(
                model=model, device=device or None, dtype=dtype or None, **tuning
            )
            generator: Generator = MusicgenGenerator(settings)
        except ImportError as exc:
            reason = f"MusicGen unavailable ({exc}: pip install -e '.[musicgen]'); using synth"
        except GeneratorUnavailable as exc:
            reason = f"MusicGen unavailable: {exc} Using synth meanwhile."
        else:
            log.info("generator: musicgen (%s)", decision.reason)
            return generator, decision.reason
        log.error("%s", reason)
        return _synth(soundfont, spill_dir), reason
    log.info("generator: synth (%s)", decision.reason)
    return _synth(soundfont, spill_dir), decision.reason


def local_weights(model: str) -> str | None:
    """The folder holding `model`'s config and weights on this machine, or None."""
    folder = Path(model).expanduser()
    if folder.is_dir():
        has_weights = any((folder / name).is_file() for name in WEIGHT_FILES)
        return str(folder) if (folder / "config.json").is_file() and has_weights else None
    if model.startswith(("/", ".", "~")):
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        config = try_to_load_from_cache(model, "config.json")
        cached = [try_to_load_from_cache(model, name) for name in WEIGHT_FILES]
    except ValueError:  # not a valid repo id: nothing of that name can be cached
        return None
    if isinstance(config, str) and any(isinstance(path, str) for path in cached):
        return str(Path(config).parent)
    return None


def _cuda_device() -> str | None:
    # Importing torch costs a few hundred MB of resident memory for the server's whole
    # life; with no GPU driver on the machine there is nothing for it to find.
    if not driver_present():
        return None
    import torch

    if not torch.cuda.is_available():
        return None
    return str(torch.cuda.get_device_name(0))


def driver_present() -> bool:
    """Whether a GPU driver shows itself (NVIDIA's, or WSL's): cheap, imports nothing."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return (
        Path("/proc/driver/nvidia/version").exists()
        or any(Path("/dev").glob("nvidia[0-9]*"))
        or Path("/dev/dxg").exists()
    )


def _synth(soundfont: Path | None, spill_dir: Path | None = None) -> Generator:
    if spill_dir is not None:
        from radio.generators.pool.worker import SYNTH, WorkerSpec
        from radio.offload import ProcessGenerator

        try:
            return ProcessGenerator(WorkerSpec(SYNTH, {"soundfont": soundfont}), spill_dir)
        except RadioError as exc:  # no process to be had: the synth still plays, here
            log.error("the synth's worker process did not start (%s); it runs in-process", exc)
    from radio.generators.synth import SynthGenerator

    return SynthGenerator(soundfont)
