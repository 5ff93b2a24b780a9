"""`radio bench generate`: a MusicGen size and batch sizes in, audio-seconds per wall-second out.

Builds the real architecture of the chosen size with random weights (the sizes are
public in the checkpoints' configs, so nothing is downloaded: speed does not depend
on what the weights say) and times, on the same inputs, our generator and stock
`model.generate`, both with classifier-free guidance and top-k sampling, both from
token ids to waveform. Beside the speeds it records what a GPU run has to show: the
peak GPU memory of each path, the wait from nothing to a first window of audio, how
many of our steps replayed CUDA graphs, the dtype the decoder's weights really have
and, with --check, that our loop agrees with stock generate. Prints a table and
saves JSON, rewritten after every figure so that a run cut short keeps what it measured.

`python -m radio.bench.generate` runs it without the rest of the CLI, whose imports
(the server's encoders, the catalog...) a bare GPU image does not have.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from radio.bench.report import output_option, save, write_json
from radio.generators import GenerationRequest
from radio.settings import DTYPES, Settings

if TYPE_CHECKING:
    from radio.generators.musicgen import MusicgenGenerator

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
# What one H100-class GPU must make at TARGET_BATCH stations, guidance on: audio
# seconds per wall second by size, and for musicgen-small TARGET_SPEEDUP over stock.
TARGET_BATCH = 15
TARGETS = {"small": 75.0, "medium": 30.0, "large": 15.0}
TARGET_SPEEDUP = 3.0
# --check: stock generate is slow (and slower in float32), and greedy paths that part
# ways do so early; 5 s of codes shows it. The seeded request is checked alone and as
# the middle one of SEED_CHECK_BATCH.
CHECK_FRAMES = 250
SEED_CHECK_BATCH = 3
GIB = 2**30


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


def build_model(size: str, where: Any, precision: Any) -> Any:
    """Random weights of `size` on `where`, cast as the generator's loader casts a checkpoint."""
    import torch

    from radio.generators.musicgen import load_transformers
    from radio.generators.musicgen.generator import cast_for_decoding

    hf = load_transformers()
    torch.manual_seed(0)
    with torch.device(where):
        model = hf.MusicgenForConditionalGeneration(architecture(size)).eval()
        for layer in model.audio_encoder.quantizer.layers:
            layer.codebook.embed.normal_()
    cast_for_decoding(model, precision)
    config = model.generation_config
    config.pad_token_id = config.decoder_start_token_id = config.bos_token_id = PAD
    return model


class _FixedTokens:
    """Stands in for the tokenizer so both paths see the very same token ids.

    The prompt of row n (`prompt(n)`) is row n of `input_ids` wherever it sits in a
    batch, as a real tokenizer's output depends on the text alone.
    """

    def __init__(self, input_ids: Any) -> None:
        self.input_ids = input_ids
        self._rows = {self.prompt(n): n for n in range(len(input_ids))}

    @staticmethod
    def prompt(row: int) -> str:
        return f"bench prompt {row}"

    def requests(self, rows: list[int], seconds: float) -> list[GenerationRequest]:
        """Station n asks for row n's prompt with seed n."""
        return [
            GenerationRequest(f"station-{n}", "bench", self.prompt(n), seed=n, seconds=seconds)
            for n in rows
        ]

    def __call__(self, texts: list[str], **_: Any) -> dict[str, Any]:
        import torch

        ids = self.input_ids[[self._rows[text] for text in texts]]
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
@click.option(
    "--check/--no-check",
    default=False,
    help="Before timing: our loop against stock generate, greedily in float32, and one "
    "seeded request alone and inside a batch.",
)
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
    check: bool,
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
            check=check,
            progress=lambda line: click.echo(line, err=True),
            on_update=lambda partial: write_json(partial, output),
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
    check: bool = False,
    progress: Callable[[str], None] = lambda _: None,
    on_update: Callable[[dict[str, Any]], object] = lambda _: None,
) -> dict[str, Any]:
    """Time both paths at each batch size; the report is what the JSON file holds.

    `on_update` gets the report so far after each figure.
    """
    import torch

    from radio.generators.musicgen import (
        LoadedMusicgen,
        MusicgenGenerator,
        MusicgenSettings,
        load_transformers,
        resolve_device,
        resolve_dtype,
    )

    where = resolve_device(device)
    precision = resolve_dtype(dtype, where)
    report: dict[str, Any] = {
        "size": size,
        "device": str(where),
        "device_name": _device_name(where),
        "dtype": str(precision).removeprefix("torch."),
        "seconds": seconds,
        "guidance_scale": guidance_scale,
        "top_k": top_k,
        "cuda_graphs": cuda_graphs and where.type == "cuda",  # asked; graph_steps say if used
        "torch": torch.__version__,
        "transformers": load_transformers().__version__,
        "results": [],
        "targets": {
            "batch": TARGET_BATCH,
            "audio_seconds_per_second": TARGETS.get(size),
            "speedup": TARGET_SPEEDUP if size == "small" else None,
            "where": "one H100-class GPU, guidance on",
        },
        "meets_targets": None,
    }

    def publish() -> None:
        report["meets_targets"] = _meets_targets(size, report["results"])
        on_update(report)

    progress(f"building musicgen-{size} with random weights on {where} ({precision})")
    started = time.perf_counter()
    model = build_model(size, where, precision)
    largest = max(batches)
    tokens = _FixedTokens(
        torch.randint(2, 32128, (max(largest, SEED_CHECK_BATCH), TEXT_TOKENS), device=where)
    )
    generator = MusicgenGenerator(
        MusicgenSettings(
            model=f"random musicgen-{size}",
            guidance_scale=guidance_scale,
            top_k=top_k,
            window_seconds=30.0,
            max_batch=max(largest, SEED_CHECK_BATCH),
            cuda_graphs=cuda_graphs,
        ),
        loaded=LoadedMusicgen(model, tokens, where, precision, None),
    )
    _sync(where)
    built = time.perf_counter() - started
    # What the decoder really holds, whatever was asked: the check that bf16 was used.
    report["decoder_parameter_dtype"] = str(next(model.decoder.parameters()).dtype).removeprefix(
        "torch."
    )
    # The model and our decoder's fused copies of its projections, before any cache.
    report["loaded_memory_gib"] = (
        torch.cuda.memory_allocated(where) / GIB if where.type == "cuda" else None
    )
    report["frames"] = frames = round(seconds * generator.frame_rate)
    publish()

    def ours(batch: int, length: float) -> None:
        generator.generate(tokens.requests(list(range(batch)), length))

    def theirs(batch: int, length: float) -> None:
        ids = tokens.input_ids[:batch]
        model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            do_sample=True,
            guidance_scale=guidance_scale,
            top_k=top_k,
            max_new_tokens=round(length * generator.frame_rate) + 3,  # + delay pattern
        )

    # A radio's first wait: weights in place, the graphs of its batch size captured and
    # a whole first request made. Random weights are built on the device, so reading a
    # checkpoint from disk is not in it.
    ours(batches[0], seconds)
    _sync(where)
    report["cold_start"] = {
        "batch": batches[0],
        "build_s": built,
        "first_audio_s": time.perf_counter() - started,
    }
    progress(f"first audio {report['cold_start']['first_audio_s']:.1f} s after a cold start")
    publish()
    if check:
        report["check"] = _check(model, size, generator, tokens, frames, guidance_scale)
        progress(f"check: {_check_line(report['check'])}")
        publish()

    for batch in batches:
        # close() only drops cached sessions (caches, graphs); the generator stays
        # usable. Without it one path's peak memory would hold another's leftovers.
        generator.close()
        steps = replace(generator.steps)
        row: dict[str, Any] = {"batch": batch, "ours": _time(ours, batch, seconds, where)}
        row["ours"]["graph_steps"] = generator.steps.graphed - steps.graphed
        row["ours"]["eager_steps"] = generator.steps.eager - steps.eager
        report["results"].append(row)
        publish()
        progress(f"batch {batch}: ours {row['ours']['per_station']:.2f} s/s per station")
        if stock:
            generator.close()
            torch.manual_seed(0)
            row["stock"] = _time(theirs, batch, seconds, where)
            row["speedup"] = row["stock"]["wall_s"] / row["ours"]["wall_s"]
            publish()
            progress(f"batch {batch}: stock {row['stock']['per_station']:.2f} s/s per station")
    generator.close()
    return report


def _check(
    model: Any,  # the timed one
    size: str,
    generator: MusicgenGenerator,
    tokens: _FixedTokens,
    frames: int,
    guidance_scale: float,
) -> dict[str, Any]:
    """Our loop against stock generate, then a seeded request alone and inside a batch.

    The first in float32, on a copy of the architecture of its own unless the timed
    model is float32 already (greedy paths in half precision may legitimately part ways
    at a near tie), with our static cache as long as the generator's window, so the
    CUDA graphs' buckets are the ones timed. The second through the generator as
    timed: its dtype, its graphs, one set per batch size.
    """
    import numpy as np
    import torch

    from radio.generators.musicgen.agreement import greedy_against_stock
    from radio.generators.musicgen.render import decode_tracks

    where = next(model.decoder.parameters()).device
    own = next(model.decoder.parameters()).dtype != torch.float32
    exact = build_model(size, where, torch.float32) if own else model
    ids = tokens.input_ids[:2]
    greedy_frames = min(CHECK_FRAMES, frames)
    agreement = greedy_against_stock(
        exact,
        ids,
        torch.ones_like(ids),
        new_frames=greedy_frames,
        guidance_scale=guidance_scale,
        window_frames=round(generator.settings.window_seconds * generator.frame_rate),
    )
    # Same codes give the same waveform to rounding; one different token changes it
    # by a good part of its peak.
    peak = max(float(np.abs(audio).max()) for audio in agreement.stock)
    differs_at = agreement.first_differing_frame(1e-5 * max(1.0, peak))
    greedy = {
        "dtype": "float32",
        "rows": len(ids),
        "frames": greedy_frames,
        "max_difference": agreement.max_difference(),
        "first_differing_frame": differs_at,
        "same_audio": differs_at is None,
    }
    del exact, agreement
    if own and where.type == "cuda":
        torch.cuda.empty_cache()

    seconds = frames / generator.frame_rate
    alone = generator.render(tokens.requests([0], seconds))[0]
    batch = list(range(1, SEED_CHECK_BATCH))
    batch.insert(len(batch) // 2, 0)
    together = generator.render(tokens.requests(batch, seconds))
    row = batch.index(0)
    inside = together[row]
    # The codes are what a seed decides: a token that parts changes the rest of the
    # track. With the same codes the audio may still differ by rounding, as the codec
    # decodes tracks of a length together, as the generator does.
    parted = torch.nonzero((alone != inside).any(dim=0)).flatten()
    heard = [
        decode_tracks(model, [alone], generator.channels)[0],
        decode_tracks(model, together, generator.channels)[row],
    ]
    seeded = {
        "dtype": str(generator.parameters["dtype"]),
        "batch": len(batch),
        "frames": frames,
        "same_tokens": parted.numel() == 0,
        "first_differing_frame": int(parted[0]) if parted.numel() else None,
        "differing_frames": int(parted.numel()),
        "peak": float(np.abs(heard[0]).max()),
        "max_difference": float(np.abs(heard[0] - heard[1]).max()),
    }
    return {"greedy_against_stock": greedy, "seed_alone_and_in_batch": seeded}


def _check_line(check: dict[str, Any]) -> str:
    greedy, seeded = check["greedy_against_stock"], check["seed_alone_and_in_batch"]

    same = (
        "same audio"
        if greedy["same_audio"]
        else f"DIFFERS from frame {greedy['first_differing_frame']}"
    )
    if seeded["same_tokens"]:
        tokens = "same tokens"
    else:
        tokens = (
            f"tokens PART at frame {seeded['first_differing_frame']} "
            f"({seeded['differing_frames']} frames differ)"
        )
    return (
        f"greedy {greedy['dtype']} against stock over {greedy['frames']} frames: {same}; "
        f"seed alone and in a batch of {seeded['batch']} ({seeded['dtype']}, "
        f"{seeded['frames']} frames): {tokens}, audio within {seeded['max_difference']:.2g} "
        f"of a {seeded['peak']:.2g} peak"
    )


def _sync(where: Any) -> None:
    import torch

    if where.type == "cuda":
        torch.cuda.synchronize(where)


def _time(
    run: Callable[[int, float], None], batch: int, seconds: float, where: Any
) -> dict[str, Any]:
    import torch

    cuda = where.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(where)
    # A short warm-up pays one-off costs (kernel selection, graph capture) outside the timing.
    started = time.perf_counter()
    run(batch, min(1.0, seconds))
    _sync(where)
    warmup = time.perf_counter() - started
    started = time.perf_counter()
    run(batch, seconds)
    _sync(where)
    wall = time.perf_counter() - started
    return {
        "wall_s": wall,
        "warmup_s": warmup,
        "audio_seconds_per_second": batch * seconds / wall,
        "per_station": seconds / wall,
        # Weights included, warm-up (graph capture) included.
        "peak_memory_gib": torch.cuda.max_memory_allocated(where) / GIB if cuda else None,
    }


def _meets_targets(size: str, results: list[dict[str, Any]]) -> bool | None:
    """None where there is no target or no run at TARGET_BATCH (with stock, for small)."""
    wanted = TARGETS.get(size)
    row = next((row for row in results if row["batch"] == TARGET_BATCH), None)
    if wanted is None or row is None:
        return None
    met = row["ours"]["audio_seconds_per_second"] >= wanted
    if size == "small":
        if "stock" not in row:
            return None
        met = met and row["speedup"] >= TARGET_SPEEDUP
    return bool(met)


def _device_name(where: Any) -> str:
    import torch

    if where.type == "cuda":
        return str(torch.cuda.get_device_name(where))
    return f"{platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)"


def table(report: dict[str, Any]) -> list[str]:
    """The report as lines for the terminal."""
    lines = [
        f"musicgen-{report['size']} on {report['device_name']} ({report['dtype']}, decoder "
        f"weights {report.get('decoder_parameter_dtype', '?')}), {report['seconds']:g} s per "
        f"station, guidance {report['guidance_scale']:g}, top-k {report['top_k']}",
    ]
    cold = report.get("cold_start")
    if cold:
        loaded = report["loaded_memory_gib"]
        lines.append(
            f"cold start at {cold['batch']} stations: built in {cold['build_s']:.1f} s"
            + (f" ({loaded:.1f} GiB)" if loaded is not None else "")
            + f", first audio after {cold['first_audio_s']:.1f} s "
            "(random weights, no checkpoint read)"
        )
    if "check" in report:
        lines.append(f"check: {_check_line(report['check'])}")
    lines.append(
        f"{'batch':>5}  {'ours s/s':>9}  {'per station':>11}  {'stock s/s':>9}  {'speedup':>7}  "
        f"{'ours GiB':>8}  {'stock GiB':>9}  {'graphed steps':>13}"
    )
    for row in report["results"]:
        ours, stock = row["ours"], row.get("stock")
        steps = ours["graph_steps"] + ours["eager_steps"]
        lines.append(
            f"{row['batch']:>5}  {ours['audio_seconds_per_second']:>9.2f}  "
            f"{ours['per_station']:>11.2f}  "
            + (
                f"{stock['audio_seconds_per_second']:>9.2f}  {row['speedup']:>6.2f}x"
                if stock
                else f"{'-':>9}  {'-':>7}"
            )
            + f"  {_gib(ours):>8}  {_gib(stock):>9}  {ours['graph_steps']:>6}/{steps:<6}"
        )
    targets = report["targets"]
    if targets["audio_seconds_per_second"] is not None:
        rate, batch = targets["audio_seconds_per_second"], targets["batch"]
        wanted = f">= {rate:g} s/s at {batch} stations ({rate / batch:g}x real time each)"
        if targets["speedup"] is not None:
            wanted += f", >= {targets['speedup']:g}x stock"
        verdict = {True: "met", False: "NOT met", None: "not measured"}[report["meets_targets"]]
        lines.append(f"targets ({wanted}): {verdict}")
    return lines


def _gib(timing: dict[str, Any] | None) -> str:
    if timing is None or timing["peak_memory_gib"] is None:
        return "-"
    return f"{timing['peak_memory_gib']:.1f}"


if __name__ == "__main__":
    generate_command(prog_name="radio bench generate")
