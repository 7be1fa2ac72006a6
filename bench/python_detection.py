#!/usr/bin/python3
"""Python side of bench/detection_bench.cpp: one torchvision detection forward
on an 800 x 1333 input (median of REPEAT, after a warm-up).

    python_detection.py --save W.pth [--arch ARCH]   # write random weights (FrozenBatchNorm2d layout)
    python_detection.py --load W.pth [--arch ARCH] [--repeat N]
"""
import argparse
import json
import time

import torch
import torchvision
from torchvision.models import detection as D
from torchvision.ops import misc


def build(arch):
    # The pretrained layout (FrozenBatchNorm2d) without downloading anything.
    from torchvision.models import _api
    saved = torch.nn.Module.load_state_dict, _api.WeightsEnum.get_state_dict
    torch.nn.Module.load_state_dict = lambda self, *a, **k: None
    _api.WeightsEnum.get_state_dict = lambda self, *a, **k: {}
    try:
        weights = torchvision.models.ResNet50_Weights.IMAGENET1K_V1 if "resnet50" in arch and "v2" not in arch else None
        model = getattr(D, arch)(weights=None, weights_backbone=weights)
    finally:
        torch.nn.Module.load_state_dict, _api.WeightsEnum.get_state_dict = saved
    return model


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--save")
    p.add_argument("--load")
    p.add_argument("--arch", default="fasterrcnn_resnet50_fpn")
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    model = build(a.arch).eval()
    if a.save:
        torch.manual_seed(0)
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, misc.FrozenBatchNorm2d):
                    m.running_var.uniform_(0.5, 1.5)
        torch.save(model.state_dict(), a.save)
        return
    model.load_state_dict(torch.load(a.load))
    torch.manual_seed(0)
    images = [torch.rand(3, 800, 1333)]
    with torch.no_grad():
        model(images)
        ms, cpu = [], []
        for _ in range(a.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            out = model(images)
            ms.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
    ms.sort()
    cpu.sort()
    print(json.dumps({"impl": "torchvision", "arch": a.arch, "height": 800, "width": 1333, "repeat": a.repeat,
                      "median_ms": ms[len(ms) // 2], "min_ms": ms[0], "median_cpu_ms": cpu[len(cpu) // 2], "detections": int(out[0]["boxes"].shape[0]),
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
