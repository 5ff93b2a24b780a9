"""A tiny random-weight MusicGen, saved like a real checkpoint, for CPU tests.

Built in-process from a config (the real architecture, shrunk) with a tokenizer
trained here on a few prompts, then written with save_pretrained so the tests
exercise the same loading code as facebook/musicgen-small. Nothing is downloaded.
The codec keeps MusicGen's 32 kHz rate and 640-sample hop (50 frames a second),
so seconds map to frames exactly as they do for the real model.
"""

from __future__ import annotations

import json
from pathlib import Path

PROMPTS = (
    "lofi hip hop with dusty drums, warm rhodes piano and vinyl crackle",
    "uplifting trance with soaring supersaw synths at 138 bpm",
    "smooth jazz trio with brushed drums and walking upright bass",
    "dark ambient drone with distant choirs and slow evolving pads",
    "funky disco groove with slap bass, strings and four on the floor",
)
CODEBOOK_SIZE = 64


def build_tiny_musicgen(folder: Path, *, stereo: bool = False) -> Path:
    """Write a tiny MusicGen checkpoint (model, tokenizer, processor) into `folder`."""
    import torch
    from transformers import (
        EncodecConfig,
        EncodecFeatureExtractor,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        MusicgenProcessor,
        T5Config,
        T5Tokenizer,
    )
    from transformers.utils import logging as hf_logging

    # Silences the pad id (= codebook size) warning: expected, as in the real checkpoints.
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    tokenizer = T5Tokenizer(vocab=_train_vocab(), extra_ids=0)
    text = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_kv=16,
        d_ff=64,
        num_layers=1,
        num_heads=2,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    codec = EncodecConfig(
        sampling_rate=32_000,
        upsampling_ratios=[8, 5, 4, 4],
        # 4 codebooks of 6 bits at 50 Hz; a stereo decoder's 8 codebooks are 4 per channel.
        target_bandwidths=[1.2],
        codebook_size=CODEBOOK_SIZE,
        num_filters=4,
        hidden_size=16,
        num_lstm_layers=1,
        use_causal_conv=False,
        use_conv_shortcut=False,
    )
    decoder = MusicgenDecoderConfig(
        vocab_size=CODEBOOK_SIZE,
        hidden_size=32,
        ffn_dim=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_codebooks=8 if stereo else 4,
        audio_channels=2 if stereo else 1,
        pad_token_id=CODEBOOK_SIZE,
        bos_token_id=CODEBOOK_SIZE,
    )
    torch.manual_seed(1234)
    model = MusicgenForConditionalGeneration(
        MusicgenConfig(text_encoder=text, audio_encoder=codec, decoder=decoder)
    )
    # EnCodec's codebooks are buffers that start at zero: random ones make the audio
    # depend on the codes, so joins and seeds show up in the waveform.
    for layer in model.audio_encoder.quantizer.layers:
        layer.codebook.embed.normal_(0.0, 1.0)
    generation = model.generation_config
    generation.decoder_start_token_id = CODEBOOK_SIZE
    generation.pad_token_id = CODEBOOK_SIZE
    generation.bos_token_id = CODEBOOK_SIZE
    generation.do_sample = True
    generation.guidance_scale = 3.0
    generation.top_k = 50
    generation.max_length = 1500
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    processor = MusicgenProcessor(
        feature_extractor=EncodecFeatureExtractor(feature_size=1, sampling_rate=32_000),
        tokenizer=tokenizer,
    )
    processor.save_pretrained(folder)
    return folder


def _train_vocab() -> list[tuple[str, float]]:
    """A unigram vocabulary (piece, log-probability) trained on the prompts."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=120, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>"
    )
    tokenizer.train_from_iterator(list(PROMPTS) * 4, trainer)
    vocab = json.loads(tokenizer.to_str())["model"]["vocab"]
    return [(str(piece), float(score)) for piece, score in vocab]
