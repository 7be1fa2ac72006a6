#!/usr/bin/env bash
# Forward time of the detection, segmentation, video and optical-flow models,
# side by side in one run: modelzoo plain (as built), modelzoo optimized
# (optimize_for_inference, the hub's default for pretrained models) and
# Python torchvision 0.14 eager, on the same inputs (random weights; one
# intra-op thread each, LibTorch's default here):
#   fasterrcnn_resnet50_fpn        one 800 x 1333 image (same weights file for C++ and Python)
#   ssdlite320_mobilenet_v3_large  the same 800 x 1333 image (resized to 320 x 320 inside)
#   deeplabv3_resnet50             one 1 x 3 x 520 x 520 image
#   r3d_18                         one 1 x 3 x 16 x 112 x 112 clip
#   raft_small                     two 1 x 3 x 480 x 640 frames, 12 flow updates
# Usage: scripts/bench_tasks.sh [MODEL...]; RUNS timed forwards after a
# warm-up (default 1: a plain fasterrcnn_resnet50_fpn forward takes about a
# minute). Prints one table: wall time (median), process CPU time, and the
# speed-up of the optimized path over torchvision eager.
set -euo pipefail
cd "$(dirname "$0")/.."
MODELS=${*:-fasterrcnn_resnet50_fpn ssdlite320_mobilenet_v3_large deeplabv3_resnet50 r3d_18 raft_small}
RUNS=${RUNS:-1}
BUILD_DIR=${BUILD_DIR:-build}
scripts/setup.sh detection_bench dense_bench >/dev/null
PY=/usr/bin/python3
B=$PWD/_bench/tasks
mkdir -p "$B"
unset MODELZOO_INFERENCE

jget() { $PY -c 'import json,sys; print(round(json.loads(sys.stdin.read())[sys.argv[1]]))' "$1"; }
echo "== forward time, one thread, median of $RUNS after a warm-up ($(nproc) cores; load average at start: $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-30s %16s %16s %16s %10s\n' model "mz plain ms" "mz optim ms" "torchvision ms" "optim vs tv"
printf '%-30s %16s %16s %16s %10s\n' "" "(wall / cpu)" "(wall / cpu)" "(wall / cpu)" "(wall)"
for m in $MODELS; do
  case "$m" in
    fasterrcnn_*|maskrcnn_*|keypointrcnn_*|retinanet_*|fcos_*|ssd*)
      w="$B/$m.pth"
      [ -f "$w" ] || $PY bench/python_detection.py --save "$w" --arch "$m"
      "$BUILD_DIR/bench/detection_bench" "$w" "$m" "$RUNS" both >"$B/cpp.txt"
      $PY bench/python_detection.py --load "$w" --arch "$m" --repeat "$RUNS" >"$B/py.txt" ;;
    *)
      "$BUILD_DIR/bench/dense_bench" "$m" "$RUNS" both >"$B/cpp.txt"
      $PY bench/python_dense.py "$m" "$RUNS" >"$B/py.txt" ;;
  esac
  plain=$(sed -n 1p "$B/cpp.txt"); optim=$(sed -n 2p "$B/cpp.txt"); tv=$(cat "$B/py.txt")
  pw=$(echo "$plain" | jget median_ms); pc=$(echo "$plain" | jget median_cpu_ms)
  ow=$(echo "$optim" | jget median_ms); oc=$(echo "$optim" | jget median_cpu_ms)
  tw=$(echo "$tv" | jget median_ms); tc=$(echo "$tv" | jget median_cpu_ms)
  printf '%-30s %16s %16s %16s %9sx\n' "$m" "$pw / $pc" "$ow / $oc" "$tw / $tc" \
    "$(awk -v t="$tw" -v o="$ow" 'BEGIN{printf "%.2f", t / o}')"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
