#!/usr/bin/python3
"""Oracle for the detection tests: one torchvision detection model with
random weights, two images of different sizes, and what the model makes of
them, for modelzoo to reproduce.

    detection_oracle.py OUT_DIR ARCH [KWARGS_JSON]

The model is built as the pretrained path builds it (FrozenBatchNorm2d in
the v1 backbones, BatchNorm2d in the v2 ones), in eval mode, with builder
keyword arguments KWARGS_JSON (e.g. {"min_size": 320}). Writes into OUT_DIR:
  weights.pth  torch.save(model.state_dict())
  image<i>.png the input images, with KWARGS_JSON {"png": true}
  io.pth       torch.save of a flat dict of tensors:
                 image/<i>            the input images (3 x H x W in [0, 1])
                 batch                the transformed, padded batch
                 features/<name>      backbone (+ FPN) outputs
                 features64/<name>    the same computed in float64 (how far
                                      float32 rounding alone takes them)
                 proposals/<i>        RPN proposals per image (R-CNNs)
                 out/<i>/<key>        torchvision's detections (boxes, labels,
                                      scores, masks, keypoints, keypoints_scores)
                 single/<i>/<key>     the same for image i detected alone (with "png")
and prints a JSON manifest: state_dict keys and shapes, image sizes, the
names of the features, the number of detections and the calibration used.

Weights: every convolution / linear weight is drawn from N(0, 2 / fan_in),
biases from N(0, 0.01^2); norm layers get weight U(0.5, 1.5), bias
N(0, 0.1^2); the running mean and variance of BatchNorm2d and
FrozenBatchNorm2d are then set to their inputs' statistics on the two images
(normalise_statistics), so that activations do not grow block after block
and float32 rounding stays small (with drawn statistics the last MobileNet v3
blocks reached values of 3e4, and torchvision's own float32 output was 4e-4
of its scale away from float64). Random
weights leave the final logits either vanishing or exploding, so that every
score would sit at one value and ranking would compare noise. The last
layer of each head is therefore rescaled (weight and bias together) until
its output over the two images has a chosen standard deviation
(CALIBRATION below: e.g. RPN objectness logits 2, box class logits 4, box
deltas 0.1-0.5; the sigmoid heads of RetinaNet and FCOS also get a mean):
scores then spread over (0, 1), many boxes pass the default thresholds, and
NMS and top-k have real work to do.
"""
import contextlib
import copy
import json
import math
import os
import sys

import torch
import torchvision
from torchvision.models import detection as D
from torchvision.ops import misc

torch.manual_seed(0)
torch.set_num_threads(max(1, torch.get_num_threads()))

# Groups of layers calibrated from one forward pass each, in pipeline order
# (a group's layers do not feed each other).
CALIBRATION = {
    "rcnn": [[("rpn.head.cls_logits", 2.0), ("rpn.head.bbox_pred", 0.1)],
             [("roi_heads.box_predictor.cls_score", 4.0), ("roi_heads.box_predictor.bbox_pred", 0.5)],
             [("roi_heads.mask_predictor.mask_fcn_logits", 2.0),
              ("roi_heads.keypoint_predictor.kps_score_lowres", 2.0)]],
    # Sigmoid heads over many anchors also get a mean (a third value): with
    # the bias left as drawn, every logit would sit far on one side.
    "retinanet": [[("head.classification_head.cls_logits", 1.0, -2.0), ("head.regression_head.bbox_reg", 0.2, 0.0)]],
    "fcos": [[("head.classification_head.cls_logits", 1.0, -1.0), ("head.regression_head.bbox_reg", 0.5, 1.0),
              ("head.regression_head.bbox_ctrness", 1.0, 0.0)]],
    "ssd": [[("head.classification_head.module_list", 4.0), ("head.regression_head.module_list", 0.3)]],
}

# The backbone weights each builder would load when pretrained; passing them
# makes torchvision choose FrozenBatchNorm2d as the pretrained path does
# (their loading is skipped: nothing is downloaded).
BACKBONE = {
    "fasterrcnn_resnet50_fpn": "ResNet50_Weights", "maskrcnn_resnet50_fpn": "ResNet50_Weights",
    "keypointrcnn_resnet50_fpn": "ResNet50_Weights", "retinanet_resnet50_fpn": "ResNet50_Weights",
    "fcos_resnet50_fpn": "ResNet50_Weights",
    "fasterrcnn_mobilenet_v3_large_fpn": "MobileNet_V3_Large_Weights",
    "fasterrcnn_mobilenet_v3_large_320_fpn": "MobileNet_V3_Large_Weights",
}


@contextlib.contextmanager
def no_weight_loading():
    from torchvision.models import _api
    saved = torch.nn.Module.load_state_dict, _api.WeightsEnum.get_state_dict
    torch.nn.Module.load_state_dict = lambda self, *a, **k: None
    _api.WeightsEnum.get_state_dict = lambda self, *a, **k: {}
    try:
        yield
    finally:
        torch.nn.Module.load_state_dict, _api.WeightsEnum.get_state_dict = saved


def build(arch, kwargs):
    builder = getattr(D, arch)
    if arch in BACKBONE:
        weights = getattr(torchvision.models, BACKBONE[arch])
        weights = weights.IMAGENET1K_V1
        with no_weight_loading():
            return builder(weights=None, weights_backbone=weights, **kwargs)
    return builder(weights=None, weights_backbone=None, **kwargs)


def family(arch):
    for f in ("retinanet", "fcos", "ssd"):
        if arch.startswith(f):
            return f
    return "rcnn"


def randomise(model):
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear)):
                w = m.weight
                fan_in = w[0].numel() if not isinstance(m, torch.nn.ConvTranspose2d) else w.shape[0] * w[0, 0].numel()
                w.copy_(torch.randn(w.shape, generator=g) * math.sqrt(2.0 / fan_in))
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.01)
            elif isinstance(m, (torch.nn.BatchNorm2d, misc.FrozenBatchNorm2d, torch.nn.GroupNorm)):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
                if hasattr(m, "running_mean") and m.running_mean is not None:
                    m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                    m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)


def normalise_statistics(model, images):
    """Sets every BatchNorm2d / FrozenBatchNorm2d's running statistics to
    those of its input on `images`, in one forward pass (a pre-hook runs
    before the layer, after every earlier layer already got its own), so that
    activations keep unit scale through the network instead of doubling at
    every residual block: float32 rounding then stays near 1e-6 of the output
    scale, and a computation that rounds differently (the inference path's
    folded convolutions) is compared on outputs that are not noise-bound."""
    def hook(m, inputs):
        x = inputs[0]
        m.running_mean.copy_(x.mean((0, 2, 3)))
        if x.numel() // x.shape[1] >= 64:
            m.running_var.copy_(x.var((0, 2, 3), unbiased=False) + 1e-3)
        else:
            # A few values per channel (SSDlite's 2 x 2 and 1 x 1 levels for
            # two images): their variance can be near zero, and dividing by
            # it would amplify rounding; the layer's overall variance instead.
            m.running_var.fill_(float(x.var(unbiased=False)) + 1e-3)
    hooks = [m.register_forward_pre_hook(hook) for m in model.modules()
             if isinstance(m, (torch.nn.BatchNorm2d, misc.FrozenBatchNorm2d))]
    with torch.no_grad():
        model(images)
    for h in hooks:
        h.remove()


def calibrate(model, images, arch):
    used = []
    for group in CALIBRATION[family(arch)]:
        targets = []
        for spec in group:
            path, target = spec[0], spec[1]
            mean_target = spec[2] if len(spec) > 2 else None
            try:
                module = model.get_submodule(path)
            except AttributeError:
                continue
            if isinstance(module, torch.nn.ModuleList):  # SSD: the last conv of each level's block
                layers = [[x for x in blk.modules() if isinstance(x, torch.nn.Conv2d)][-1] for blk in module]
            else:
                layers = [module]
            targets.append((path, target, mean_target, layers, []))
        if not targets:
            continue
        hooks = []
        for _, _, _, layers, outs in targets:
            for l in layers:
                hooks.append(l.register_forward_hook(lambda m, i, o, outs=outs: outs.append(o.detach().flatten())))
        with torch.no_grad():
            model(images)
        for h in hooks:
            h.remove()
        for path, target, mean_target, layers, outs in targets:
            if not outs:
                continue
            values = torch.cat(outs)
            std, mean = float(values.std()), float(values.mean())
            factor = target / std if std > 0 else 1.0
            with torch.no_grad():
                for l in layers:
                    l.weight.mul_(factor)
                    if l.bias is not None:
                        l.bias.mul_(factor)
                        if mean_target is not None:
                            l.bias.sub_(mean * factor - mean_target)
            used.append({"layer": path, "std_before": std, "std": target, "mean": mean_target})
    return used


def smooth_image(h, w, seed):
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(1, 3, max(2, h // 16), max(2, w // 16), generator=g)
    img = torch.nn.functional.interpolate(low, size=(h, w), mode="bicubic", align_corners=False)[0]
    return (img + 0.05 * torch.rand(3, h, w, generator=g)).clamp(0, 1)


def main():
    out_dir, arch = sys.argv[1], sys.argv[2]
    kwargs = json.loads(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3] else {}
    sizes = kwargs.pop("image_sizes", [[240, 320], [200, 180]])
    save_png = kwargs.pop("png", False)
    os.makedirs(out_dir, exist_ok=True)
    model = build(arch, kwargs)
    randomise(model)
    model.eval()
    images = [smooth_image(h, w, 10 + i) for i, (h, w) in enumerate(sizes)]
    if save_png:  # 8-bit images, as a program reading image files sees them
        from PIL import Image
        quantised = [(im * 255).round().to(torch.uint8) for im in images]
        for i, q in enumerate(quantised):
            Image.fromarray(q.permute(1, 2, 0).numpy()).save(os.path.join(out_dir, f"image{i}.png"))
        images = [q.float() / 255 for q in quantised]
    normalise_statistics(model, images)
    calibration = calibrate(model, images, arch)

    captured = {}
    model.transform.register_forward_hook(lambda m, i, o: captured.__setitem__("batch", o[0]))
    model.backbone.register_forward_hook(lambda m, i, o: captured.__setitem__("features", o))
    if hasattr(model, "rpn"):
        model.rpn.register_forward_hook(lambda m, i, o: captured.__setitem__("proposals", o[0]))
    with torch.no_grad():
        out = model(images)

    io = {f"image/{i}": im for i, im in enumerate(images)}
    io["batch"] = captured["batch"].tensors
    features = captured["features"]
    if isinstance(features, torch.Tensor):
        features = {"0": features}
    for k, v in features.items():
        io[f"features/{k}"] = v
    exact = copy.deepcopy(model.backbone).double()
    with torch.no_grad():
        features64 = exact(captured["batch"].tensors.double())
    if isinstance(features64, torch.Tensor):
        features64 = {"0": features64}
    for k, v in features64.items():
        io[f"features64/{k}"] = v
    for i, p in enumerate(captured.get("proposals", [])):
        io[f"proposals/{i}"] = p
    for i, det in enumerate(out):
        for k, v in det.items():
            io[f"out/{i}/{k}"] = v
    if save_png:  # what a program detecting one image file at a time gets
        with torch.no_grad():
            for i, im in enumerate(images):
                for k, v in model([im])[0].items():
                    io[f"single/{i}/{k}"] = v
    torch.save(model.state_dict(), os.path.join(out_dir, "weights.pth"))
    torch.save(io, os.path.join(out_dir, "io.pth"))
    sd = model.state_dict()
    print(json.dumps({
        "arch": arch, "kwargs": kwargs, "torchvision": torchvision.__version__,
        "keys": list(sd.keys()), "shapes": [list(v.shape) for v in sd.values()],
        "images": len(images), "image_sizes": [list(s) for s in captured["batch"].image_sizes],
        "features": list(features.keys()), "out_keys": sorted(out[0].keys()),
        "detections": [int(d["boxes"].shape[0]) for d in out],
        "score_range": [[float(d["scores"].min()), float(d["scores"].max())] if len(d["scores"]) else [] for d in out],
        "calibration": calibration,
    }))


if __name__ == "__main__":
    main()
