#!/usr/bin/env bash
# Benchmarks, side by side in one run (all traffic on 127.0.0.1):
#  1. download + verify of the weights file from a loopback nginx: cache_tool
#     fetch (SHA-256 while streaming, one fsync, rename) vs `curl -o` (no hash)
#     vs `curl -o` then `sha256sum` vs Python torch.hub.download_url_to_file
#     with hash_prefix (the full SHA-256); then the latency of a cache hit,
#     in-process (bench/fetch_bench: fetch_to_cache 1000 times on a warm cache)
#     and as a whole `cache_tool fetch` process;
#  2. warm-cache pretrained load in a fresh process: modelzoo's get_model vs
#     Python torchvision's get_model(weights="DEFAULT"), same file, same cache.
# Usage: scripts/bench.sh [MODEL] (default vgg19). RUNS=N repetitions, taken in
# turn and reported as the median (default 3); PARTS="download load" selects
# the parts (default both); BUILD_DIR (default build), JOBS for the build.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-vgg19}
RUNS=${RUNS:-3}
PARTS=${PARTS:-download load}
targets=(cache_tool fetch_bench)
case " $PARTS " in *" load "*) targets+=(load_bench) ;; esac
scripts/setup.sh "${targets[@]}"
BUILD_DIR=${BUILD_DIR:-build}

B=$PWD/_bench/$MODEL
mkdir -p "$B/www"
trap 'scripts/local_nginx.sh stop "$B/nginx"' EXIT
BASE=$(scripts/local_nginx.sh start "$B/www" "$B/nginx")
if [ ! -f "$B/www/weights.json" ]; then
  /usr/bin/python3 scripts/make_weights.py --arch "$MODEL" --legacy --out "$B/www" > "$B/www/weights.json"
fi
# Serve it under the published file name, so torchvision's builder finds it in
# torch.hub's cache; a user registry gives modelzoo its real hash.
/usr/bin/python3 - "$B" "$MODEL" "$BASE" <<'PY'
import json, os, sys, torchvision
b, model, base = sys.argv[1:]
info = json.load(open(os.path.join(b, "www", "weights.json")))
url = torchvision.models.get_model_weights(model).DEFAULT.url
published = os.path.basename(url)
dst = os.path.join(b, "www", published)
if not os.path.exists(dst):
    os.link(info["file"], dst)
tag = torchvision.models.get_model_weights(model).DEFAULT.name
doc = {"format_version": 1, "models": {model: {"arch": model, "default": tag, "weights": {
    tag: {"url": base + "/" + published, "sha256": info["sha256"], "size": info["size"], "categories": "imagenet1k"}}}}}
json.dump(doc, open(os.path.join(b, "registry.json"), "w"), indent=2)
open(os.path.join(b, "published"), "w").write(published)
PY
PUBLISHED=$(cat "$B/published")
export MODELZOO_REGISTRY="$B/registry.json"
export TORCH_HOME="$B/torch_home"
unset MODELZOO_CACHE MODELZOO_OFFLINE MODELZOO_MIRROR MODELZOO_READONLY_CACHES
SIZE=$(stat -c %s "$B/www/$PUBLISHED")

timed() {  # timed LABEL CMD... -> "LABEL wall_s rss_kib" (wall to the millisecond)
  local label=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$B/time.txt" "$@" >"$B/out.txt" 2>"$B/err.txt" || { cat "$B/err.txt" >&2; exit 1; }
  t1=$(date +%s.%N)
  echo "$label $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}') $(cat "$B/time.txt")"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

SHA=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sha256"])' "$B/www/weights.json")
CKPT=$TORCH_HOME/hub/checkpoints

if [[ " $PARTS " == *" download "* ]]; then
echo "== download + verify of $PUBLISHED ($SIZE bytes) from $BASE, median of $RUNS (runs taken in turn)"
tools=(modelzoo curl curl+sha256sum torch.hub)
declare -A dl_walls dl_rss
for _ in $(seq "$RUNS"); do
  for tool in "${tools[@]}"; do
    rm -rf "$TORCH_HOME"; mkdir -p "$CKPT"
    sync  # earlier runs' dirty pages are not this run's cost
    case $tool in
      modelzoo) r=$(timed x "$BUILD_DIR/cache_tool/cache_tool" --quiet fetch "$MODEL") ;;
      curl) r=$(timed x curl -fsS -o "$CKPT/$PUBLISHED" "$BASE/$PUBLISHED") ;;
      curl+sha256sum)
        r=$(timed x sh -c 'curl -fsS -o "$1" "$2" && echo "$3  $1" | sha256sum -c --quiet -' sh \
              "$CKPT/$PUBLISHED" "$BASE/$PUBLISHED" "$SHA") ;;
      torch.hub)
        r=$(timed x /usr/bin/python3 -c "import sys, torch; torch.hub.download_url_to_file(sys.argv[1], sys.argv[2], hash_prefix=sys.argv[3], progress=False)" \
              "$BASE/$PUBLISHED" "$CKPT/$PUBLISHED" "$SHA") ;;
    esac
    [ "$(stat -c %s "$CKPT/$PUBLISHED")" = "$SIZE" ] || { echo "$tool: wrong size" >&2; exit 1; }
    dl_walls[$tool]+="$(echo "$r" | cut -d' ' -f2) "; dl_rss[$tool]+="$(echo "$r" | cut -d' ' -f3) "
  done
done
curl_w=$(printf '%s\n' ${dl_walls[curl]} | median)
printf '%-16s %9s %16s %11s %11s %9s\n' "tool" "wall" "runs" "peak RSS" "throughput" "vs curl"
for tool in "${tools[@]}"; do
  w=$(printf '%s\n' ${dl_walls[$tool]} | median); m=$(printf '%s\n' ${dl_rss[$tool]} | median)
  printf '%-16s %7s s %16s %7s MiB %6s MB/s %8sx\n' "$tool" "$w" "$(echo ${dl_walls[$tool]} | tr ' ' '/')" "$((m / 1024))" \
    "$(awk -v s="$SIZE" -v w="$w" 'BEGIN{printf "%.0f", s/1e6/w}')" "$(awk -v a="$w" -v b="$curl_w" 'BEGIN{printf "%.2f", a/b}')"
done
echo "(curl does not verify; modelzoo, curl+sha256sum and torch.hub check the SHA-256)"

echo
echo "== cache hit (file cached and stamped)"
rm -rf "$TORCH_HOME"; mkdir -p "$CKPT"
"$BUILD_DIR/cache_tool/cache_tool" --quiet fetch "$MODEL"
hit=$("$BUILD_DIR/bench/fetch_bench" "$CKPT" "$BASE/$PUBLISHED" "$SHA" "$SIZE" 1000)
echo "fetch_to_cache, in process, 1000 hits: $hit"
hits=()
for _ in $(seq "$RUNS"); do
  r=$(timed x "$BUILD_DIR/cache_tool/cache_tool" --quiet fetch "$MODEL"); hits+=("$(echo "$r" | cut -d' ' -f2)")
done
echo "cache_tool fetch $MODEL, whole process on a warm cache: median $(printf '%s\n' "${hits[@]}" | median) s"
fi

if [[ " $PARTS " == *" load "* ]]; then
echo
echo "== warm-cache pretrained $MODEL in a fresh process (median of $RUNS)"
rm -rf "$TORCH_HOME"; mkdir -p "$TORCH_HOME/hub/checkpoints"
"$BUILD_DIR/cache_tool/cache_tool" --quiet fetch "$MODEL"
printf '%-34s %10s %14s\n' "" "wall" "peak RSS"
for side in modelzoo torchvision; do
  walls=(); rss=()
  for _ in $(seq "$RUNS"); do
    case $side in
      modelzoo) r=$(timed x "$BUILD_DIR/bench/load_bench" "$MODEL") ;;
      torchvision) r=$(timed x /usr/bin/python3 bench/python_load.py "$MODEL") ;;
    esac
    walls+=("$(echo "$r" | cut -d' ' -f2)"); rss+=("$(echo "$r" | cut -d' ' -f3)")
    detail=$(cat "$B/out.txt")
  done
  w=$(printf '%s\n' "${walls[@]}" | median); m=$(printf '%s\n' "${rss[@]}" | median)
  printf '%-34s %8s s %10s MiB   %s\n' "$side get_model($MODEL, DEFAULT)" "$w" "$((m / 1024))" "$detail"
done
fi
