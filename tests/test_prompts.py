from __future__ import annotations

from radio.lineup.prompts import concrete_prompt
from radio.lineup.stations import load_stations
from tests.support import REPO


def test_same_seed_same_prompt_and_seeds_vary() -> None:
    jazz = load_stations(REPO / "stations.toml").get("jazz")
    assert jazz is not None
    first = concrete_prompt(jazz, 42)
    assert first == concrete_prompt(jazz, 42)
    prompts = {concrete_prompt(jazz, seed).text for seed in range(50)}
    assert len(prompts) > 20
    assert "{" not in first.text and first.params["tempo"] in first.text
    assert first.title and first.params["key"] in first.title


def test_titles_vary_with_the_seed() -> None:
    metal = load_stations(REPO / "stations.toml").get("metal")
    assert metal is not None
    assert len({concrete_prompt(metal, seed).title for seed in range(40)}) > 20


def test_alternative_titles_are_distinct_and_name_the_key() -> None:
    jazz = load_stations(REPO / "stations.toml").get("jazz")
    assert jazz is not None
    prompt = concrete_prompt(jazz, 7)
    titles = [prompt.title, *prompt.alternatives]
    assert len(titles) == len(set(titles)) >= 6
    assert all(t.endswith(f" in {prompt.params['key']}") for t in titles)
    assert concrete_prompt(jazz, 7).alternatives == prompt.alternatives
