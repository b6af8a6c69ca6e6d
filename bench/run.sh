#!/usr/bin/env bash
# Runs the benchmarks (not tests) and prints one table with the ratios:
#   bench/run.sh [BUILD_DIR] [--quick]
# BUILD_DIR (default: build) must hold bin/gecko-roofline and
# bin/gecko-ops-bench (built when libbenchmark-dev is installed). --quick
# skips torch.compile (about a minute of compilation per op on 2 cores).
# OMP_NUM_THREADS (default: all cores) applies to the JIT and to torch.
# The first run creates bench/.venv with torch from PyPI.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=$root/build
compile=()
for arg in "$@"; do
  case $arg in
    --quick) compile=(--no-compile) ;;
    -h|--help) sed -n 2,8p "$0"; exit 0 ;;
    *) build=$(cd "$arg" && pwd) ;;
  esac
done
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
for tool in gecko-roofline gecko-ops-bench; do
  if [ ! -x "$build/bin/$tool" ]; then
    echo "run.sh: $build/bin/$tool is missing (build with scripts/build.sh;" \
         "needs libbenchmark-dev)" >&2
    exit 1
  fi
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== roofline (gecko-roofline)"
"$build/bin/gecko-roofline" --benchmark_counters_tabular=true 2>/dev/null
echo "== gecko ops: JIT vs the float64 reference (gecko-ops-bench)"
"$build/bin/gecko-ops-bench" --tsv="$out/gecko.tsv"
echo "== the same ops in PyTorch (bench/torch_ops.py)"
python3 "$here/torch_ops.py" --tsv="$out/torch.tsv" "${compile[@]}"

echo "== summary (ms per call; ratios > 1 mean the gecko JIT is faster)"
awk -F'\t' '
  FNR == NR { jit[$1] = $3; ref[$1] = $4; shape[$1] = $2; status[$1] = $5; order[n++] = $1; next }
  { eager[$1] = $2; comp[$1] = $3 }
  function ratio(a, b) { return (a == "nan" || b == "nan" || b + 0 == 0) ? "-" : sprintf("%.2fx", a / b) }
  function ms(a) { return a == "nan" || a == "" ? "-" : sprintf("%.2f", a) }
  END {
    printf "%-21s %-26s %9s %9s %9s %9s %8s %8s %8s\n", "op", "shape", "jit", "ref",
           "eager", "compile", "ref/jit", "eag/jit", "cmp/jit"
    for (i = 0; i < n; ++i) {
      k = order[i]
      j = jit[k]
      printf "%-21s %-26s %9s %9s %9s %9s %8s %8s %8s%s\n", k, shape[k], ms(j), ms(ref[k]),
             ms(eager[k]), ms(comp[k]), ratio(ref[k], j), ratio(eager[k], j),
             ratio(comp[k], j), (status[k] == "ok" ? "" : "  (" status[k] ")")
    }
  }' "$out/gecko.tsv" "$out/torch.tsv"
