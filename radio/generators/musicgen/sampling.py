"""Decoder logits in, one token per request and codebook out: guidance, top-k, seeded Gumbel-max.

The randomness is a pure function of (request seed, window, position, codebook, token)
computed by an integer hash, not drawn from a stateful generator. Two things follow:
a request draws the same noise whatever else shares its batch (or however an
out-of-memory retry split that batch), so it samples the same tokens wherever its
logits are the same; and the whole step has no host-side state, so it can be
captured once in a CUDA graph and replayed. (In half precision on a GPU the batch's
matrix shapes may change the rounding of the logits and so tip a near tie; `radio
bench generate --check` counts the frames where that happens.)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

MASK32 = 0xFFFFFFFF
# Odd multipliers below 2**31: an int64 product of a 32-bit value and one of
# these stays below 2**63, so no backend ever relies on signed overflow.
_MULTIPLIERS = (0x7FEB352D, 0x2C1B3C6D, 0x297A2D39)
_POSITION_SALT = 0x3C6EF35F
_VOCAB_SALT = 0x632BE5AB
_WINDOW_SALT = 0x51ED270B


def mix32(values: torch.Tensor) -> torch.Tensor:
    """A bijective 32-bit integer hash (xorshift-multiply rounds) on int64 tensors."""
    x = values & MASK32
    for multiplier in _MULTIPLIERS:
        x = x ^ (x >> 16)
        x = (x * multiplier) & MASK32
    return x ^ (x >> 16)


def row_keys(seeds: Sequence[int], window: int, device: torch.device) -> torch.Tensor:
    """One 32-bit key per request for one window of its track, from its 64-bit seed."""
    low = torch.tensor([seed & MASK32 for seed in seeds], dtype=torch.int64, device=device)
    high = torch.tensor([(seed >> 32) & MASK32 for seed in seeds], dtype=torch.int64, device=device)
    salt = torch.full_like(low, (window * _WINDOW_SALT) & MASK32)
    return mix32(mix32(low) ^ mix32(high ^ _WINDOW_SALT) ^ mix32(salt))


def vocab_hashes(vocab_size: int, device: torch.device) -> torch.Tensor:
    """Per-token salts, computed once per decoder."""
    return mix32(torch.arange(vocab_size, dtype=torch.int64, device=device) + _VOCAB_SALT)


def gumbel_noise(
    keys: torch.Tensor, position: torch.Tensor, codebooks: int, vocab_salts: torch.Tensor
) -> torch.Tensor:
    """Standard Gumbel noise of shape (rows, codebooks, vocab) for the token at `position`.

    `position` is a one-element int64 tensor so that a captured graph reads it at replay.
    """
    codebook = torch.arange(codebooks, dtype=torch.int64, device=keys.device)
    step = mix32(position * _POSITION_SALT + codebook)  # (codebooks,)
    cell = mix32(keys[:, None] ^ step[None, :])  # (rows, codebooks)
    bits = mix32(cell[:, :, None] ^ vocab_salts[None, None, :])
    # 24 random bits give a float32-exact uniform strictly inside (0, 1).
    uniform = ((bits >> 8).to(torch.float32) + 0.5) * (1.0 / (1 << 24))
    return -torch.log(-torch.log(uniform))


def guide(logits: torch.Tensor, guidance_scale: float) -> torch.Tensor:
    """Classifier-free guidance: rows [conditional; unconditional] in, guided rows out.

    Same formula as transformers' ClassifierFreeGuidanceLogitsProcessor, on raw logits.
    """
    logits = logits.float()
    if guidance_scale <= 1.0:
        return logits
    conditional, unconditional = logits.chunk(2, dim=0)
    return unconditional + (conditional - unconditional) * guidance_scale


def pick_tokens(
    logits: torch.Tensor,
    keys: torch.Tensor,
    position: torch.Tensor,
    vocab_salts: torch.Tensor,
    *,
    top_k: int,
    temperature: float,
) -> torch.Tensor:
    """Guided logits (rows, codebooks, vocab) in, sampled token ids (rows, codebooks) out.

    Gumbel-max over the top-k logits divided by the temperature draws exactly from
    the distribution transformers samples with top_k and temperature. top_k=1 or a
    temperature of 0 is greedy decoding.
    """
    if top_k == 1 or temperature <= 0.0:
        return logits.argmax(dim=-1)
    scores = logits / temperature
    if 0 < top_k < scores.shape[-1]:
        kth = torch.topk(scores, top_k, dim=-1).values[..., -1:]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    noise = gumbel_noise(keys, position, scores.shape[1], vocab_salts)
    return (scores + noise).argmax(dim=-1)
