#!/usr/bin/python3
"""The Python side of bench/dense_bench: the same forward passes with
torchvision (randomly initialised, eval mode, no grad): segmenters on one
1 x 3 x 520 x 520 image, video models on one 1 x 3 x 16 x 112 x 112 clip,
RAFT on two 1 x 3 x 480 x 640 frames with 12 updates.
    /usr/bin/python3 bench/python_dense.py MODEL [REPEATS]
Prints one JSON line (median and fastest wall time, median process CPU time,
in milliseconds; CPU time is the fairer figure on a busy machine)."""
import json
import sys
import time

import torch
import torchvision.models.optical_flow as tvflow
import torchvision.models.segmentation as tvseg
import torchvision.models.video as tvvideo

name = sys.argv[1]
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
torch.manual_seed(0)
if hasattr(tvflow, name):
    model = getattr(tvflow, name)(weights=None).eval()
    a, b = torch.rand(1, 3, 480, 640) * 2 - 1, torch.rand(1, 3, 480, 640) * 2 - 1
    run = lambda: model(a, b, num_flow_updates=12)  # noqa: E731
elif hasattr(tvvideo, name):
    model = getattr(tvvideo, name)(weights=None).eval()
    x = torch.randn(1, 3, 16, 112, 112)
    run = lambda: model(x)  # noqa: E731
else:
    model = getattr(tvseg, name)(weights=None, weights_backbone=None).eval()
    x = torch.randn(1, 3, 520, 520)
    run = lambda: model(x)  # noqa: E731
times, cpu = [], []
with torch.no_grad():
    run()
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        run()
        times.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
times.sort()
cpu.sort()
print(json.dumps({"model": name, "side": "torchvision", "threads": torch.get_num_threads(),
                  "median_ms": times[len(times) // 2], "min_ms": times[0], "median_cpu_ms": cpu[len(cpu) // 2]}))
