#!/usr/bin/env bash
# MusicGen on a GPU machine, all in one go within a time budget, most important first:
#   1. the CUDA tests of tests/test_musicgen.py: our loop against stock generate (float32,
#      greedy, token for token), a seeded request alone and inside a batch (as the radio
#      runs: half precision, CUDA graphs), graphs against eager steps, half precision;
#   2. `radio bench generate` for musicgen-small at 15 stations, ours against stock
#      generate, with --check (the same two checks on full-size random weights), peak
#      GPU memory, the cold start and the graphs and dtype really used;
#   3. medium and large at 15 stations, ours alone (stock generate takes minutes there);
#   4. small at 1 and 30 stations against stock (each stock run takes 80-100 s on an H200);
#   5. the rest of tests/test_musicgen.py (CPU), with whatever time is left.
# Every bench JSON is rewritten after each figure and every stage is cut at the budget,
# so a run stopped early keeps what it measured. A summary table ends the output.
#
# It installs nothing from the network: it runs the python3 it finds (it must have torch
# and transformers: the GPU image's), unpacks the wheels carried in .whl/ (those of the
# radio's own dependencies that the image lacks and these imports need) into $SITE, and
# runs the repo from its root without installing it. `radio bench generate` is reached as
# `python -m radio.bench.generate`, which does not import the server's dependencies.
#
#   scripts/gpu-bench.sh
#   RUNS="tiny:3,1,2:check tiny:2" SECONDS_PER_STATION=1 scripts/gpu-bench.sh   # CPU dry run
#
# Environment: PYTHON (python3); OUT (bench-results); BUDGET_S (280: every stage together);
# SECONDS_PER_STATION (30); RUNS ("small:15:check medium:15:nostock large:15:nostock
# small:1,30": in that order, size:batch sizes, then :check for the checks, :nostock to
# time ours alone); SITE (/tmp/site: where the wheels are unpacked).
set -uo pipefail # no -e: a failed or cut stage must not stop the next one, nor the summary
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
OUT=${OUT:-bench-results}
BUDGET_S=${BUDGET_S:-280}
SECONDS_PER_STATION=${SECONDS_PER_STATION:-30}
RUNS=${RUNS:-small:15:check medium:15:nostock large:15:nostock small:1,30}
SITE=${SITE:-/tmp/site}
# Below this many seconds of budget a stage is not started: it could show nothing.
MIN_STAGE_S=20
# Kept for the summary at the end.
RESERVE_S=8

mkdir -p "$OUT"
started=$SECONDS
# The box has no network: transformers must not wait on the hub (2 s per load otherwise).
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
stages=()

left() { echo $((BUDGET_S - (SECONDS - started))); }

# stage NAME CAP_S LOG COMMAND...: run it under the smaller of CAP_S and the budget left,
# its output shown and added to $OUT/LOG.
stage() {
    local name=$1 cap=$2 log=$OUT/$3 allowed begun rc verdict
    shift 3
    allowed=$(($(left) - RESERVE_S))
    ((allowed > cap)) && allowed=$cap
    if ((allowed < MIN_STAGE_S)); then
        stages+=("$(printf '%-34s skipped: out of budget' "$name")")
        echo "== $name: skipped, $((allowed > 0 ? allowed : 0)) s of budget left"
        return
    fi
    echo "== $name (at most ${allowed} s)"
    begun=$SECONDS
    timeout -k 5 "$allowed" "$@" 2>&1 | tee -a "$log"
    rc=${PIPESTATUS[0]}
    case $rc in
        0) verdict=ok ;;
        124 | 137) verdict="CUT at ${allowed} s" ;;
        *) verdict="FAILED (exit $rc)" ;;
    esac
    stages+=("$(printf '%-34s %-18s %4d s' "$name" "$verdict" $((SECONDS - begun)))")
}

echo "== wheels from .whl/ into $SITE"
rm -rf "$SITE" && mkdir -p "$SITE"
shopt -s nullglob
wheels=(.whl/*.whl)
if ((${#wheels[@]})); then
    # Pure-Python wheels: where pip is missing, unpacking them is all an install does.
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$SITE" "${wheels[@]}" ||
        "$PYTHON" -c 'import sys, zipfile; [zipfile.ZipFile(w).extractall(sys.argv[1]) for w in sys.argv[2:]]' \
            "$SITE" "${wheels[@]}"
fi
export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}"

"$PYTHON" - "$OUT/environment.json" <<'EOF' || exit 1
import json, os, platform, sys

import torch, transformers

import radio.bench.generate  # noqa: F401  every module the bench needs imports
import radio.generators.musicgen  # noqa: F401

cuda = torch.cuda.is_available()
environment = {
    "python": sys.version.split()[0],
    "platform": platform.platform(),
    "cpus": os.cpu_count(),
    "torch": torch.__version__,
    "cuda": torch.version.cuda,
    "transformers": transformers.__version__,
    "device": torch.cuda.get_device_name(0) if cuda else None,
    "device_memory_gib": torch.cuda.get_device_properties(0).total_memory / 2**30 if cuda else None,
    "bf16": torch.cuda.is_bf16_supported() if cuda else None,
}
open(sys.argv[1], "w").write(json.dumps(environment, indent=2) + "\n")
print(json.dumps(environment))
if not cuda:
    print("no CUDA device: the figures below are the CPU's (a dry run)")
EOF

# --noconftest: tests/conftest.py serves the server's tests and imports the whole server.
pytest=("$PYTHON" -m pytest tests/test_musicgen.py -q -p no:cacheprovider --noconftest
    --timeout 60 -rfE
    # asyncio_mode and its kin belong to pytest-aiohttp, which the server's tests need, not these.
    -W ignore::pytest.PytestConfigWarning)

stage "tests on CUDA (-m gpu)" 100 tests.txt "${pytest[@]}" -m gpu

outputs=()
for run in $RUNS; do
    IFS=: read -r size batches flags <<<"$run"
    output="$OUT/generate-$size-${batches//,/-}.json"
    outputs+=("$output")
    args=(--size "$size" --batch-sizes "$batches" --seconds "$SECONDS_PER_STATION"
        --output "$output")
    [[ :$flags: == *:check:* ]] && args+=(--check)
    [[ :$flags: == *:nostock:* ]] && args+=(--no-stock)
    stage "bench $size at $batches" 600 log.txt "$PYTHON" -m radio.bench.generate "${args[@]}"
done

stage "tests on the CPU (-m 'not gpu')" 120 tests.txt "${pytest[@]}" -x -m "not gpu"
rm -f "$OUT"/*.part

echo
echo "== summary ($((SECONDS - started)) s of ${BUDGET_S} s)"
{
    printf '%s\n' "${stages[@]}"
    grep -E '^(FAILED|ERROR) |^([0-9]+ [a-z]+.*|no tests ran) in [0-9.]+s' "$OUT/tests.txt" 2>/dev/null
    "$PYTHON" - "${outputs[@]}" <<'EOF'
import json, sys
from pathlib import Path

from radio.bench.generate import table

for path in map(Path, sys.argv[1:]):
    print()
    if path.exists():
        print("\n".join(table(json.loads(path.read_text()))))
    else:
        print(f"{path.name}: nothing measured")
EOF
} | tee "$OUT/summary.txt"
