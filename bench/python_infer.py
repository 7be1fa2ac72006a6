#!/usr/bin/python3
"""Forward-pass speed of a torchvision model in Python (eager), the reference
for bench/inference_bench (scripts/bench_inference.sh runs both).

    python_infer.py MODEL BATCH RUNS [--trace FILE]

Random weights, input BATCH x 3 x 224 x 224 (fixed seed), eval mode under
torch.inference_mode(); one warm-up forward, then RUNS timed ones; prints
one JSON line with the median and the model's FLOPs per image: the sum of
torch.profiler's FLOP counts (with_flops=True: convolutions, matrix products)
over one batch-1 forward. --trace also writes torch.jit.trace(model, x) (this batch size) to
FILE, for torch::jit::load in C++.
"""
import argparse
import json
import time

import torch
import torchvision


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("batch", type=int)
    ap.add_argument("runs", type=int)
    ap.add_argument("--trace")
    a = ap.parse_args()
    torch.manual_seed(0)
    model = torchvision.models.get_model(a.model, weights=None).eval()
    x = torch.randn(a.batch, 3, 224, 224)
    out = {"model": a.model, "mode": "torchvision", "batch": a.batch, "threads": torch.get_num_threads()}
    with torch.inference_mode():
        model(x)
        times = []
        for _ in range(a.runs):
            t0 = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    out["ms_per_batch"] = times[len(times) // 2]
    out["ms_per_image"] = out["ms_per_batch"] / a.batch
    with torch.no_grad(), torch.profiler.profile(with_flops=True) as prof:
        model(x[:1])
    flops = sum(e.flops for e in prof.key_averages()
                if e.flops and e.key not in ("aten::mul", "aten::add", "aten::mul_", "aten::add_"))
    out["gflop_per_image"] = flops / 1e9
    if a.trace:
        with torch.no_grad():
            traced = torch.jit.trace(model, x, check_trace=False)
        traced.save(a.trace)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
