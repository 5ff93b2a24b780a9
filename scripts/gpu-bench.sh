#!/usr/bin/env bash
# MusicGen GPU figures: CUDA torch + the musicgen extra, the GPU tests, then
# `radio bench generate` for musicgen-small at 1, 8 and 15 stations against stock
# generate, plus the variants that show where the speed comes from. JSON lands in
# $OUT (default bench-results/).
#
#   scripts/gpu-bench.sh                    # creates .venv-gpu on first run
#   PYTHON=/opt/venv/bin/python scripts/gpu-bench.sh   # an env that already has CUDA torch
#   TORCH_INDEX=https://download.pytorch.org/whl/cu128 scripts/gpu-bench.sh
#   SECONDS_PER_STATION=10 SIZES="small medium" scripts/gpu-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-bench-results}
SIZES=${SIZES:-small}
SECONDS_PER_STATION=${SECONDS_PER_STATION:-30}
TORCH_INDEX=${TORCH_INDEX:-https://download.pytorch.org/whl/cu128}

has_cuda_torch() {
    "$1" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null
}

if [[ -z "${PYTHON:-}" ]]; then
    PYTHON=.venv-gpu/bin/python
    if [[ ! -x "$PYTHON" ]]; then
        python3 -m venv .venv-gpu
    fi
    if ! has_cuda_torch "$PYTHON"; then
        # The CUDA build of the pinned torch first, so the extra does not pull the CPU wheel.
        "$PYTHON" -m pip install --quiet "torch==2.13.0" --index-url "$TORCH_INDEX"
    fi
    "$PYTHON" -m pip install --quiet -e ".[musicgen,test]"
fi
if ! has_cuda_torch "$PYTHON"; then
    echo "torch in $PYTHON sees no CUDA device; nothing to measure here." >&2
    exit 1
fi
"$PYTHON" - <<'EOF'
import torch, transformers
print(f"torch {torch.__version__} (CUDA {torch.version.cuda}), transformers {transformers.__version__}")
print(f"device: {torch.cuda.get_device_name(0)}")
EOF

mkdir -p "$OUT"
echo "== GPU tests (graphs against eager steps, half precision) and the CPU ones beside them"
"$PYTHON" -m pytest -q tests/test_musicgen.py tests/test_select.py tests/test_resample.py

for size in $SIZES; do
    echo "== musicgen-$size: ours (bfloat16, CUDA graphs) against stock generate"
    "$PYTHON" -m radio bench generate --size "$size" --batch-sizes 1,8,15 \
        --seconds "$SECONDS_PER_STATION" --output "$OUT/generate-$size.json"
done

echo "== variants on musicgen-small, ours only: what the graphs and the precision buy"
"$PYTHON" -m radio bench generate --size small --batch-sizes 15 --no-stock \
    --seconds "$SECONDS_PER_STATION" --no-cuda-graphs --output "$OUT/generate-small-eager.json"
"$PYTHON" -m radio bench generate --size small --batch-sizes 15 --no-stock \
    --seconds "$SECONDS_PER_STATION" --dtype float16 --output "$OUT/generate-small-fp16.json"
"$PYTHON" -m radio bench generate --size small --batch-sizes 15 --no-stock \
    --seconds "$SECONDS_PER_STATION" --dtype float32 --output "$OUT/generate-small-fp32.json"
echo "figures saved in $OUT/"
