#!/usr/bin/env bash
# The longer version of test/tools/gecko-run/train.test's recall task
# (docs/training.md): compile examples/configs/tiny.json (2 layers, D 64,
# C 16, byte-level vocab 256) with the training entries, write an
# associative-recall task whose answers lie > 2 chunks back, train with
# checkpoints and report the NLL at the query positions before and after.
#
#   examples/training/recall.sh BUILD_DIR [WORK_DIR] [STEPS] [PAIRS]
#
# PAIRS = 1 (default): one value (of 8) in chunk 0, asked in chunk 3; learned
# after ~1000 steps (query NLL 5.7 -> 0.8 at step 1200, ln 8 = 2.08 without
# recall). PAIRS > 1: associative recall of PAIRS keys (of 16) with values
# (of 32), each asked once from chunk 3 on (much harder; see the docs).
set -euo pipefail
build=${1:?usage: recall.sh BUILD_DIR [WORK_DIR] [STEPS] [PAIRS]}
work=${2:-/tmp/gecko-recall}
steps=${3:-1500}
pairs=${4:-1}
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$work"
if [ "$pairs" = 1 ]; then task=(--pairs 1 --keys 1 --values 8 --filler 4)
else task=(--pairs "$pairs" --keys 16 --values 32 --filler 4); fi

[ -d "$work/tiny.gecko" ] ||
  "$build/bin/gecko-compile" --config="$root/examples/configs/tiny.json" \
    --train --train-length=64 --micro-batch=4 -o "$work/tiny.gecko"
"$build/bin/gecko-run" make-task --rows 40000 --length 64 --chunk 16 \
  "${task[@]}" --seed 1 -o "$work/train.u16"
"$build/bin/gecko-run" make-task --rows 64 --length 64 --chunk 16 \
  "${task[@]}" --seed 2 -o "$work/eval.u16"
"$build/bin/gecko-run" train --artifact "$work/tiny.gecko" \
  --data "$work/train.u16" --steps "$steps" --init-random --lr 1e-2 \
  --warmup 50 --weight-decay 0.01 --eval-data "$work/eval.u16" \
  --eval-rows 64 --query-token 3 --eval-every 250 --log-every 50 \
  --checkpoint-dir "$work/ck" --checkpoint-every 500 \
  --export-weights "$work/trained.safetensors" "${@:5}"
