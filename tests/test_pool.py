"""Generator workers on a real local Ray cluster (issue #12): the same audio as here, a
killed worker's batch made by another while the stations play, a model that does
not load reported once, and a node that joins put to work.

One cluster for the module (a head of two CPUs; starting Ray costs seconds on two
cores), and every pool closed after its test so the next one finds its CPUs free.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from radio.generators import GenerationRequest
from radio.generators.pool.wire import STEP, pack, unpack
from radio.generators.synth import SynthGenerator
from tests.support import REPO, StartServer, on_air, wait_for, wait_until

ray = pytest.importorskip("ray", reason="the ray extra is not installed")

from ray.cluster_utils import Cluster  # noqa: E402

from radio.generators.pool.ray_pool import NAMESPACE, RayPool  # noqa: E402
from radio.generators.pool.worker import MUSICGEN, SYNTH, WorkerSpec  # noqa: E402

TOKEN = "pool-token"
READY_SECONDS = 180.0  # an actor imports numpy/scipy (or torch) on a busy 2-core box
MakePool = Callable[..., RayPool]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False}
    )
    # The workers import this checkout (and tests.dummies), whatever the venv points at.
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    # Ray runs its workers at nice 15, which on a server keeps generation from
    # starving playout; on a busy CI box it starved an actor loading torch for
    # minutes (ready in 18 s quiet, not in 180 s beside two busy loops).
    env = {"PYTHONPATH": path, "RAY_worker_niceness": "0"}
    ray.init(
        address=cluster.address,
        namespace=NAMESPACE,
        log_to_driver=False,
        runtime_env={"env_vars": env},
    )
    yield cluster
    ray.shutdown()
    cluster.shutdown()


@pytest.fixture
def pools(cluster: Cluster) -> Iterator[MakePool]:
    made: list[RayPool] = []

    def make(spec: WorkerSpec, workers: int | None, **kwargs: Any) -> RayPool:
        options = {"name": "synth", "model": "synth-v1", "max_batch": 4, **kwargs}
        pool = RayPool(spec, workers=workers, **options)
        made.append(pool)
        return pool

    yield make
    for pool in made:
        pool.close()


def ready(pool: RayPool, workers: int) -> None:
    def check() -> bool:
        pool.refresh()
        return pool.capacity() >= workers

    try:
        wait_for(check, READY_SECONDS, f"{workers} workers ready")
    except AssertionError as exc:
        states = [(w.name, w.state, w.reason) for w in pool.workers()]
        available = ray.available_resources().get("CPU", 0.0)
        raise AssertionError(f"{exc}: workers {states}, {available} CPUs free in Ray") from None


def request(seed: int, seconds: float = 2.0) -> GenerationRequest:
    params = {"mood": "smoky", "tempo": "96"}
    return GenerationRequest("jazz", "Jazz", "smoky jazz, 96 BPM", seed, seconds, params)


def test_audio_travels_as_flac_within_one_24_bit_step() -> None:
    made = SynthGenerator().generate([request(5)])[0]
    packed = pack(made)
    back = unpack(packed)
    assert back.samples.shape == made.samples.shape and back.sample_rate == made.sample_rate
    assert float(np.max(np.abs(back.samples - made.samples))) <= STEP
    # Lossless at 24 bits; for the synth's dense mixes about 0.6 of the float32 bytes.
    assert len(packed.flac) < 0.75 * made.samples.nbytes


def test_local_workers_never_import_ray() -> None:
    code = (
        "import sys, radio.cli, radio.core, radio.doctor, radio.server.app, radio.scheduler\n"
        "from radio.generators.select import choose_generator\n"
        "choose_generator('synth', model='x')\n"
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_one_worker_per_gpu_for_musicgen_and_per_core_for_the_synth() -> None:
    cluster = {"CPU": 16.0, "GPU": 2.0}
    musicgen = RayPool(WorkerSpec(MUSICGEN, num_gpus=1.0), name="musicgen", model="m", max_batch=15)
    synth = RayPool(WorkerSpec(SYNTH), name="synth", model="synth-v1", max_batch=4)
    assert (musicgen.wanted(cluster), synth.wanted(cluster)) == (2, 16)
    assert musicgen.wanted({"CPU": 16.0}) == 0  # MusicGen waits for a GPU node


@pytest.mark.usefixtures("cluster")
@pytest.mark.parametrize(
    ("generator", "kind", "said"),
    [("auto", "synth", "synth, one actor per core"), ("musicgen", "musicgen", "none yet")],
)
def test_the_setting_picks_the_workers_from_the_cluster(
    generator: str, kind: str, said: str
) -> None:
    from radio.generators.pool.cluster import ray_pool
    from radio.settings import Settings

    pool, reason = ray_pool(Settings.load({"workers": "ray", "generator": generator}, {}))
    try:
        assert pool.name == kind and said in reason and "workers = ray at auto" in reason
        assert (pool.spec.num_gpus, pool.capacity()) == ((1.0 if kind == "musicgen" else 0.0), 0)
    finally:
        pool.close()


def test_two_synth_actors_make_what_the_synth_makes_here(pools: MakePool) -> None:
    pool = pools(WorkerSpec(SYNTH), workers=2)
    ready(pool, 2)
    requests = [request(11), request(12)]
    with ThreadPoolExecutor(2) as threads:
        made = list(threads.map(lambda r: pool.generate([r])[0], requests))
    for there, here in zip(made, SynthGenerator().generate(requests), strict=True):
        assert there.samples.shape == here.samples.shape
        assert float(np.max(np.abs(there.samples - here.samples))) <= STEP
        assert there.parameters == here.parameters
    assert sorted(w.batches for w in pool.workers()) == [1, 1]  # one batch on each


def test_tiny_musicgen_on_an_actor_makes_what_it_makes_here(
    pools: MakePool, tmp_path_factory: pytest.TempPathFactory
) -> None:
    torch = pytest.importorskip("torch")
    from radio.generators.musicgen import MusicgenGenerator, MusicgenSettings
    from tests.musicgen_tiny import build_tiny_musicgen

    folder = str(build_tiny_musicgen(tmp_path_factory.mktemp("musicgen-tiny")))
    tuning = {"model": folder, "device": "cpu", "top_k": 50, "window_seconds": 2.0}
    tuning["overlap_seconds"] = 0.5
    pool = pools(WorkerSpec(MUSICGEN, tuning), workers=1, name="musicgen", model=folder)
    pool.refresh()  # the actor loads while the model runs here
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as on the actor (Ray gives it one CPU): the same sums
    try:
        here = MusicgenGenerator(MusicgenSettings(**tuning)).generate([request(7, 1.5)])[0]
    finally:
        torch.set_num_threads(threads)
    ready(pool, 1)
    there = pool.generate([request(7, 1.5)])[0]
    assert there.samples.shape == here.samples.shape
    assert float(np.max(np.abs(there.samples - here.samples))) <= STEP
    (worker,) = pool.workers()
    assert (worker.device, worker.model, worker.batches) == ("cpu", folder, 1)


def test_a_worker_whose_model_does_not_load_is_reported_once_and_never_used(
    pools: MakePool, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="radio.generators.pool.ray_pool")
    spec = WorkerSpec(MUSICGEN, {"model": str(tmp_path / "no-such-model"), "device": "cpu"})
    pool = pools(spec, workers=1, name="musicgen", model="missing")

    def failed() -> list[Any]:
        pool.refresh()
        return [w for w in pool.workers() if w.state == "failed"]

    (worker,) = wait_for(failed, READY_SECONDS, "the worker to report its model")
    for _ in range(5):
        pool.refresh()
    assert "no-such-model" in worker.reason
    reports = [r for r in caplog.records if "cannot load its model" in r.getMessage()]
    assert len(reports) == 1 and "no-such-model" in reports[0].getMessage()
    assert pool.capacity() == 0 and len(pool.workers()) == 1  # held, not restarted
    pool.close()  # and closing the pool ends it, handing its CPU back to the cluster
    wait_for(lambda: ray.available_resources().get("CPU") == 2.0, 60, "the failed worker's CPU")


async def keeps_playing(url: str, audio_bytes: int) -> None:
    """A listener of `url` receives `audio_bytes` more, however long that takes."""
    from aiohttp import ClientSession

    got = 0
    async with ClientSession() as session, session.get(url) as response:
        while got < audio_bytes:
            got += len(await asyncio.wait_for(response.content.readany(), timeout=30))


async def test_a_killed_workers_batch_is_made_by_another_while_the_stations_play(
    pools: MakePool, start_server: StartServer, tmp_path: Path
) -> None:
    from radio.doctor import report
    from radio.settings import Settings

    gate = tmp_path / "gate"
    gate.touch()
    spec = WorkerSpec("tests.dummies:GatedToneGenerator", {"gate": str(gate)})
    pool = pools(spec, workers=2, name="tone", model="tone-v1")
    client, radio = await start_server(generator=pool, admin_token=TOKEN)
    await on_air(radio, READY_SECONDS)
    gate.unlink()

    def held() -> Any:
        started = {p.name.removeprefix("held-") for p in tmp_path.glob("held-*")}
        busy = [w for w in pool.workers() if w.state == "busy" and w.making]
        return next(
            (w for w in busy if any(m.split("seed ")[1][:-1] in started for m in w.making)),
            None,
        )

    victim = await wait_until(held, READY_SECONDS, "a batch held mid-way on a worker")
    seeds = {int(m.split("seed ")[1][:-1]) for m in victim.making}
    ray.kill(ray.get_actor(victim.name, namespace=NAMESPACE))
    await keeps_playing(str(client.make_url("/stream/jazz.mp3")), 64 * 1024 + 3 * 16_000)
    await wait_until(
        lambda: any(w.name == victim.name and w.state == "lost" for w in pool.workers()),
        READY_SECONDS,
        "the worker to be found dead",
    )
    gate.touch()

    async def recorded() -> bool:
        tracks = await radio.catalog.run(lambda c: c.tracks(None, 200))
        return seeds <= {t.seed for t in tracks}

    await wait_until(recorded, READY_SECONDS, "the killed worker's batch made by another")
    assert radio.scheduler.batches_failed == 0  # retried, not failed
    body = await (
        await client.get("/api/admin/pool", headers={"Authorization": f"Bearer {TOKEN}"})
    ).json()
    assert body["workers"] == "ray"
    lost = [w for w in body["pool"] if w["name"] == victim.name]
    assert lost[0]["state"] == "lost" and lost[0]["failures"] == 1
    assert sum(w["batches"] for w in body["pool"]) >= 1
    settings = Settings.load({"workers": "ray", "stations": tmp_path / "stations.toml"}, {})
    lines = await asyncio.to_thread(lambda: list(report(settings)))
    workers = [line for line in lines if line.strip().startswith("worker ")]
    # The replacement may still be starting: the doctor then says it is not answering.
    assert any(" batches, " in line and "failures" in line for line in workers), workers


def test_a_node_that_joins_gets_a_worker_that_is_used(
    cluster: Cluster, pools: MakePool, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"  # shut: each batch holds its worker until all three run
    spec = WorkerSpec("tests.dummies:GatedToneGenerator", {"gate": str(gate)})
    pool = pools(spec, workers=None, name="tone", model="tone-v1")  # one per core
    ready(pool, 2)
    node = cluster.add_node(num_cpus=1)
    try:
        ready(pool, 3)
        with ThreadPoolExecutor(3) as threads:
            made = [threads.submit(pool.generate, [request(seed)]) for seed in (21, 22, 23)]
            wait_for(
                lambda: sum(w.state == "busy" for w in pool.workers()) == 3,
                READY_SECONDS,
                "a batch on each of the three workers",
            )
            gate.touch()
            assert all(len(future.result(timeout=READY_SECONDS)) == 1 for future in made)
        assert [w.batches for w in pool.workers()] == [1, 1, 1]
    finally:
        pool.close()
        cluster.remove_node(node)
