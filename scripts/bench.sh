#!/usr/bin/env bash
# Benchmarks, side by side in one run (all traffic on 127.0.0.1):
#  1. warm-cache pretrained load in a fresh process: modelzoo's get_model vs
#     Python torchvision's get_model(weights="DEFAULT"), same file, same cache;
#  2. download of the same file from a loopback nginx: cache_tool fetch
#     (verifies SHA-256 while streaming) vs curl vs Python torch.hub.
# Usage: scripts/bench.sh [MODEL] (default vgg19); RUNS=N repetitions (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-vgg19}
RUNS=${RUNS:-3}
scripts/setup.sh load_bench cache_tool
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

timed() {  # timed LABEL CMD... -> "LABEL wall_s rss_kib"
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$B/time.txt" "$@" >"$B/out.txt" 2>"$B/err.txt" || { cat "$B/err.txt" >&2; exit 1; }
  echo "$label $(cat "$B/time.txt")"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "== download of $PUBLISHED ($SIZE bytes) from $BASE"
rows=()
for tool in modelzoo curl torch.hub; do
  walls=(); rss=()
  for _ in $(seq "$RUNS"); do
    rm -rf "$TORCH_HOME"; mkdir -p "$TORCH_HOME/hub/checkpoints"
    case $tool in
      modelzoo) r=$(timed x "$BUILD_DIR/cache_tool/cache_tool" --quiet fetch "$MODEL") ;;
      curl) r=$(timed x curl -fsS -o "$TORCH_HOME/hub/checkpoints/$PUBLISHED" "$BASE/$PUBLISHED") ;;
      torch.hub) r=$(timed x /usr/bin/python3 -c "import sys, torch; torch.hub.download_url_to_file(sys.argv[1], sys.argv[2], progress=False)" "$BASE/$PUBLISHED" "$TORCH_HOME/hub/checkpoints/$PUBLISHED") ;;
    esac
    walls+=("$(echo "$r" | cut -d' ' -f2)"); rss+=("$(echo "$r" | cut -d' ' -f3)")
  done
  w=$(printf '%s\n' "${walls[@]}" | median); m=$(printf '%s\n' "${rss[@]}" | median)
  rows+=("$(printf '%-22s %8s s %10s MiB %10s MB/s' "$tool" "$w" "$((m / 1024))" "$(awk -v s="$SIZE" -v w="$w" 'BEGIN{printf "%.0f", s/1e6/w}')")")
done
printf '%-22s %10s %14s %13s\n' "tool" "wall" "peak RSS" "throughput"
printf '%s\n' "${rows[@]}"
echo "(modelzoo also hashes every byte; curl and torch.hub.download_url_to_file without a hash prefix do not)"

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
