#!/usr/bin/env bash
# Validation-only screening of ml-1m preset variants on one CUDA GPU, all in parallel.
# Never evaluates the test item (bench/quality_ml1m.py --validation-only).
# Usage: bench/studies/gpu_tuning.sh OUTDIR VARIANTS_FILE [SECONDS]  (needs a CUDA build of torch)
# Each line of VARIANTS_FILE (bench/studies/tuning/*.txt) is a name, then PARAM=JSON overrides of
# the ml-1m preset. Writes OUTDIR/NAME.json and OUTDIR/NAME.log per variant; render them
# with `python bench/studies/tuning_table.py OUTDIR/*.json`. With SAVE_MODELS=1 each trained model is
# also saved to OUTDIR/models/NAME/ml-1m (for bench/studies/blend_analysis.py).
set -u
out=${1:?usage: bench/studies/gpu_tuning.sh OUTDIR VARIANTS_FILE [SECONDS]}
variants=${2:?usage: bench/studies/gpu_tuning.sh OUTDIR VARIANTS_FILE [SECONDS]}
limit=${3:-480}
mkdir -p "$out"
while read -r name rest; do
  [ -z "$name" ] && continue
  sets=(--set 'device="cuda"')
  for kv in $rest; do sets+=(--set "$kv"); done
  [ "${SAVE_MODELS:-0}" = 1 ] && sets+=(--save-model "$out/models/$name")
  OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1 timeout "$limit" \
    python bench/quality_ml1m.py --configs ml-1m --validation-only "${sets[@]}" \
    --json "$out/$name.json" </dev/null >"$out/$name.log" 2>&1 &
done <"$variants"
wait
