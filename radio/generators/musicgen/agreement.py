"""One model, two decoders: our loop and transformers' own `generate`, greedily, side by side.

Greedy decoding (top-k 1) with classifier-free guidance leaves nothing to chance, so
both paths must pick the same codes and the codec must turn them into the same audio.
The tests run this on the tiny checkpoint; `radio bench generate --check` runs it on
full-size random weights on the GPU, in float32 (in half precision the two paths round
differently and may legitimately part ways at a near tie).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from radio.audio import Samples
from radio.generators.musicgen.decode import FastDecoder, Sampling
from radio.generators.musicgen.render import decode_tracks, encode_text
from radio.generators.musicgen.sampling import row_keys


@dataclass(frozen=True)
class Agreement:
    codes: torch.Tensor  # ours: (batch, codebooks, frames), prompt frames included
    ours: list[Samples]  # audio (samples, channels) per row, from our codes
    stock: list[Samples]  # the same from stock generate

    def max_difference(self) -> float:
        return max(
            float(np.abs(a - b).max()) if a.shape == b.shape else float("inf")
            for a, b in zip(self.ours, self.stock, strict=True)
        )

    def first_differing_frame(self, tolerance: float) -> int | None:
        hop = self.ours[0].shape[0] // int(self.codes.shape[2])
        return first_differing_frame(self.ours, self.stock, hop, tolerance)


def first_differing_frame(
    ours: Sequence[Samples], theirs: Sequence[Samples], hop: int, tolerance: float
) -> int | None:
    """The first codec frame (of `hop` samples) where any pair differs by more than `tolerance`.

    None when every pair matches. The codec's convolutions see a few neighbouring
    frames, so a different token shows up to a few frames before its own.
    """
    firsts = []
    for a, b in zip(ours, theirs, strict=True):
        if a.shape != b.shape:
            firsts.append(0)
            continue
        over = np.flatnonzero(np.abs(a - b).max(axis=1) > tolerance)
        if over.size:
            firsts.append(int(over[0]) // hop)
    return min(firsts, default=None)


@torch.no_grad()
def greedy_against_stock(
    model: Any,  # MusicgenForConditionalGeneration
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    new_frames: int,
    prompt: torch.Tensor | None = None,
    guidance_scale: float = 3.0,
    window_frames: int | None = None,
) -> Agreement:
    """Both paths on the same prompts (and, when given, prompt codes (batch, codebooks, P)).

    `window_frames` sizes our static cache (and so the attention buckets of the CUDA
    graphs); by default just what the request needs.
    """
    config = model.decoder.config
    codebooks = int(config.num_codebooks)
    channels = int(config.audio_channels)
    # The delay pattern adds a step per delayed codebook; stereo pairs share a delay.
    delay_span = codebooks // channels
    batch = int(input_ids.shape[0])
    prompt_frames = 0 if prompt is None else int(prompt.shape[2])
    stock = model.generate(
        input_ids=input_ids,
        attention_mask=attention_mask,
        decoder_input_ids=(
            None if prompt is None else prompt.reshape(batch * codebooks, prompt_frames)
        ),
        do_sample=False,
        guidance_scale=guidance_scale,
        max_new_tokens=new_frames + delay_span - 1,
    )
    total = prompt_frames + new_frames
    decoder = FastDecoder(
        model,
        sampling=Sampling(guidance_scale=guidance_scale, top_k=1),
        window_frames=window_frames or total,
    )
    conditioning = encode_text(model, input_ids, attention_mask)
    keys = row_keys(range(batch), 0, decoder.device)
    codes = decoder.run_window(conditioning, prompt, [total] * batch, keys)
    decoder.release()
    return Agreement(
        codes=codes,
        ours=decode_tracks(model, list(codes), channels),
        stock=[np.ascontiguousarray(track.float().cpu().numpy().T) for track in stock],
    )
