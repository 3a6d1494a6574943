#!/usr/bin/env bash
# Train one recipe over several seeds, one run after another (width 256, CPU, one thread):
#   bash scripts/seed_runs.sh NAME "SEEDS" [overrides...]
#   bash scripts/seed_runs.sh ema "1 2 3" train.ema=0.995 train.lr_schedule=cosine
# Runs land in runs/NAME-sSEED (an interrupted run resumes); summarise them with
# .venv/bin/python scripts/run_progress.py --best runs/NAME-s*. PRESET, EPOCHS, DATA and
# TRAIN (the pose-lifter-train command) may be set in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1; seeds=$2; shift 2
data=${DATA:-data/cmu_mocap_h36m17.npz}
[ -f "$data" ] || { echo "no $data: run make data (docs/data.md)" >&2; exit 2; }
train=${TRAIN:-.venv/bin/pose-lifter-train}
for seed in $seeds; do
  out=runs/$name-s$seed
  [ -f "$out/metrics.json" ] && { echo "skip $out (done)"; continue; }
  resume=(); [ -f "$out/last.pt" ] && resume=(--resume)
  $train fit --preset "${PRESET:-default}" --data "$data" --out "$out" "${resume[@]}" \
    --set model.width=256 model.critic_width=256 train.batch=256 \
    train.epochs="${EPOCHS:-15}" train.threads=1 train.seed="$seed" train.umap=false "$@"
done
