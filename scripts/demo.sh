#!/usr/bin/env bash
# The main job, from a fresh machine: install dependencies, build, then
#  1. parse, verify and print an example Gecko layer with gecko-opt
#     (custom form -> generic form -> custom form must agree) and lower it to
#     LLVM + OpenMP with the gecko-to-cpu pipeline;
#  2. compile a tiny 2-layer Gecko model with the model builder and the CPU
#     pipeline and run it as a stream of 8 calls (carried state), checked
#     against the golden logits and caches;
#  3. run the reference implementation over the public golden vectors;
#  4. compile examples/configs/tiny.json ahead of time into an artifact with
#     gecko-compile, generate text from it with random demo weights and stream
#     200K tokens through it with gecko-run (tokens/s, peak RSS).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}

bash "$root/scripts/install-deps.sh"
bash "$root/scripts/build.sh" "$build"

example=$root/examples/gecko_layer.mlir
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== gecko-opt: verify and print $example"
"$build/bin/gecko-opt" "$example" -o "$tmp/layer.mlir"
"$build/bin/gecko-opt" "$tmp/layer.mlir" --mlir-print-op-generic -o "$tmp/generic.mlir"
"$build/bin/gecko-opt" "$tmp/generic.mlir" -o "$tmp/again.mlir"
cmp -s "$tmp/layer.mlir" "$tmp/again.mlir" || { echo "round trip changed the IR" >&2; exit 1; }
grep -o 'gecko\.[a-z_]*' "$tmp/layer.mlir" | sort | uniq -c
echo "round trip (custom -> generic -> custom): identical"
"$build/bin/gecko-opt" "$example" --gecko-to-cpu -o "$tmp/layer.llvm.mlir"
echo "gecko-to-cpu: $(grep -c 'llvm.func' "$tmp/layer.llvm.mlir") LLVM functions," \
  "$(grep -c 'omp.parallel' "$tmp/layer.llvm.mlir") OpenMP parallel regions"

echo "== compiled CPU path: a 2-layer Gecko model streamed over 8 calls (JIT)"
"$build/bin/gecko-conform" --backend=cpu \
  "$root/test/data/golden/model__stream_segments.safetensors"

echo "== gecko-conform: reference implementation vs. the golden vectors"
"$build/bin/gecko-conform" --backend=reference "$root/test/data/golden"

tiny=$root/examples/configs/tiny.json
echo "== gecko-compile: $tiny -> a CPU artifact (model.so + manifest.json)"
"$build/bin/gecko-compile" --config="$tiny" -o "$tmp/tiny.gecko"
# One OpenMP thread: this tiny model's chunk calls are too small to gain from
# more, and on a busy machine extra threads cost far more than they give.
echo "== gecko-run generate: random demo weights, byte-level vocabulary"
"$build/bin/gecko-run" generate --artifact "$tmp/tiny.gecko" --init-random \
  --seed 1 --prompt "Gecko reads long streams " --max-new-tokens 24 --threads 1
echo "== gecko-run stream: 200K synthetic tokens with carried state"
"$build/bin/gecko-run" stream --artifact "$tmp/tiny.gecko" --init-random \
  --synthetic 200000 --threads 1
