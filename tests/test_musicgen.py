"""MusicGen generator with a tiny random-weight checkpoint built in-process.

What must hold whatever the weights: our decoding loop picks the same tokens as
transformers' own generate, a seeded request gives the same audio alone or inside
any batch, long tracks are stitched without seams, and failures leave as
GeneratorError (halving the batch first on CUDA out-of-memory).

Every test runs on the CPU, also on a machine with a GPU; the ones marked `gpu` (or
with a `cuda` parameter) run on CUDA and are skipped without it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from radio.errors import ConfigError, GeneratorError, GeneratorUnavailable  # noqa: E402
from radio.generators import GenerationRequest, Generator  # noqa: E402
from radio.generators.musicgen import (  # noqa: E402
    MusicgenGenerator,
    MusicgenSettings,
    load_musicgen,
    resolve_dtype,
)
from radio.generators.musicgen.agreement import greedy_against_stock  # noqa: E402
from radio.generators.musicgen.decode import FastDecoder, Sampling  # noqa: E402
from radio.generators.musicgen.render import (  # noqa: E402
    Windows,
    encode_text,
    render_codes,
)
from radio.generators.musicgen.sampling import guide, pick_tokens, row_keys, vocab_hashes  # noqa: E402
from tests.musicgen_tiny import build_tiny_musicgen  # noqa: E402

RATE = 32000
HOP = 640  # samples per codec frame: 50 frames a second
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
ON_CUDA = [pytest.mark.gpu, cuda]  # the marks of a test's CUDA parameter


@pytest.fixture(scope="session", autouse=True)
def one_thread() -> Iterator[None]:
    # The tiny model is all overhead; on shared 2-core machines a second torch
    # thread only spins against the other test processes.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_musicgen(tmp_path_factory.mktemp("musicgen-tiny"))


@pytest.fixture(scope="session")
def tiny_stereo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_musicgen(tmp_path_factory.mktemp("musicgen-tiny-stereo"), stereo=True)


def short_windows(tiny: Path, device: str) -> MusicgenGenerator:
    """Two-second windows with half a second of overlap, so short tracks cross joins."""
    return MusicgenGenerator(
        MusicgenSettings(
            model=str(tiny), device=device, top_k=50, window_seconds=2.0, overlap_seconds=0.5
        )
    )


@pytest.fixture(scope="module")
def generator(tiny: Path) -> MusicgenGenerator:
    return short_windows(tiny, "cpu")


@pytest.fixture(scope="module", params=["cpu", pytest.param("cuda", marks=ON_CUDA)])
def cpu_or_cuda_generator(
    request: pytest.FixtureRequest, generator: MusicgenGenerator, tiny: Path
) -> Iterator[MusicgenGenerator]:
    """The CPU generator, then on CUDA as the radio runs there: half precision, CUDA graphs."""
    if request.param == "cpu":
        yield generator
        return
    gpu = short_windows(tiny, "cuda")
    yield gpu
    gpu.close()


def request(station: str, seed: int, seconds: float = 1.0) -> GenerationRequest:
    return GenerationRequest(
        station=station,
        genre=station,
        prompt=f"{station} with warm drums and a slow bass line",
        seed=seed,
        seconds=seconds,
    )


def test_loads_a_saved_checkpoint_and_makes_native_rate_audio(
    generator: MusicgenGenerator,
) -> None:
    assert isinstance(generator, Generator)
    out = generator.generate([request("jazz", 1, 1.3), request("metal", 2, 0.7)])
    assert [a.request.station for a in out] == ["jazz", "metal"]
    assert [a.samples.shape for a in out] == [(round(1.3 * RATE), 1), (round(0.7 * RATE), 1)]
    assert all(a.sample_rate == RATE and a.samples.dtype == np.float32 for a in out)
    assert all(np.abs(a.samples).max() <= 1.0 and np.isfinite(a.samples).all() for a in out)
    assert not np.allclose(out[0].samples[: RATE // 2], out[1].samples[: RATE // 2])
    parameters = out[0].parameters
    assert parameters["guidance_scale"] == 3.0 and parameters["top_k"] == 50
    assert parameters["window_seconds"] == 2.0 and parameters["overlap_seconds"] == 0.5
    assert (parameters["device"], parameters["dtype"]) == ("cpu", "float32")


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=ON_CUDA)])
@pytest.mark.parametrize("stereo", [False, True], ids=["mono", "stereo"])
@pytest.mark.parametrize("prompt_frames", [0, 9], ids=["from-scratch", "continuation"])
def test_our_loop_picks_the_tokens_stock_generate_picks(
    tiny: Path, tiny_stereo: Path, stereo: bool, prompt_frames: int, device: str
) -> None:
    """Greedy decoding with guidance: stock generate's audio, sample for sample.

    On CUDA in float32 and through the CUDA graphs: in half precision the two paths
    round differently and may part ways at a near tie.
    """
    loaded = load_musicgen(
        MusicgenSettings(model=str(tiny_stereo if stereo else tiny), device=device, dtype="float32")
    )
    codebooks = loaded.model.decoder.num_codebooks
    tokens = loaded.tokenizer(
        ["lofi hip hop with dusty drums", "uplifting trance"], padding=True, return_tensors="pt"
    ).to(device)
    prompt = torch.randint(
        0, 64, (2, codebooks, prompt_frames), generator=torch.Generator().manual_seed(5)
    ).to(device)
    agreement = greedy_against_stock(
        loaded.model,
        tokens["input_ids"],
        tokens["attention_mask"],
        new_frames=40,
        prompt=prompt if prompt_frames else None,
        window_frames=100,
    )
    total = prompt_frames + 40
    assert agreement.codes.shape == (2, codebooks, total)
    if prompt_frames:
        assert torch.equal(agreement.codes[:, :, :prompt_frames], prompt)
    for mine, theirs in zip(agreement.ours, agreement.stock, strict=True):
        assert mine.shape == (total * HOP, 2 if stereo else 1)
        np.testing.assert_allclose(mine, theirs, atol=1e-5)
    assert agreement.first_differing_frame(1e-5) is None


def test_a_seeded_request_sounds_the_same_alone_and_in_any_batch(
    cpu_or_cuda_generator: MusicgenGenerator,
) -> None:
    """On CUDA each batch size has graphs and matrix shapes of its own: the same tokens still."""
    generator = cpu_or_cuda_generator
    alone = generator.generate([request("jazz", 42, 2.5)])[0].samples
    batch = generator.generate(
        [request("metal", 7, 1.0), request("jazz", 42, 2.5), request("folk", 8, 3.0)]
    )
    again = generator.generate([request("folk", 8, 3.0), request("jazz", 42, 2.5)])
    np.testing.assert_allclose(batch[1].samples, alone, atol=1e-6)
    np.testing.assert_allclose(again[1].samples, alone, atol=1e-6)
    np.testing.assert_allclose(again[0].samples, batch[2].samples, atol=1e-6)
    other_seed = generator.generate([request("jazz", 43, 2.5)])[0].samples
    assert np.abs(other_seed - alone).max() > 1e-3


def test_sampling_draws_from_the_top_k_softmax() -> None:
    """Gumbel-max over hashed noise: frequencies match softmax(logits / T) on the top k."""
    logits = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0, -3.0, -3.5, -4.0])
    rows, top_k, temperature = 20_000, 4, 0.8
    keys = row_keys(range(rows), 0, torch.device("cpu"))
    picked = pick_tokens(
        logits.expand(rows, 1, -1),
        keys,
        torch.tensor([3]),
        vocab_hashes(8, torch.device("cpu")),
        top_k=top_k,
        temperature=temperature,
    )
    counts = torch.bincount(picked.flatten(), minlength=8).double() / rows
    expected = torch.zeros(8, dtype=torch.double)
    expected[:top_k] = torch.softmax(logits[:top_k].double() / temperature, dim=0)
    assert counts[top_k:].sum() == 0
    assert torch.allclose(counts, expected, atol=0.015)


def test_guidance_is_transformers_formula() -> None:
    conditional, unconditional = torch.randn(2, 3, 4, 16).unbind(0)
    guided = guide(torch.cat([conditional, unconditional]), 3.0)
    assert torch.allclose(guided, unconditional + 3.0 * (conditional - unconditional))


def test_long_tracks_are_windows_that_continue_the_first(tiny: Path) -> None:
    """The first window of a windowed track is exactly what one long window would start with."""
    loaded = load_musicgen(MusicgenSettings(model=str(tiny), device="cpu"))
    decoder = FastDecoder(loaded.model, sampling=Sampling(top_k=50), window_frames=300)
    tokens = loaded.tokenizer(["smooth jazz trio"], return_tensors="pt")
    conditioning = encode_text(loaded.model, tokens["input_ids"], tokens["attention_mask"])
    windowed = render_codes(decoder, conditioning, [265], [11], Windows(window=100, overlap=25))
    whole = render_codes(decoder, conditioning, [265], [11], Windows(window=300, overlap=0))
    assert windowed[0].shape == whole[0].shape == (4, 265)
    assert torch.equal(windowed[0][:, :100], whole[0][:, :100])
    assert Windows(window=100, overlap=25).plan(265) == [100, 75, 75, 15]


def test_bucketed_attention_of_the_cuda_graphs_changes_no_token(tiny: Path) -> None:
    """Graphs attend over a whole bucket with later positions masked: same tokens as exact spans."""
    loaded = load_musicgen(MusicgenSettings(model=str(tiny), device="cpu"))
    tokens = loaded.tokenizer(["lofi", "uplifting trance"], padding=True, return_tensors="pt")
    conditioning = encode_text(loaded.model, tokens["input_ids"], tokens["attention_mask"])
    runs = []
    for bucketed in (False, True):
        decoder = FastDecoder(loaded.model, sampling=Sampling(top_k=50), window_frames=300)
        decoder.bucketed = bucketed
        runs.append(render_codes(decoder, conditioning, [290, 170], [1, 2], Windows(150, 40)))
    for exact, bucketed_codes in zip(*runs, strict=True):
        assert torch.equal(exact, bucketed_codes)


def test_window_joins_have_no_clicks_or_level_jumps(generator: MusicgenGenerator) -> None:
    seconds = 5.3
    track = generator.generate([request("ambient", 3, seconds)])[0].samples[:, 0]
    assert len(track) == round(seconds * RATE)
    plan = Windows(window=100, overlap=25).plan(round(seconds * 50))
    joins = [sum(plan[: n + 1]) * HOP for n in range(len(plan) - 1)]
    assert len(joins) == 3
    signal = track.astype(np.float64) - track.mean()
    steps = np.abs(np.diff(signal))
    elsewhere = np.ones(len(steps), bool)
    for join in joins:
        elsewhere[join - HOP : join + HOP] = False
    # Clicks: the sample-to-sample step across each join against the track's own steps.
    typical = np.percentile(steps[elsewhere], 99.9)
    for join in joins:
        assert steps[join - 1] <= typical
    # Level: 50 ms RMS either side of each join against the same ratio at other frames.
    width = RATE // 20

    def jump_db(at: int) -> float:
        before = np.sqrt(np.mean(signal[at - width : at] ** 2))
        after = np.sqrt(np.mean(signal[at : at + width] ** 2))
        return float(abs(20 * np.log10(after / before)))

    others = [
        jump_db(at)
        for at in range(width, len(signal) - width, HOP * 7)
        if min(abs(at - join) for join in joins) > width
    ]
    for join in joins:
        assert jump_db(join) <= max(1.0, np.percentile(others, 99))


def test_stereo_checkpoints_give_two_channels(tiny_stereo: Path) -> None:
    stereo = MusicgenGenerator(
        MusicgenSettings(
            model=str(tiny_stereo), device="cpu", window_seconds=2.0, overlap_seconds=0.5
        )
    )
    audio = stereo.generate([request("chill", 5, 1.0)])[0]
    assert audio.samples.shape == (RATE, 2) and audio.channels == 2
    assert not np.allclose(audio.samples[:, 0], audio.samples[:, 1])


def test_out_of_memory_halves_the_batch_until_it_fits(
    generator: MusicgenGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = generator._generate_batch
    sizes: list[int] = []

    def tight_memory(requests: list[GenerationRequest]) -> Any:
        sizes.append(len(requests))
        if len(requests) > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(requests)

    monkeypatch.setattr(generator, "_generate_batch", tight_memory)
    monkeypatch.setattr(generator, "max_batch", 15)
    asked = [request(f"s{n}", n, 0.2) for n in range(3)]
    out = generator.generate(asked)
    assert [a.request for a in out] == asked
    assert sizes == [3, 1, 2, 1, 1]
    assert generator.max_batch == 1
    alone = real([asked[2]])[0].samples
    np.testing.assert_allclose(out[2].samples, alone, atol=1e-6)


def test_out_of_memory_on_one_request_is_a_generator_error(
    generator: MusicgenGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_memory(requests: list[GenerationRequest]) -> Any:
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(generator, "_generate_batch", no_memory)
    with pytest.raises(GeneratorError, match=r"out of memory.*'jazz' seed 4"):
        generator.generate([request("jazz", 4)])


def test_a_model_error_names_stations_and_seeds(
    generator: MusicgenGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("CUDA error: device-side assert triggered")

    monkeypatch.setattr(generator._decoder, "run_window", broken)
    with pytest.raises(GeneratorError) as caught:
        generator.generate([request("jazz", 4), request("metal", 9)])
    message = str(caught.value)
    assert "station 'jazz' seed 4" in message and "station 'metal' seed 9" in message
    assert "device-side assert" in message


def test_missing_weights_say_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "no-model-here"
    empty.mkdir()
    with pytest.raises(GeneratorUnavailable) as folder:
        MusicgenGenerator(MusicgenSettings(model=str(empty)))
    assert str(empty) in str(folder.value)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    with pytest.raises(GeneratorUnavailable) as hub:
        MusicgenGenerator(MusicgenSettings(model="facebook/musicgen-small"))
    message = str(hub.value)
    assert "'facebook/musicgen-small'" in message and "offline" in message
    assert "huggingface-cli download facebook/musicgen-small" in message
    assert "--model" in message and "--generator synth" in message


def test_melody_checkpoints_are_refused_by_name(tmp_path: Path) -> None:
    from transformers import (
        EncodecConfig,
        MusicgenMelodyConfig,
        MusicgenMelodyDecoderConfig,
        T5Config,
    )

    MusicgenMelodyConfig(
        text_encoder=T5Config(d_model=32, d_ff=64, num_layers=1, num_heads=2).to_dict(),
        audio_encoder=EncodecConfig().to_dict(),
        decoder=MusicgenMelodyDecoderConfig(
            hidden_size=32, num_hidden_layers=1, num_attention_heads=2, ffn_dim=64
        ).to_dict(),
    ).save_pretrained(tmp_path)
    with pytest.raises(GeneratorUnavailable, match="'musicgen_melody' checkpoint"):
        MusicgenGenerator(MusicgenSettings(model=str(tmp_path)))


@pytest.mark.parametrize(
    ("setting", "value"),
    [("window_seconds", 45.0), ("overlap_seconds", 2.0), ("max_batch", 0)],
)
def test_bad_settings_are_config_errors(tiny: Path, setting: str, value: float) -> None:
    options: dict[str, Any] = {"model": str(tiny), "window_seconds": 2.0, setting: value}
    with pytest.raises(ConfigError):
        MusicgenGenerator(MusicgenSettings(**options))


@pytest.mark.parametrize(
    ("name", "expected"),
    [("float32", "float32"), ("FP16", "float16"), ("half", "float16"), ("bf16", "bfloat16")],
)
def test_precisions_by_name_or_short_spelling(name: str, expected: str) -> None:
    assert resolve_dtype(name, torch.device("cpu")) == getattr(torch, expected)


def test_an_unknown_precision_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="known: float32, float16, bfloat16"):
        resolve_dtype("int8", torch.device("cpu"))


@pytest.mark.gpu
@cuda
def test_cuda_graphs_pick_the_same_tokens_as_eager_steps(tiny: Path) -> None:
    loaded = load_musicgen(MusicgenSettings(model=str(tiny), device="cuda", dtype="float32"))
    tokens = loaded.tokenizer(["lofi", "trance with supersaws"], padding=True, return_tensors="pt")
    conditioning = encode_text(
        loaded.model, tokens["input_ids"].cuda(), tokens["attention_mask"].cuda()
    )
    runs = []
    for graphs in (True, False):
        decoder = FastDecoder(
            loaded.model, sampling=Sampling(top_k=50), window_frames=300, cuda_graphs=graphs
        )
        codes = render_codes(decoder, conditioning, [290, 180], [1, 2], Windows(300, 0))
        assert (decoder._sessions[(2, 32)].graphs is not None) == graphs
        runs.append(codes)
    for graphed, eager in zip(*runs, strict=True):
        assert torch.equal(graphed, eager)


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_on_cuda_makes_finite_audio_at_the_right_length(
    tiny: Path, dtype: str
) -> None:
    gpu = MusicgenGenerator(
        MusicgenSettings(
            model=str(tiny), device="cuda", dtype=dtype, window_seconds=2.0, overlap_seconds=0.5
        )
    )
    out = gpu.generate([request("jazz", 1, 4.5), request("metal", 2, 1.0)])
    assert [a.samples.shape for a in out] == [(round(4.5 * RATE), 1), (RATE, 1)]
    assert all(np.isfinite(a.samples).all() for a in out)
    assert gpu.parameters["dtype"] == dtype
    gpu.close()


def test_bench_times_both_paths_on_the_same_inputs(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from radio.bench.generate import generate_command

    output = tmp_path / "bench.json"
    arguments = ["--size", "tiny", "--seconds", "0.5", "--batch-sizes", "2,1", "--device", "cpu"]
    result = CliRunner().invoke(generate_command, [*arguments, "--check", "--output", str(output)])
    assert result.exit_code == 0, result.output
    report = json.loads(output.read_text())
    assert (report["size"], report["device"], report["dtype"]) == ("tiny", "cpu", "float32")
    assert report["decoder_parameter_dtype"] == "float32"
    assert [row["batch"] for row in report["results"]] == [2, 1]
    for row in report["results"]:
        assert row["ours"]["audio_seconds_per_second"] > 0
        assert row["stock"]["audio_seconds_per_second"] > 0
        assert row["speedup"] == pytest.approx(row["stock"]["wall_s"] / row["ours"]["wall_s"])
        # The CPU runs eager steps and has no GPU memory to report.
        assert row["ours"]["graph_steps"] == 0 and row["ours"]["eager_steps"] > 0
        assert row["ours"]["peak_memory_gib"] is None
    cold = report["cold_start"]
    assert cold["batch"] == 2 and 0 < cold["build_s"] < cold["first_audio_s"]
    greedy, seeded = (
        report["check"]["greedy_against_stock"],
        report["check"]["seed_alone_and_in_batch"],
    )
    assert greedy["same_audio"] and greedy["frames"] == 25 and greedy["dtype"] == "float32"
    assert seeded["same_tokens"] and seeded["differing_frames"] == 0 and seeded["batch"] == 3
    # On the CPU in float32 the codec decodes a batch of three as it does one.
    assert seeded["max_difference"] < 1e-5 * max(1.0, seeded["peak"])
    assert report["meets_targets"] is None  # no target for the tiny size
    assert "speedup" in result.output and "same audio" in result.output
    assert "same tokens" in result.output
