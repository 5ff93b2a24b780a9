"""Text conditioning and prompt codes in, one window of MusicGen audio codes out, fast.

Our own decoding loop over the weights of transformers' MusicGen decoder, because
stock `generate` spends most of a step in Python and dynamic caches rather than on
the GPU. The loop keeps what makes MusicGen MusicGen (the codebook delay pattern,
classifier-free guidance by doubling the batch, top-k sampling) and changes how it
runs: a static KV cache preallocated for the window, cross-attention keys and values
computed once per batch, fused projections, seeded stateless sampling
(sampling.py) and, on CUDA, one captured graph per attention length
(graphs.py).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from radio.generators.musicgen.graphs import GraphedSteps, bucket_for, buckets_up_to
from radio.generators.musicgen.sampling import guide, pick_tokens, vocab_hashes
from radio.settings import Settings

log = logging.getLogger(__name__)

# Sessions (caches, graphs) kept per (batch, text length); two cover a steady
# batch size plus the occasional odd one without holding every size ever seen.
SESSIONS_KEPT = 2


@dataclass(frozen=True)
class Sampling:
    guidance_scale: float = Settings.guidance_scale
    top_k: int = Settings.top_k
    temperature: float = Settings.temperature


@dataclass(frozen=True)
class Conditioning:
    """Projected text-encoder states (rows, tokens, hidden) and their padding mask."""

    states: torch.Tensor
    mask: torch.Tensor  # bool, True where a token is real

    def select(self, rows: Sequence[int]) -> Conditioning:
        index = torch.tensor(list(rows), dtype=torch.long, device=self.states.device)
        return Conditioning(self.states.index_select(0, index), self.mask.index_select(0, index))


@dataclass
class StepCounts:
    """Decoding steps run so far, by how: the benchmark reports them to show graphs did the work."""

    graphed: int = 0
    eager: int = 0


@dataclass
class _Layer:
    norm_self: nn.LayerNorm
    qkv: torch.Tensor
    out: torch.Tensor
    norm_cross: nn.LayerNorm
    cross_q: torch.Tensor
    cross_kv: torch.Tensor
    cross_out: torch.Tensor
    norm_ff: nn.LayerNorm
    fc1: torch.Tensor
    fc2: torch.Tensor


class _Session:
    """Static buffers for one batch size: what a captured graph reads and writes."""

    def __init__(self, decoder: FastDecoder, batch: int, text_tokens: int) -> None:
        rows = batch * (2 if decoder.guided else 1)
        shape = (decoder.layers_count, rows, decoder.heads, decoder.cache_length, decoder.head_dim)
        cross_shape = (decoder.layers_count, rows, decoder.heads, text_tokens, decoder.head_dim)
        device, dtype = decoder.device, decoder.dtype
        self.batch = batch
        self.keys_cache = torch.zeros(shape, device=device, dtype=dtype)
        self.values_cache = torch.zeros(shape, device=device, dtype=dtype)
        self.cross_keys = torch.zeros(cross_shape, device=device, dtype=dtype)
        self.cross_values = torch.zeros(cross_shape, device=device, dtype=dtype)
        # Additive masks (0 or -inf) in the model's dtype: a boolean mask would be
        # converted by every attention call, two more kernels per layer and step.
        self.cross_bias = torch.zeros((rows, 1, 1, text_tokens), device=device, dtype=dtype)
        codes = (batch, decoder.codebooks, decoder.cache_length + 1)
        self.sequence = torch.full(codes, decoder.pad_token, device=device, dtype=torch.long)
        self.forced = torch.full(codes, decoder.pad_token, device=device, dtype=torch.long)
        self.row_keys = torch.zeros(batch, device=device, dtype=torch.long)
        self.position = torch.zeros(1, device=device, dtype=torch.long)
        self.graphs: GraphedSteps | None = None


class FastDecoder:
    """Runs MusicGen's decoder one window at a time with a static cache."""

    def __init__(
        self,
        model: Any,  # MusicgenForConditionalGeneration: transformers' modules are untyped trees
        *,
        sampling: Sampling,
        window_frames: int,
        cuda_graphs: bool = True,
    ) -> None:
        lm = model.decoder  # MusicgenForCausalLM
        core = lm.model.decoder
        config = lm.config
        first = next(lm.parameters())
        self.device, self.dtype = first.device, first.dtype
        self.sampling = sampling
        self.guided = sampling.guidance_scale > 1.0
        self.codebooks = int(config.num_codebooks)
        self.vocab = int(config.vocab_size)
        self.pad_token = int(model.generation_config.pad_token_id)
        stereo = int(config.audio_channels) == 2
        # Stereo checkpoints interleave left/right codebooks that share one delay.
        self.delays = [k // 2 if stereo else k for k in range(self.codebooks)]
        self.delay_span = max(self.delays) + 1
        self.window_frames = window_frames
        self.cache_length = window_frames + self.delay_span
        self.hidden = int(config.hidden_size)
        self.heads = int(config.num_attention_heads)
        self.head_dim = self.hidden // self.heads
        self.layers_count = len(core.layers)
        self.activation = core.layers[0].activation_fn
        self.final_norm = core.layer_norm
        self.embeddings = torch.stack([e.weight for e in core.embed_tokens])  # (K, V+1, D)
        # One (K * V, D) matrix: all codebooks' logits from a single matmul.
        self.heads_weight = torch.cat([h.weight for h in lm.lm_heads])
        table = core.embed_positions.get_embedding(self.cache_length + 1, self.hidden)
        self.positions = table.to(self.device, self.dtype)
        self.layers = [self._layer(layer) for layer in core.layers]
        self.vocab_salts = vocab_hashes(self.vocab, self.device)
        self.use_graphs = cuda_graphs and self.device.type == "cuda"
        # Graphs fix the attention span to buckets; eager CUDA steps use the same
        # shapes so both pick the same kernels. The CPU attends to exactly what it needs.
        self.bucketed = self.device.type == "cuda"
        self.codebook_index = torch.arange(self.codebooks, device=self.device)
        self.steps = StepCounts()
        self._sessions: OrderedDict[tuple[int, int], _Session] = OrderedDict()

    @staticmethod
    def _layer(layer: Any) -> _Layer:
        attn, cross = layer.self_attn, layer.encoder_attn
        return _Layer(
            norm_self=layer.self_attn_layer_norm,
            qkv=torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight]),
            out=attn.out_proj.weight,
            norm_cross=layer.encoder_attn_layer_norm,
            cross_q=cross.q_proj.weight,
            cross_kv=torch.cat([cross.k_proj.weight, cross.v_proj.weight]),
            cross_out=cross.out_proj.weight,
            norm_ff=layer.final_layer_norm,
            fc1=layer.fc1.weight,
            fc2=layer.fc2.weight,
        )

    def release(self) -> None:
        """Drop caches and graphs (after an out-of-memory error, or on close)."""
        self._sessions.clear()

    @torch.no_grad()
    def run_window(
        self,
        conditioning: Conditioning,
        prompt: torch.Tensor | None,
        totals: Sequence[int],
        keys: torch.Tensor,
    ) -> torch.Tensor:
        """Codes (batch, codebooks, max(totals)) for one window, prompt frames included.

        `prompt` (batch, codebooks, P) holds frames the window continues from; row b
        ends after totals[b] frames (prompt included), exactly as if it ran alone.
        """
        batch = len(totals)
        prompt_frames = 0 if prompt is None else int(prompt.shape[2])
        longest = max(totals)
        if longest > self.window_frames or prompt_frames >= min(totals):
            raise ValueError(f"window of {longest} frames with a {prompt_frames}-frame prompt")
        session = self._session(batch, int(conditioning.states.shape[1]))
        self._load(session, conditioning, prompt, totals, keys)
        self._prefill(session, prompt_frames + 1)
        for position in range(prompt_frames + 1, longest + self.delay_span - 1):
            attend = position + 1
            if self.bucketed:
                attend = bucket_for(attend, self.cache_length)
            if session.graphs is not None:
                session.graphs.replay(attend)
                self.steps.graphed += 1
            else:
                self._step(session, attend)
                self.steps.eager += 1
        index = torch.tensor(self.delays, device=self.device)[:, None] + 1
        index = index + torch.arange(longest, device=self.device)[None, :]
        return session.sequence.gather(2, index.expand(batch, -1, -1))

    def _session(self, batch: int, text_tokens: int) -> _Session:
        capacity = max(32, 1 << (text_tokens - 1).bit_length())
        key = (batch, capacity)
        session = self._sessions.get(key)
        if session is not None:
            self._sessions.move_to_end(key)
            return session
        while len(self._sessions) >= SESSIONS_KEPT:
            self._sessions.popitem(last=False)
        session = _Session(self, batch, capacity)
        if self.use_graphs:
            session.graphs = GraphedSteps.capture(
                lambda attend: self._step(session, attend),
                buckets_up_to(self.cache_length),
                reset=lambda: _zero(session.position),
            )
        self._sessions[key] = session
        return session

    def _load(
        self,
        session: _Session,
        conditioning: Conditioning,
        prompt: torch.Tensor | None,
        totals: Sequence[int],
        keys: torch.Tensor,
    ) -> None:
        batch, tokens = conditioning.mask.shape
        session.cross_keys.zero_()
        session.cross_values.zero_()
        # Unconditional rows see zero states: their keys and values are zero, so
        # attending to every position gives the zero output transformers computes,
        # without a fully masked row (which would be NaN).
        session.cross_bias.zero_()
        session.cross_bias[:batch].fill_(float("-inf"))
        session.cross_bias[:batch, 0, 0, :tokens].masked_fill_(conditioning.mask, 0.0)
        states = conditioning.states.to(self.dtype)
        for n, layer in enumerate(self.layers):
            kv = F.linear(states, layer.cross_kv).view(batch, tokens, 2, self.heads, self.head_dim)
            kv = kv.permute(2, 0, 3, 1, 4)
            session.cross_keys[n, :batch, :, :tokens] = kv[0]
            session.cross_values[n, :batch, :, :tokens] = kv[1]
        session.forced.copy_(self._forced(batch, prompt, totals))
        session.sequence.copy_(session.forced.clamp(min=0))
        session.row_keys.copy_(keys)

    def _forced(
        self, batch: int, prompt: torch.Tensor | None, totals: Sequence[int]
    ) -> torch.Tensor:
        """The delay pattern: per position, the token a codebook must hold, or -1 to sample.

        Codebook k at position p holds frame p - 1 - delay[k]; before frame 0 and
        after the row's last frame it holds the pad token, inside the prompt the
        prompt's code.
        """
        length = self.cache_length + 1
        delays = torch.tensor(self.delays, device=self.device)
        frame = torch.arange(length, device=self.device)[None, None, :] - 1 - delays[None, :, None]
        frame = frame.expand(batch, -1, -1)
        ends = torch.tensor(list(totals), device=self.device)[:, None, None]
        forced = torch.full_like(frame, -1)
        forced[(frame < 0) | (frame >= ends)] = self.pad_token
        if prompt is not None:
            inside = (frame >= 0) & (frame < prompt.shape[2])
            known = prompt.to(self.device).gather(2, frame.clamp(0, prompt.shape[2] - 1))
            forced = torch.where(inside, known, forced)
        return forced

    def _prefill(self, session: _Session, length: int) -> None:
        positions = torch.arange(length, device=self.device)
        tokens = session.sequence[:, :, :length]
        session.position.fill_(length - 1)
        self._advance(session, tokens, positions, length)

    def _step(self, session: _Session, attend: int) -> None:
        tokens = session.sequence.index_select(2, session.position)
        self._advance(session, tokens, session.position, attend)

    def _advance(
        self, session: _Session, tokens: torch.Tensor, positions: torch.Tensor, attend: int
    ) -> None:
        """Feed `tokens` at `positions`, then sample and write the next position."""
        if self.guided:
            tokens = torch.cat([tokens, tokens])
        logits = self._logits(session, tokens, positions, attend)
        following = session.position + 1
        sampled = pick_tokens(
            guide(logits, self.sampling.guidance_scale),
            session.row_keys,
            following,
            self.vocab_salts,
            top_k=self.sampling.top_k,
            temperature=self.sampling.temperature,
        )
        forced = session.forced.index_select(2, following).squeeze(2)
        chosen = torch.where(forced < 0, sampled, forced)
        session.sequence.index_copy_(2, following, chosen.unsqueeze(2))
        session.position.add_(1)

    def _logits(
        self, session: _Session, tokens: torch.Tensor, positions: torch.Tensor, attend: int
    ) -> torch.Tensor:
        """Tokens (rows, codebooks, T) in, logits (rows, codebooks, vocab) of the last one out."""
        rows, _, steps = tokens.shape
        x = self.embeddings[self.codebook_index[None, :, None], tokens].sum(dim=1)
        x = x + self.positions.index_select(0, positions)[None]
        keys_seen = torch.arange(attend, device=self.device)
        later = (keys_seen[None, :] > positions[:, None])[None, None]
        causal = torch.zeros(later.shape, device=self.device, dtype=self.dtype)
        causal = causal.masked_fill(later, float("-inf"))
        for n, layer in enumerate(self.layers):
            h = _norm(x, layer.norm_self)
            qkv = F.linear(h, layer.qkv).view(rows, steps, 3, self.heads, self.head_dim)
            q, k, v = qkv.permute(2, 0, 3, 1, 4)
            session.keys_cache[n].index_copy_(2, positions, k)
            session.values_cache[n].index_copy_(2, positions, v)
            keys = session.keys_cache[n, :, :, :attend]
            values = session.values_cache[n, :, :, :attend]
            a = F.scaled_dot_product_attention(q, keys, values, attn_mask=causal)
            x = x + F.linear(a.transpose(1, 2).reshape(rows, steps, self.hidden), layer.out)
            h = _norm(x, layer.norm_cross)
            q = F.linear(h, layer.cross_q).view(rows, steps, self.heads, self.head_dim)
            a = F.scaled_dot_product_attention(
                q.transpose(1, 2),
                session.cross_keys[n],
                session.cross_values[n],
                attn_mask=session.cross_bias,
            )
            x = x + F.linear(a.transpose(1, 2).reshape(rows, steps, self.hidden), layer.cross_out)
            h = _norm(x, layer.norm_ff)
            x = x + F.linear(self.activation(F.linear(h, layer.fc1)), layer.fc2)
        last = _norm(x[:, -1], self.final_norm)
        return F.linear(last, self.heads_weight).view(rows, self.codebooks, self.vocab)


def _zero(tensor: torch.Tensor) -> None:
    tensor.zero_()


def _norm(x: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
    return F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)
