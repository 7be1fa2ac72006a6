#!/usr/bin/env bash
# Benchmarks, side by side in one run (all traffic on 127.0.0.1):
#  1. download + verify of the weights file from a loopback nginx: cache_tool
#     fetch (SHA-256 while streaming, rename; default connections and one) vs `curl -o` (no hash)
#     vs `curl -o` then `sha256sum` vs Python torch.hub.download_url_to_file
#     with hash_prefix (the full SHA-256); then the latency of a cache hit,
#     in-process (bench/fetch_bench: fetch_to_cache 1000 times on a warm cache)
#     and as a whole `cache_tool fetch` process;
#  2. ("throttled") a file of random bytes of the same size from the same nginx
#     with a per-connection cap (limit_rate, LIMIT_RATE default 20m): cache_tool
#     fetch over 1, 4 and 8 connections vs `curl -o` vs `aria2c -x8 -s8` (no
#     hash) vs aria2c then sha256sum (Debian's aria2 is installed if missing);
#  3. warm-cache pretrained load in a fresh process: modelzoo's get_model vs
#     Python torchvision's get_model(weights="DEFAULT"), same file, same cache.
# Usage: scripts/bench.sh [MODEL] (default vgg19). RUNS=N repetitions, taken in
# turn and reported as the median (default 3; THROTTLED_RUNS, default 1, for
# part 2, about 75 s a run); PARTS="download throttled load" selects the parts
# (default all three); BUILD_DIR (default build), JOBS for the build.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-vgg19}
RUNS=${RUNS:-3}
PARTS=${PARTS:-download throttled load}
THROTTLED_RUNS=${THROTTLED_RUNS:-1}
export LIMIT_RATE=${LIMIT_RATE:-20m}
targets=(cache_tool fetch_bench)
case " $PARTS " in *" load "*) targets+=(load_bench) ;; esac
scripts/setup.sh "${targets[@]}"
if [[ " $PARTS " == *" throttled "* ]] && ! command -v aria2c >/dev/null; then
  echo "== installing aria2 (for the comparison)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends aria2 >/dev/null
fi
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
tools=(modelzoo modelzoo-1conn curl curl+sha256sum torch.hub)
declare -A dl_walls dl_rss
for _ in $(seq "$RUNS"); do
  for tool in "${tools[@]}"; do
    rm -rf "$TORCH_HOME"; mkdir -p "$CKPT"
    sync  # earlier runs' dirty pages are not this run's cost
    case $tool in
      modelzoo) r=$(timed x "$BUILD_DIR/cache_tool/cache_tool" --quiet fetch "$MODEL") ;;
      modelzoo-1conn) r=$(timed x "$BUILD_DIR/cache_tool/cache_tool" --quiet fetch --connections 1 "$MODEL") ;;
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
echo "(curl does not verify; modelzoo, curl+sha256sum and torch.hub check the SHA-256; modelzoo uses"
echo " ${MODELZOO_CONNECTIONS:-4} connections by default, modelzoo-1conn one)"

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

if [[ " $PARTS " == *" throttled "* ]]; then
echo
RND=random-$SIZE.bin
if [ ! -f "$B/www/$RND" ]; then head -c "$SIZE" /dev/urandom > "$B/www/$RND.tmp" && mv "$B/www/$RND.tmp" "$B/www/$RND"; fi
RSHA=$(sha256sum "$B/www/$RND" | cut -d' ' -f1)
cat > "$B/random_registry.json" <<JSON
{"format_version": 1, "models": {"bench_random": {"arch": "$MODEL", "default": "RANDOM", "weights": {
  "RANDOM": {"url": "$BASE/limited/$RND", "sha256": "$RSHA", "size": $SIZE, "categories": "imagenet1k"}}}}}
JSON
echo "== $SIZE random bytes from $BASE/limited/ (nginx limit_rate $LIMIT_RATE per connection), median of $THROTTLED_RUNS"
ttools=(modelzoo-1 modelzoo-4 modelzoo-8 curl aria2c-x8 aria2c-x8+sha256sum)
declare -A th_walls th_rss
for _ in $(seq "$THROTTLED_RUNS"); do
  for tool in "${ttools[@]}"; do
    rm -rf "$TORCH_HOME"; mkdir -p "$CKPT"
    sync
    case $tool in
      modelzoo-*) r=$(timed x "$BUILD_DIR/cache_tool/cache_tool" --quiet --registry "$B/random_registry.json" \
                        fetch --connections "${tool#modelzoo-}" bench_random) ;;
      curl) r=$(timed x curl -fsS -o "$CKPT/$RND" "$BASE/limited/$RND") ;;
      aria2c-x8) r=$(timed x aria2c -q -x8 -s8 --file-allocation=falloc --allow-overwrite=true -d "$CKPT" -o "$RND" \
                       "$BASE/limited/$RND") ;;
      aria2c-x8+sha256sum)
        r=$(timed x sh -c 'aria2c -q -x8 -s8 --file-allocation=falloc --allow-overwrite=true -d "$1" -o "$2" "$3" &&
                           echo "$4  $1/$2" | sha256sum -c --quiet -' sh "$CKPT" "$RND" "$BASE/limited/$RND" "$RSHA") ;;
    esac
    [ "$(stat -c %s "$CKPT/$RND")" = "$SIZE" ] || { echo "$tool: wrong size" >&2; exit 1; }
    th_walls[$tool]+="$(echo "$r" | cut -d' ' -f2) "; th_rss[$tool]+="$(echo "$r" | cut -d' ' -f3) "
  done
done
curl_w=$(printf '%s\n' ${th_walls[curl]} | median)
aria_w=$(printf '%s\n' ${th_walls[aria2c-x8]} | median)
printf '%-20s %9s %11s %11s %9s %12s\n' "tool" "wall" "peak RSS" "throughput" "vs curl" "vs aria2c-x8"
for tool in "${ttools[@]}"; do
  w=$(printf '%s\n' ${th_walls[$tool]} | median); m=$(printf '%s\n' ${th_rss[$tool]} | median)
  printf '%-20s %7s s %7s MiB %6s MB/s %7sx %11sx\n' "$tool" "$w" "$((m / 1024))" \
    "$(awk -v s="$SIZE" -v w="$w" 'BEGIN{printf "%.0f", s/1e6/w}')" \
    "$(awk -v a="$curl_w" -v b="$w" 'BEGIN{printf "%.2f", a/b}')" "$(awk -v a="$aria_w" -v b="$w" 'BEGIN{printf "%.2f", a/b}')"
done
echo "(vs columns: how many times faster than curl / aria2c -x8; curl and aria2c do not verify, modelzoo checks the SHA-256)"
rm -rf "$TORCH_HOME"
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
