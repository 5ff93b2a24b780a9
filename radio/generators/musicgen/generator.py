"""Batches of GenerationRequest in, MusicGen audio (native rate and channels) out.

Loads a transformers MusicGen checkpoint (hub id or local folder), then renders
every request of a batch together: the prompts of different stations share one
batched decoder (decode.py), long tracks are made window by window
(render.py). This package needs torch; select.py imports it only once MusicGen
is chosen, so the core server runs without the musicgen extra.

Failure policy: anything that goes wrong inside `generate` leaves as a
GeneratorError naming the stations and seeds, which the scheduler logs before the
station carries on from its backlog. CUDA running out of memory is retried first
with the batch halved, down to one request.
"""

from __future__ import annotations

import importlib
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from radio.audio import Samples
from radio.errors import ConfigError, GeneratorError, GeneratorUnavailable
from radio.generators.base import GeneratedAudio, GenerationRequest
from radio.generators.hub import hub_reachable, offline
from radio.generators.musicgen.decode import FastDecoder, Sampling
from radio.generators.musicgen.render import Windows, decode_tracks, encode_text, render_codes
from radio.settings import DTYPES, Settings

log = logging.getLogger(__name__)

# Bumped whenever the same seed would stop giving the same tokens.
SAMPLER = "gumbel-hash-1"
MAX_TEXT_TOKENS = 256
# Short spellings of the precisions in DTYPES, also accepted.
DTYPE_ALIASES = {"fp32": "float32", "fp16": "float16", "half": "float16", "bf16": "bfloat16"}


@dataclass(frozen=True)
class MusicgenSettings:
    # What the server also sets defaults to Settings: a dataclass keeps each field's
    # default as its class attribute, so `Settings.top_k` is the one declaration.
    model: str = Settings.model  # hub id or local folder
    revision: str | None = None
    device: str | None = None  # None: CUDA when present, else CPU
    dtype: str | None = None  # None: bfloat16 on CUDA (float16 if unsupported), float32 on CPU
    guidance_scale: float = Settings.guidance_scale
    top_k: int = Settings.top_k
    temperature: float = Settings.temperature
    window_seconds: float = 30.0
    overlap_seconds: float = 10.0
    max_batch: int = 15
    cuda_graphs: bool = True


@dataclass(frozen=True)
class LoadedMusicgen:
    model: Any  # MusicgenForConditionalGeneration, decoder and text encoder cast to dtype
    tokenizer: Any
    device: torch.device
    dtype: torch.dtype
    revision: str | None


def is_folder_reference(model: str) -> bool:
    """A path rather than a hub id: it exists, or is spelled like a path."""
    return Path(model).expanduser().exists() or model.startswith(("/", ".", "~"))


def resolve_device(device: str | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise ConfigError(f"not a torch device: {device!r}", key="device") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise GeneratorUnavailable(
            f"device {device!r} asked for, but torch sees no CUDA device "
            "(install a CUDA build of torch, or leave the device unset to use the CPU)"
        )
    return resolved


def resolve_dtype(dtype: str | None, device: torch.device) -> torch.dtype:
    if dtype is None:
        if device.type != "cuda":
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    name = DTYPE_ALIASES.get(dtype.lower(), dtype.lower())
    if name not in DTYPES:
        raise ConfigError(f"unknown dtype {dtype!r} (known: {', '.join(DTYPES)})", key="dtype")
    resolved: torch.dtype = getattr(torch, name)
    return resolved


def missing_weights_message(model: str) -> str:
    """The one message for absent weights: what was tried and the three ways out."""
    if is_folder_reference(model):
        tried = f"no MusicGen checkpoint in folder {model!r}"
    else:
        where = (
            "the local Hugging Face cache (offline mode)" if offline() else "the hub or the cache"
        )
        tried = f"could not load {model!r} from {where}"
    return (
        f"{tried}. Download it with `huggingface-cli download {Settings.model}` "
        "(or the model you want), or point --model at a folder saved with save_pretrained, "
        "or run with --generator synth."
    )


def load_musicgen(settings: MusicgenSettings) -> LoadedMusicgen:
    """Load model and tokenizer on the resolved device; GeneratorUnavailable if we cannot."""
    hf = load_transformers()
    device = resolve_device(settings.device)
    dtype = resolve_dtype(settings.dtype, device)
    folder = is_folder_reference(settings.model)
    source = str(Path(settings.model).expanduser()) if folder else settings.model
    # Only a reachable hub is asked: offline, the local cache answers at once.
    options: dict[str, Any] = {"local_files_only": folder or not hub_reachable()}
    if settings.revision and not folder:
        options["revision"] = settings.revision
    hf.utils.logging.disable_progress_bar()  # a bar per weights file would flood the server log
    try:
        config = hf.AutoConfig.from_pretrained(source, **options)
        if config.model_type != "musicgen":
            raise GeneratorUnavailable(
                f"{settings.model!r} is a {config.model_type!r} checkpoint; the radio runs "
                "the text-to-music checkpoints that cross-attend to the prompt (musicgen-small, "
                "-medium, -large and their -stereo- variants), not melody ones"
            )
        model = hf.MusicgenForConditionalGeneration.from_pretrained(source, **options)
        processor = hf.AutoProcessor.from_pretrained(source, **options)
    except (OSError, ValueError) as exc:
        raise GeneratorUnavailable(missing_weights_message(settings.model)) from exc
    model.eval()
    model.to(device)
    cast_for_decoding(model, dtype)
    tokenizer = getattr(processor, "tokenizer", processor)
    revision = getattr(config, "_commit_hash", None)
    return LoadedMusicgen(model, tokenizer, device, dtype, revision)


def cast_for_decoding(model: Any, dtype: torch.dtype) -> None:
    """Text encoder, projection and decoder to `dtype`; the codec stays float32.

    The language model is where the time goes; the codec stays float32 because a
    bfloat16 waveform would carry audible quantisation noise (8-bit mantissa).
    """
    for part in ("text_encoder", "enc_to_dec_proj", "decoder"):
        if hasattr(model, part):
            getattr(model, part).to(dtype)


def load_transformers() -> Any:
    """The transformers package, typed Any: its models are attribute trees mypy cannot follow."""
    return importlib.import_module("transformers")


class MusicgenGenerator:
    """The Generator protocol over a loaded MusicGen checkpoint."""

    name = "musicgen"

    def __init__(
        self, settings: MusicgenSettings | None = None, *, loaded: LoadedMusicgen | None = None
    ) -> None:
        self.settings = settings or MusicgenSettings()
        self._check(self.settings)
        self._loaded = loaded or load_musicgen(self.settings)
        model = self._loaded.model
        self.model = self.settings.model
        self.max_batch = self.settings.max_batch
        codec = model.config.audio_encoder
        self.sample_rate = int(codec.sampling_rate)
        self.frame_rate = float(codec.frame_rate)
        self.channels = int(model.config.decoder.audio_channels)
        self._windows = Windows(
            window=round(self.settings.window_seconds * self.frame_rate),
            overlap=round(self.settings.overlap_seconds * self.frame_rate),
        )
        self._decoder = FastDecoder(
            model,
            sampling=Sampling(
                guidance_scale=self.settings.guidance_scale,
                top_k=self.settings.top_k,
                temperature=self.settings.temperature,
            ),
            window_frames=self._windows.window,
            cuda_graphs=self.settings.cuda_graphs,
        )
        self.steps = self._decoder.steps
        self.parameters: Mapping[str, object] = {
            "model": self.settings.model,
            "revision": self._loaded.revision,
            "guidance_scale": self.settings.guidance_scale,
            "top_k": self.settings.top_k,
            "temperature": self.settings.temperature,
            "window_seconds": self.settings.window_seconds,
            "overlap_seconds": self.settings.overlap_seconds,
            "dtype": str(self._loaded.dtype).removeprefix("torch."),
            "device": str(self._loaded.device),
            "sampler": SAMPLER,
        }

    @staticmethod
    def _check(settings: MusicgenSettings) -> None:
        if not 1.0 <= settings.window_seconds <= 30.0:
            raise ConfigError("must be between 1 and 30 seconds", key="window_seconds")
        if not 0.0 <= settings.overlap_seconds < settings.window_seconds:
            raise ConfigError("must be at least 0 and below the window", key="overlap_seconds")
        if settings.top_k < 0 or settings.temperature < 0 or settings.guidance_scale < 0:
            raise ConfigError("top_k, temperature and guidance_scale must not be negative")
        if settings.max_batch < 1:
            raise ConfigError("must be at least 1", key="max_batch")

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GeneratedAudio]:
        """One GeneratedAudio per request, in order; GeneratorError on any failure."""
        if not requests:
            return []
        for request in requests:
            if not request.seconds > 0:
                raise GeneratorError(f"{describe([request])}: asked for {request.seconds} s")
        try:
            return self._generate_halving(list(requests))
        except GeneratorError:
            raise
        except Exception as exc:
            raise GeneratorError(
                f"MusicGen failed on {describe(requests)}: {type(exc).__name__}: {exc}"
            ) from exc

    def close(self) -> None:
        self._decoder.release()
        if self._loaded.device.type == "cuda":
            torch.cuda.empty_cache()

    def _generate_halving(self, requests: list[GenerationRequest]) -> list[GeneratedAudio]:
        try:
            return self._generate_batch(requests)
        except torch.cuda.OutOfMemoryError as exc:
            self.close()
            if len(requests) == 1:
                raise GeneratorError(
                    f"CUDA out of memory on a single request ({describe(requests)}): "
                    "use a smaller model or a shorter window"
                ) from exc
            half = len(requests) // 2
            # Remember what fits, so the scheduler stops sending batches that do not.
            self.max_batch = min(self.max_batch, half)
            log.warning(
                "CUDA out of memory on a batch of %d (%s); retrying as %d + %d",
                len(requests),
                describe(requests),
                half,
                len(requests) - half,
            )
            return self._generate_halving(requests[:half]) + self._generate_halving(requests[half:])

    def render(self, requests: Sequence[GenerationRequest]) -> list[torch.Tensor]:
        """The codes (codebooks, frames) of each request, before the codec.

        What a seed decides: the bench's check compares these, token for token, between
        a request made alone and inside a batch.
        """
        model, device = self._loaded.model, self._loaded.device
        tokens = self._loaded.tokenizer(
            [request.prompt for request in requests],
            padding=True,
            truncation=True,
            max_length=MAX_TEXT_TOKENS,
            return_tensors="pt",
        )
        with torch.no_grad():
            conditioning = encode_text(
                model, tokens["input_ids"].to(device), tokens["attention_mask"].to(device)
            )
            frames = [math.ceil(request.seconds * self.frame_rate) for request in requests]
            seeds = [request.seed for request in requests]
            return render_codes(self._decoder, conditioning, frames, seeds, self._windows)

    def _generate_batch(self, requests: list[GenerationRequest]) -> list[GeneratedAudio]:
        codes = self.render(requests)
        with torch.no_grad():
            tracks = decode_tracks(self._loaded.model, codes, self.channels)
        return [
            GeneratedAudio(
                request=request,
                samples=_headroom(track[: round(request.seconds * self.sample_rate)]),
                sample_rate=self.sample_rate,
                parameters=self.parameters,
            )
            for request, track in zip(requests, tracks, strict=True)
        ]


def describe(requests: Sequence[GenerationRequest]) -> str:
    """Stations and seeds, so a failed batch can be found in the log and regenerated."""
    return ", ".join(f"station {r.station!r} seed {r.seed}" for r in requests)


def _headroom(samples: Samples) -> Samples:
    """Scale a track whose peaks pass full scale back inside [-1, 1] instead of clipping.

    Loudness is normalised later anyway; clipping would add distortion that cannot.
    """
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak <= 1.0:
        return samples
    return (samples / peak).astype(np.float32)
