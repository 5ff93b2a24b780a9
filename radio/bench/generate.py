"""`radio bench generate`: a MusicGen size and batch sizes in, audio-seconds per wall-second out.

Builds the real architecture of the chosen size with random weights (the sizes are
public in the checkpoints' configs, so nothing is downloaded: speed does not depend
on what the weights say) and times, on the same inputs, our generator and stock
`model.generate`, both with classifier-free guidance and top-k sampling, both from
token ids to waveform. Prints a table and saves JSON.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from radio.bench.report import output_option, save
from radio.generators import GenerationRequest
from radio.settings import DTYPES, Settings

# Decoder sizes of facebook/musicgen-{small,medium,large}; all use t5-base text
# features and the 32 kHz EnCodec. "tiny" is a smoke-test size for CPUs.
DECODERS: dict[str, dict[str, Any]] = {
    "tiny": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4},
    "small": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16},
    "medium": {"hidden_size": 1536, "num_hidden_layers": 48, "num_attention_heads": 24},
    "large": {"hidden_size": 2048, "num_hidden_layers": 48, "num_attention_heads": 32},
}
PAD = 2048
TEXT_TOKENS = 24  # a typical station prompt's length in T5 tokens
TARGET_SPEEDUP = 3.0
TARGET_PER_STATION = 5.0


def architecture(size: str) -> Any:
    """The MusicgenConfig of a public checkpoint size (random weights come from it)."""
    from radio.generators.musicgen import load_transformers

    hf = load_transformers()
    decoder = DECODERS[size]
    return hf.MusicgenConfig(
        text_encoder=hf.T5Config(  # t5-base
            vocab_size=32128, d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12
        ),
        audio_encoder=hf.EncodecConfig(  # encodec_32khz
            sampling_rate=32_000,
            upsampling_ratios=[8, 5, 4, 4],
            target_bandwidths=[2.2],
            num_filters=64,
            codebook_size=2048,
            use_causal_conv=False,
            normalize=False,
            use_conv_shortcut=False,
        ),
        decoder=hf.MusicgenDecoderConfig(
            vocab_size=2048,
            num_codebooks=4,
            ffn_dim=4 * decoder["hidden_size"],
            pad_token_id=PAD,
            bos_token_id=PAD,
            **decoder,
        ),
    )


class _FixedTokens:
    """Stands in for the tokenizer so both paths see the very same token ids."""

    def __init__(self, input_ids: Any) -> None:
        self.input_ids = input_ids

    def __call__(self, texts: list[str], **_: Any) -> dict[str, Any]:
        import torch

        ids = self.input_ids[: len(texts)]
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


@click.command("generate")
@click.option("--size", type=click.Choice(list(DECODERS)), default="small", show_default=True)
@click.option("--batch-sizes", default="1,8,15", show_default=True, help="Stations per batch.")
@click.option(
    "--seconds",
    type=click.FloatRange(0.5, 30.0),
    default=30.0,
    show_default=True,
    help="Audio per request: one MusicGen window at most.",
)
@click.option("--device", default=None, help="cuda, cuda:1 or cpu; default: CUDA when present.")
@click.option(
    "--dtype",
    type=click.Choice(DTYPES),
    default=None,
    help="Default: bfloat16 on CUDA, float32 on CPU.",
)
@click.option("--guidance-scale", type=float, default=Settings.guidance_scale, show_default=True)
@click.option("--top-k", type=int, default=Settings.top_k, show_default=True)
@click.option("--stock/--no-stock", default=True, help="Also time transformers' generate.")
@click.option("--cuda-graphs/--no-cuda-graphs", default=True, show_default=True)
@output_option("generate")
def generate_command(
    size: str,
    batch_sizes: str,
    seconds: float,
    device: str | None,
    dtype: str | None,
    guidance_scale: float,
    top_k: int,
    stock: bool,
    cuda_graphs: bool,
    output: Path,
) -> None:
    """Audio-seconds generated per wall-second: our MusicGen path against stock generate."""
    try:
        report = run_benchmark(
            size=size,
            batches=[int(part) for part in batch_sizes.split(",") if part.strip()],
            seconds=seconds,
            device=device,
            dtype=dtype,
            guidance_scale=guidance_scale,
            top_k=top_k,
            stock=stock,
            cuda_graphs=cuda_graphs,
            progress=lambda line: click.echo(line, err=True),
        )
    except ImportError as exc:
        raise click.ClickException(
            f"{exc}: install the extra with pip install -e '.[musicgen]'"
        ) from exc
    save(report, output, table(report))


def run_benchmark(
    *,
    size: str,
    batches: list[int],
    seconds: float,
    device: str | None = None,
    dtype: str | None = None,
    guidance_scale: float = Settings.guidance_scale,
    top_k: int = Settings.top_k,
    stock: bool = True,
    cuda_graphs: bool = True,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Time both paths at each batch size; the report is what the JSON file holds."""
    import torch

    from radio.generators.musicgen import (
        LoadedMusicgen,
        MusicgenGenerator,
        MusicgenSettings,
        load_transformers,
        resolve_device,
        resolve_dtype,
    )

    hf = load_transformers()

    where = resolve_device(device)
    precision = resolve_dtype(dtype, where)
    progress(f"building musicgen-{size} with random weights on {where} ({precision})")
    torch.manual_seed(0)
    with torch.device(where):
        model = hf.MusicgenForConditionalGeneration(architecture(size)).eval()
        for layer in model.audio_encoder.quantizer.layers:
            layer.codebook.embed.normal_()
    for part in ("text_encoder", "enc_to_dec_proj", "decoder"):
        if hasattr(model, part):
            getattr(model, part).to(precision)
    config = model.generation_config
    config.pad_token_id = config.decoder_start_token_id = config.bos_token_id = PAD
    largest = max(batches)
    input_ids = torch.randint(2, 32128, (largest, TEXT_TOKENS), device=where)
    generator = MusicgenGenerator(
        MusicgenSettings(
            model=f"random musicgen-{size}",
            guidance_scale=guidance_scale,
            top_k=top_k,
            window_seconds=30.0,
            max_batch=largest,
            cuda_graphs=cuda_graphs,
        ),
        loaded=LoadedMusicgen(model, _FixedTokens(input_ids), where, precision, None),
    )
    frames = round(seconds * generator.frame_rate)

    def ours(batch: int, length: float) -> None:
        requests = [
            GenerationRequest(f"station-{n}", "bench", "prompt", seed=n, seconds=length)
            for n in range(batch)
        ]
        generator.generate(requests)

    def theirs(batch: int, length: float) -> None:
        ids = input_ids[:batch]
        model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            do_sample=True,
            guidance_scale=guidance_scale,
            top_k=top_k,
            max_new_tokens=round(length * generator.frame_rate) + 3,  # + delay pattern
        )

    results = []
    for batch in batches:
        row: dict[str, Any] = {"batch": batch, "ours": _time(ours, batch, seconds, where)}
        progress(f"batch {batch}: ours {row['ours']['per_station']:.2f} s/s per station")
        if stock:
            torch.manual_seed(0)
            row["stock"] = _time(theirs, batch, seconds, where)
            row["speedup"] = row["stock"]["wall_s"] / row["ours"]["wall_s"]
            progress(f"batch {batch}: stock {row['stock']['per_station']:.2f} s/s per station")
        results.append(row)
    generator.close()
    return {
        "size": size,
        "device": str(where),
        "device_name": _device_name(where),
        "dtype": str(precision).removeprefix("torch."),
        "seconds": seconds,
        "frames": frames,
        "guidance_scale": guidance_scale,
        "top_k": top_k,
        "cuda_graphs": cuda_graphs and where.type == "cuda",
        "torch": torch.__version__,
        "transformers": hf.__version__,
        "results": results,
        "targets": {
            "speedup": TARGET_SPEEDUP,
            "per_station": TARGET_PER_STATION,
            "batch": 15,
            "where": "one H100, musicgen-small, guidance on",
        },
        "meets_targets": _meets_targets(size, results),
    }


def _time(
    run: Callable[[int, float], None], batch: int, seconds: float, where: Any
) -> dict[str, float]:
    import torch

    def sync() -> None:
        if where.type == "cuda":
            torch.cuda.synchronize(where)

    # A short warm-up pays one-off costs (kernel selection, graph capture) outside the timing.
    started = time.perf_counter()
    run(batch, min(1.0, seconds))
    sync()
    warmup = time.perf_counter() - started
    started = time.perf_counter()
    run(batch, seconds)
    sync()
    wall = time.perf_counter() - started
    return {
        "wall_s": wall,
        "warmup_s": warmup,
        "audio_seconds_per_second": batch * seconds / wall,
        "per_station": seconds / wall,
    }


def _meets_targets(size: str, results: list[dict[str, Any]]) -> bool | None:
    full = next((row for row in results if row["batch"] == 15 and "stock" in row), None)
    if size != "small" or full is None:
        return None
    return bool(
        full["speedup"] >= TARGET_SPEEDUP and full["ours"]["per_station"] >= TARGET_PER_STATION
    )


def _device_name(where: Any) -> str:
    import torch

    if where.type == "cuda":
        return str(torch.cuda.get_device_name(where))
    return f"{platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)"


def table(report: dict[str, Any]) -> list[str]:
    """The report as lines for the terminal."""
    lines = [
        f"musicgen-{report['size']} on {report['device_name']} ({report['dtype']}), "
        f"{report['seconds']:g} s per station, guidance {report['guidance_scale']:g}, "
        f"top-k {report['top_k']}",
        f"{'batch':>5}  {'ours s/s':>9}  {'per station':>11}  {'stock s/s':>9}  {'speedup':>7}",
    ]
    for row in report["results"]:
        stock = row.get("stock")
        lines.append(
            f"{row['batch']:>5}  {row['ours']['audio_seconds_per_second']:>9.2f}  "
            f"{row['ours']['per_station']:>11.2f}  "
            + (
                f"{stock['audio_seconds_per_second']:>9.2f}  {row['speedup']:>6.2f}x"
                if stock
                else f"{'-':>9}  {'-':>7}"
            )
        )
    if report["meets_targets"] is not None:
        lines.append(
            f"targets (>= 3x stock, >= 5 s/s per station at 15): {report['meets_targets']}"
        )
    return lines
