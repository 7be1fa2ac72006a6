#!/usr/bin/env bash
# Builds the fuzz targets (fuzz/) with clang, libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer into ${FUZZ_BUILD_DIR:-build-fuzz} (only the
# stages they need), seeds each target's corpus with the inputs its replay
# driver makes in code plus small files from ${MODELZOO_FUZZ_CORPUS:-../shared/corpus/real}
# when that directory exists, then runs every target for RUNS executions.
# Findings (crashing, leaking or slow inputs) land in
# ${FUZZ_BUILD_DIR}/findings/<target>-*; the corpus grows in ${FUZZ_BUILD_DIR}/corpus/<target>.
# Usage: scripts/fuzz.sh [-r RUNS] [-t SECONDS] [-j PARALLEL] [TARGET...]
#   default: 1000000 executions of each of the 8 targets, 1 at a time;
#   -t stops a target after SECONDS even if it has not reached RUNS
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=1000000
SECONDS_MAX=0
PARALLEL=1
while getopts "r:t:j:" opt; do
  case $opt in
    r) RUNS=$OPTARG ;;
    t) SECONDS_MAX=$OPTARG ;;
    j) PARALLEL=$OPTARG ;;
    *) echo "usage: $0 [-r RUNS] [-t SECONDS] [-j PARALLEL] [TARGET...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(zip legacy unpickler safetensors registry bundle png jpeg)

missing=()
for p in clang libfuzzer-14-dev cmake ccache libtorch-dev nlohmann-json3-dev libcli11-dev libjpeg62-turbo-dev libpng-dev \
         libcurl4-openssl-dev libssl-dev zlib1g-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

B=${FUZZ_BUILD_DIR:-build-fuzz}
export CCACHE_BASEDIR=$PWD
CC=clang CXX=clang++ cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMODELZOO_BUILD_FUZZERS=ON \
  -DMODELZOO_BUILD_TESTS=OFF -DMODELZOO_BUILD_TOOLS=OFF >/dev/null
for t in "${TARGETS[@]}"; do
  cmake --build "$B" --target "fuzz_$t" "fuzz_${t}_replay" -j "${JOBS:-2}"
done

CORPUS_SRC=${MODELZOO_FUZZ_CORPUS:-../shared/corpus/real}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
mkdir -p "$B/findings" "$B/logs"

run_one() {
  local t=$1 corpus="$B/corpus/$1"
  mkdir -p "$corpus"
  "$B/fuzz/fuzz_${t}_replay" --write-seeds "$corpus" >/dev/null
  case $t in
    zip|legacy|safetensors)
      if [ -d "$CORPUS_SRC" ]; then find "$CORPUS_SRC" -type f -size -64k -exec cp -n {} "$corpus/" \; ; fi ;;
    registry) cp -n registry/alexnet.json registry/vgg.json "$corpus/" ;;
  esac
  local start=$SECONDS
  if "$B/fuzz/fuzz_$t" -runs="$RUNS" -max_total_time="$SECONDS_MAX" -max_len=65536 -timeout=10 -rss_limit_mb=2560 -malloc_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$B/findings/$t-" "$corpus" >"$B/logs/$t.log" 2>&1; then
    status=ok
  else
    status=FAILED
  fi
  local execs
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$B/logs/$t.log" | grep -o '[0-9]*$' | tail -1)
  printf '%-12s %-6s %10s executions in %5d s (log %s)\n' "$t" "$status" "${execs:-?}" $((SECONDS - start)) "$B/logs/$t.log"
  [ "$status" = ok ]
}

fail=0
if [ "$PARALLEL" -le 1 ]; then
  for t in "${TARGETS[@]}"; do run_one "$t" || fail=1; done
else
  export -f run_one
  export B RUNS SECONDS_MAX CORPUS_SRC
  printf '%s\n' "${TARGETS[@]}" | xargs -P "$PARALLEL" -I{} bash -c 'run_one {}' || fail=1
fi
exit $fail
