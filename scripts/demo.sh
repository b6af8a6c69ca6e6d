#!/usr/bin/env bash
# The main job, from a fresh machine: install dependencies, build, then
#  1. parse, verify and print an example Gecko layer with gecko-opt
#     (custom form -> generic form -> custom form must agree), and
#  2. run the reference implementation over the public golden vectors.
# Compiling and running whole models on CPU arrives with gecko-compile/gecko-run.
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

echo "== gecko-conform: reference implementation vs. the golden vectors"
"$build/bin/gecko-conform" --backend=reference "$root/test/data/golden"
