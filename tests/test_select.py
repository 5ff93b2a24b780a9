"""Which generator runs: auto picks MusicGen only with CUDA and local weights, and a
MusicGen that cannot load hands over to the synth with a reason that says why."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from radio.errors import ConfigError
from radio.generators import select
from radio.generators.select import Probe, choose_generator, decide, local_weights
from tests.support import REPO

READY = Probe(extra_installed=True, cuda_device="NVIDIA H100", weights="/models/small", model="m")


@pytest.mark.parametrize(
    ("kind", "found", "expected", "says"),
    [
        ("auto", READY, "musicgen", "NVIDIA H100"),
        ("auto", Probe(False, None, None, "m"), "synth", "pip install -e '.[musicgen]'"),
        ("auto", Probe(True, None, "/models/small", "m"), "synth", "no CUDA device"),
        ("auto", Probe(True, "NVIDIA H100", None, "m"), "synth", "huggingface-cli download m"),
        ("synth", READY, "synth", "generator = synth"),
        ("musicgen", Probe(True, None, None, "m"), "musicgen", "generator = musicgen"),
        ("musicgen", Probe(False, None, None, "m"), "synth", "not installed"),
        ("musicgen", Probe(True, "H100", None, "m", hub=False), "synth", "cannot be reached"),
    ],
    ids=[
        "ready",
        "no-extra",
        "no-cuda",
        "no-weights",
        "synth",
        "musicgen-asked",
        "musicgen-no-extra",
        "musicgen-offline",
    ],
)
def test_decide(kind: str, found: Probe, expected: str, says: str) -> None:
    decision = decide(kind, found)
    assert decision.generator == expected
    assert says in decision.reason


def test_the_generators_package_and_the_cli_import_without_torch() -> None:
    # torch is an optional extra: the core install must get as far as choosing the synth.
    check = "import radio.cli, radio.generators, sys; sys.exit('torch' in sys.modules)"
    subprocess.run([sys.executable, "-c", check], cwd=REPO, check=True)


@pytest.mark.parametrize(
    "environ",
    [{"HF_HUB_OFFLINE": "1"}, {"HF_ENDPOINT": "http://127.0.0.1:9"}],
    ids=["switched-off", "unreachable"],
)
def test_offline_a_model_id_falls_back_at_once(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("transformers")
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    started = time.monotonic()
    generator, reason = choose_generator("musicgen", model="radio-tests/no-such-model")
    assert generator.name == "synth" and "cannot be reached" in reason
    assert time.monotonic() - started < 5  # not the hub's 27.5 s of timeouts


def test_an_unknown_generator_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="generator"):
        decide("magenta", READY)


def test_local_weights_need_a_config_and_weights(tmp_path: Path) -> None:
    assert local_weights(str(tmp_path)) is None
    (tmp_path / "config.json").write_text("{}")
    assert local_weights(str(tmp_path)) is None
    (tmp_path / "model.safetensors").write_bytes(b"")
    assert local_weights(str(tmp_path)) == str(tmp_path)
    assert local_weights(str(tmp_path / "elsewhere")) is None
    assert local_weights("not a repo id!") is None


def test_auto_without_cuda_is_the_synth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(select, "_cuda_device", lambda: None)
    generator, reason = choose_generator("auto", model=str(tmp_path))
    assert generator.name == "synth"
    assert "no CUDA device" in reason or "not installed" in reason


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tests.musicgen_tiny import build_tiny_musicgen

    return build_tiny_musicgen(tmp_path_factory.mktemp("musicgen-tiny"))


def test_auto_with_cuda_and_weights_is_musicgen(
    tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The device is pinned to the CPU so the choice can be built on this machine.
    monkeypatch.setattr(select, "_cuda_device", lambda: "NVIDIA H100")
    generator, reason = choose_generator("auto", model=str(tiny), device="cpu")
    assert generator.name == "musicgen" and generator.model == str(tiny)
    assert f"weights at {tiny}" in reason
    generator.close()


def test_auto_with_cuda_but_no_weights_is_the_synth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")
    monkeypatch.setattr(select, "_cuda_device", lambda: "NVIDIA H100")
    generator, reason = choose_generator("auto", model=str(tmp_path / "missing"))
    assert generator.name == "synth" and "no local weights" in reason


def test_musicgen_without_weights_falls_back_to_the_synth_and_says_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("transformers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    generator, reason = choose_generator("musicgen", model="facebook/musicgen-small")
    assert generator.name == "synth"
    assert "huggingface-cli download facebook/musicgen-small" in reason
    assert "--generator synth" in reason


def test_musicgen_asked_for_loads_on_the_cpu(tiny: Path) -> None:
    from radio.generators.musicgen import MusicgenGenerator

    generator, reason = choose_generator(
        "musicgen",
        model=str(tiny),
        device="cpu",
        guidance_scale=2.0,
        window_seconds=5.0,
        overlap_seconds=1.0,
    )
    assert isinstance(generator, MusicgenGenerator) and reason == "generator = musicgen"
    assert generator.parameters["guidance_scale"] == 2.0
    assert generator.parameters["window_seconds"] == 5.0
    generator.close()


@pytest.mark.skipif(select.driver_present(), reason="this machine has a GPU driver")
def test_probing_a_machine_without_a_gpu_driver_leaves_torch_unloaded() -> None:
    # Torch costs the server a few hundred MB resident for nothing when the synth plays.
    code = (
        "import sys; from radio.generators.select import probe;"
        "found = probe('/models/none');"
        "print(found.extra_installed, found.cuda_device, 'torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout.split()
    assert out == ["True", "None", "False"]
