#!/usr/bin/env bash
# The main job, offline: serve torchvision-generated vgg19 weights from a local
# nginx through a user registry, then `modelzoo::vgg19(true)` downloads,
# verifies, caches, loads and runs them; a second process gets them from the
# cache with no request; Python's torch.hub finds the same file.
# Usage: scripts/demo.sh      (installs packages, configures and builds first)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh vgg19_demo cache_tool
BUILD_DIR=${BUILD_DIR:-build}

D=$PWD/_demo
mkdir -p "$D/www"
trap 'scripts/local_nginx.sh stop "$D/nginx"' EXIT
BASE=$(scripts/local_nginx.sh start "$D/www" "$D/nginx")

if [ ! -f "$D/www/weights.json" ]; then
  echo "== generating vgg19 weights with torchvision (random values, legacy format as published)"
  /usr/bin/python3 scripts/make_weights.py --arch vgg19 --legacy --out "$D/www" > "$D/www/weights.json"
fi
# A user registry pointing vgg19's default weights at the local server.
/usr/bin/python3 - "$D/www/weights.json" "$BASE" "$D/registry.json" <<'PY'
import json, sys
info = json.load(open(sys.argv[1]))
doc = {"format_version": 1, "models": {"vgg19": {"arch": "vgg19", "default": "IMAGENET1K_V1", "weights": {
    "IMAGENET1K_V1": {"url": sys.argv[2] + "/" + info["file_name"], "sha256": info["sha256"], "size": info["size"],
    "categories": "imagenet1k"}}}}}
json.dump(doc, open(sys.argv[3], "w"), indent=2)
PY

export TORCH_HOME="$D/torch_home"          # the cache is torch.hub's: $TORCH_HOME/hub/checkpoints
export MODELZOO_REGISTRY="$D/registry.json"
unset MODELZOO_CACHE MODELZOO_OFFLINE MODELZOO_MIRROR MODELZOO_READONLY_CACHES
rm -rf "$TORCH_HOME"

echo
echo "== registry: $MODELZOO_REGISTRY"
"$BUILD_DIR/cache_tool/cache_tool" path vgg19 || true
echo
echo "== 1st process: vgg19(true) downloads, verifies, caches, loads"
/usr/bin/time -f "   wall %e s, peak RSS %M KiB" "$BUILD_DIR/examples/vgg19_demo"
echo
echo "== 2nd process: vgg19(true) from the cache"
/usr/bin/time -f "   wall %e s, peak RSS %M KiB" "$BUILD_DIR/examples/vgg19_demo"
echo
echo "== weight-file requests nginx served: $(grep -c 'GET /[^ ]*\.pth' "$D/nginx/access.log" || true) (one download, then none)"
: > "$D/nginx/access.log"
echo
echo "== offline, server stopped: MODELZOO_OFFLINE=1"
scripts/local_nginx.sh stop "$D/nginx"
MODELZOO_OFFLINE=1 "$BUILD_DIR/examples/vgg19_demo" | sed -n '2,3p'
echo
echo "== Python torch.hub looks in the same place and loads the file modelzoo cached"
/usr/bin/python3 - "$D/www/weights.json" <<'PY'
import json, os, sys, torch
info = json.load(open(sys.argv[1]))
sd = torch.hub.load_state_dict_from_url("http://127.0.0.1:9/" + info["file_name"], progress=False)
print(f"   torch.hub: {len(sd)} tensors from {os.path.join(torch.hub.get_dir(), 'checkpoints', info['file_name'])}")
PY
echo
"$BUILD_DIR/cache_tool/cache_tool" list | grep -E '^(MODEL|vgg19 )'
