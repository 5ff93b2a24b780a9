"""Tokenized prompts, lengths and seeds in, whole tracks of audio out, window by window.

MusicGen was trained on 30-second excerpts. A longer track is made of windows: the
first window starts from nothing, each next one is prompted with the last
`overlap` frames of codes made so far and adds the rest. Continuing from the codes
themselves (as audiocraft does), rather than from re-encoded audio, loses nothing
to a codec round trip; and decoding a track's concatenated codes with EnCodec in
one pass means the waveform has no seam to crossfade at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from radio.audio import Samples
from radio.generators.musicgen.decode import Conditioning, FastDecoder
from radio.generators.musicgen.sampling import row_keys

# Codec frames decoded in one call: 8 minutes of audio at 50 frames a second.
CODEC_BATCH_FRAMES = 24_000


@dataclass(frozen=True)
class Windows:
    """Window and overlap lengths, in codec frames."""

    window: int
    overlap: int

    def __post_init__(self) -> None:
        if not 0 <= self.overlap < self.window:
            raise ValueError(f"overlap {self.overlap} must be below the window {self.window}")

    def plan(self, frames: int) -> list[int]:
        """New frames made by each window of a `frames`-long track."""
        first = min(frames, self.window)
        plan, left = [first], frames - first
        while left > 0:
            plan.append(min(left, self.window - self.overlap))
            left -= plan[-1]
        return plan


@torch.no_grad()
def encode_text(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Conditioning:
    """Run the T5 text encoder and project to the decoder's width, as transformers does."""
    states = model.text_encoder(
        input_ids=input_ids, attention_mask=attention_mask
    ).last_hidden_state
    projection = getattr(model, "enc_to_dec_proj", None)
    if projection is not None:
        states = projection(states)
    states = states * attention_mask[..., None].to(states.dtype)
    return Conditioning(states=states, mask=attention_mask.bool())


def render_codes(
    decoder: FastDecoder,
    conditioning: Conditioning,
    frames: Sequence[int],
    seeds: Sequence[int],
    windows: Windows,
) -> list[torch.Tensor]:
    """Codes (codebooks, frames[i]) per request; every window of every request batched."""
    chunks: list[list[torch.Tensor]] = [[] for _ in frames]
    made = [0] * len(frames)
    window = 0
    while active := [i for i, wanted in enumerate(frames) if made[i] < wanted]:
        prompt_frames = 0 if window == 0 else windows.overlap
        fresh = windows.window - prompt_frames
        totals = [prompt_frames + min(frames[i] - made[i], fresh) for i in active]
        prompt = None
        if prompt_frames:
            prompt = torch.stack([_tail(chunks[i], prompt_frames) for i in active])
        keys = row_keys([seeds[i] for i in active], window, decoder.device)
        codes = decoder.run_window(conditioning.select(active), prompt, totals, keys)
        for row, i in enumerate(active):
            chunks[i].append(codes[row, :, prompt_frames : totals[row]])
            made[i] += totals[row] - prompt_frames
        window += 1
    return [torch.cat(parts, dim=1) for parts in chunks]


def _tail(parts: list[torch.Tensor], frames: int) -> torch.Tensor:
    return torch.cat(parts, dim=1)[:, -frames:]


@torch.no_grad()
def decode_tracks(model: Any, tracks: Sequence[torch.Tensor], channels: int) -> list[Samples]:
    """Codes (codebooks, frames) per track in, float32 audio (samples, channels) out.

    Tracks of equal length decode together: EnCodec's LSTM steps through time one
    frame at a time, so a batch costs little more than a single track. Groups are
    capped at CODEC_BATCH_FRAMES so the waveform-rate activations fit in memory.
    """
    audio: list[Samples | None] = [None] * len(tracks)
    by_length: dict[int, list[int]] = {}
    for index, track in enumerate(tracks):
        by_length.setdefault(int(track.shape[1]), []).append(index)
    for length, indices in by_length.items():
        group = max(1, CODEC_BATCH_FRAMES // max(length, 1))
        for start in range(0, len(indices), group):
            chosen = indices[start : start + group]
            decoded = _decode(model, torch.stack([tracks[i] for i in chosen]), channels)
            for index, samples in zip(chosen, decoded, strict=True):
                audio[index] = samples
    return [samples for samples in audio if samples is not None]


def _decode(model: Any, codes: torch.Tensor, channels: int) -> list[Samples]:
    """Codes (batch, codebooks, frames) in; stereo checkpoints interleave left and right."""
    codec = model.audio_encoder
    codes = codes.to(next(codec.parameters()).device)
    halves = [codes] if channels == 1 else [codes[:, 0::2], codes[:, 1::2]]
    waves = [codec.decode(half[None], [None] * codes.shape[0]).audio_values for half in halves]
    stacked = torch.cat(waves, dim=1).transpose(1, 2).float().cpu().numpy()
    return [np.ascontiguousarray(track, dtype=np.float32) for track in stacked]
