#!/usr/bin/env bash
# The GPU device check (docs/targets/device-check.md), in two halves:
#
#   scripts/device-check.sh prepare OUT_DIR [BUILD_DIR]
#       here, with MLIR: builds gecko-device-prepare (BUILD_DIR, default
#       build/, configured by scripts/build.sh), compiles every op-level
#       golden case (test/data/golden, forward + backward) and the larger
#       random cases for sm_90 into OUT_DIR, validates it (gecko-device-run
#       --dry-run) and prints what the device tool must carry.
#   scripts/device-check.sh run OUT_DIR
#       on the GPU machine (CUDA driver, cmake, a C++ compiler, python3 +
#       torch; no MLIR/LLVM): builds the run driver and
#       libgecko_cuda_runtime.so from tools/gecko-device-check/standalone,
#       runs every case on the GPU (check + time), times the same ops in
#       PyTorch and prints one table; results in OUT_DIR.run/ and, when $OUT
#       is set (the device tool), copied there. Meant to finish in < 5 min.
#
# Exit status: 0 every case passed; 1 a case failed; 2 usage / build /
# invalid data; 3 no CUDA driver or GPU.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
limit_mib=64

usage() { sed -n 2,19p "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 2 ] || usage
mode=$1
dir=$2

case $mode in
prepare)
  build=${3:-$root/build}
  if [ ! -f "$build/build.ninja" ] && [ ! -f "$build/Makefile" ]; then
    echo "device-check: $build is not a configured build (scripts/build.sh $build)" >&2
    exit 2
  fi
  if [ -z "${GECKO_DEVICE_NO_BUILD:-}" ]; then
    cmake --build "$build" --target gecko-device-prepare gecko-device-run \
      -j "${GECKO_BUILD_JOBS:-2}" > /dev/null
  fi
  start=$(date +%s)
  # GECKO_DEVICE_PREPARE_ARGS replaces --random=all (tests: a subset).
  "$build/bin/gecko-device-prepare" -o "$dir" --quiet \
    ${GECKO_DEVICE_PREPARE_ARGS:---random=all} "$root/test/data/golden"
  "$build/bin/gecko-device-run" --dry-run "$dir" | tail -1
  echo "prepare took $(( $(date +%s) - start )) s"
  # What the device tool copies: the working tree (tracked and untracked,
  # not ignored) plus the carried OUT_DIR.
  tree=$(cd "$root" && git ls-files -z --cached --others --exclude-standard |
         xargs -0 du -cb 2>/dev/null | awk 'END { print $1 }')
  data=$(du -sb "$dir" | cut -f1)
  total=$(( tree + data ))
  awk -v d="$data" -v t="$tree" -v n="$dir" -v l="$limit_mib" 'BEGIN {
    printf "prepared %s: %.1f MiB; working tree %.1f MiB; carried in all %.1f MiB (limit %d MiB)\n",
      n, d / 1048576, t / 1048576, (d + t) / 1048576, l }' 
  if [ "$total" -ge $(( limit_mib * 1048576 )) ]; then
    echo "device-check: more than $limit_mib MiB to carry" >&2
    exit 2
  fi
  abs=$(cd "$dir" && pwd)
  rel=${abs#"$root"/}
  if [ "$rel" = "$abs" ] || ! (cd "$root" && git check-ignore -q "$rel"); then
    echo "device-check: note: $dir is not an ignored path inside the repository;" \
         "the device tool carries only such paths (e.g. build-device-check)" >&2
  fi
  echo "device tool: run(command=\"bash scripts/device-check.sh run $rel\", carry=[\"$rel\"], timeout_s=420)"
  ;;
run)
  [ -f "$dir/manifest.json" ] || { echo "device-check: $dir/manifest.json is missing (prepare first)" >&2; exit 2; }
  dir=$(cd "$dir" && pwd)
  # Beside the prepared directory, so that it is never carried by mistake.
  work=$dir.run
  rm -rf "$work"
  mkdir -p "$work/inputs"
  start=$(date +%s)
  command -v nvidia-smi > /dev/null &&
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  # The driver and the runtime, with this machine's compiler.
  bin=$work/build
  if [ -n "${GECKO_DEVICE_RUN_BIN:-}" ]; then
    bin=$GECKO_DEVICE_RUN_BIN   # prebuilt (tests; GECKO_DEVICE_RUN_RUNTIME)
  elif command -v cmake > /dev/null; then
    if ! { cmake -S "$root/tools/gecko-device-check/standalone" -B "$bin" \
             -DCMAKE_BUILD_TYPE=Release &&
           cmake --build "$bin" -j "$(nproc)"; } > "$work/build.log" 2>&1; then
      cat "$work/build.log" >&2
      echo "device-check: building the run driver failed" >&2
      exit 2
    fi
  else
    cxx=${CXX:-c++}
    mkdir -p "$bin"
    src=$root/tools/gecko-device-check/runner
    if ! { "$cxx" -std=c++17 -O2 -fPIC -shared -fvisibility=hidden \
             -I"$root/include" -I"$root/runtime" -o "$bin/libgecko_cuda_runtime.so" \
             "$root/runtime/cuda/CudaRuntimeWrappers.cpp" "$root/runtime/cuda/CudaDriver.cpp" -ldl &&
           "$cxx" -std=c++17 -O2 -rdynamic -I"$root/include" -o "$bin/gecko-device-run" \
             "$src/gecko-device-run.cpp" "$root/runtime/model/Json.cpp" "$src/Manifest.cpp" \
             "$src/TensorFile.cpp" "$src/MemrefCopy.cpp" -ldl; } > "$work/build.log" 2>&1; then
      cat "$work/build.log" >&2
      echo "device-check: building the run driver failed" >&2
      exit 2
    fi
  fi
  echo "built the run driver in $(( $(date +%s) - start )) s"
  set +e
  timeout "${GECKO_DEVICE_RUN_TIMEOUT:-180}" "$bin/gecko-device-run" \
    --runtime="${GECKO_DEVICE_RUN_RUNTIME:-$bin/libgecko_cuda_runtime.so}" \
    --tsv="$work/ours.tsv" --inputs-dir="$work/inputs" \
    --budget="${GECKO_DEVICE_RUN_BUDGET:-140}" ${GECKO_DEVICE_RUN_ARGS:-} \
    "$dir" 2>&1 | tee "$work/ours.log"
  status=${PIPESTATUS[0]}
  set -e
  if [ "$status" -eq 3 ] || [ "$status" -eq 2 ]; then
    exit "$status"
  fi
  [ "$status" -eq 124 ] && echo "device-check: gecko-device-run timed out; the table shows the cases it finished" >&2
  echo "== table"
  torch_status=0
  timeout "${GECKO_TORCH_TIMEOUT:-80}" python3 \
    "$root/tools/gecko-device-check/device_check_torch.py" "$dir" \
    --ours="$work/ours.tsv" --inputs-dir="$work/inputs" \
    --table="$work/table.txt" ${GECKO_TORCH_ARGS:-} 2> "$work/torch.log" || torch_status=$?
  if [ "$torch_status" -gt 1 ]; then
    echo "device-check: the PyTorch timing failed (status $torch_status, see $work/torch.log); table without it:" >&2
    tail -3 "$work/torch.log" >&2
    python3 "$root/tools/gecko-device-check/device_check_torch.py" "$dir" \
      --ours="$work/ours.tsv" --table="$work/table.txt" --no-torch || true
  fi
  echo "device check took $(( $(date +%s) - start )) s"
  if [ -n "${OUT:-}" ] && [ -d "$OUT" ] && [ -w "$OUT" ]; then
    cp "$work"/ours.tsv "$work"/ours.log "$work"/torch.log "$work"/table.txt "$OUT"/ 2> /dev/null || true
  fi
  [ "$status" -eq 0 ] || exit 1
  ;;
*)
  usage
  ;;
esac
