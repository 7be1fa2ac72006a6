#!/usr/bin/python3
"""Oracle for the segment tool's end-to-end test: a randomised
lraspp_mobilenet_v3_large weights file (to be served over HTTP), PNG images,
and what torchvision makes of them the way segment does: SemanticSegmentation
preset (resize 520 with antialias=True, modelzoo's default), model(x)["out"]
resized back to the image size (bilinear, align_corners=False), per-pixel
argmax, pixel counts per class, and the class map blended into the image
(PASCAL VOC palette, alpha 0.5, background left as is).

    segment_fixture.py OUT_DIR     (prints a JSON manifest)
"""
import hashlib
import json
import os
import sys

import torch
import torchvision
import torchvision.models.segmentation as tvseg
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models_parity import deferred_init, randomise, replay  # noqa: E402
from transforms_fixture import make_rgb, to_pil  # noqa: E402

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def voc_color(i):
    r = g = b = 0
    c = i
    for j in range(8):
        r |= ((c >> 0) & 1) << (7 - j)
        g |= ((c >> 1) & 1) << (7 - j)
        b |= ((c >> 2) & 1) << (7 - j)
        c >>= 3
    return [r, g, b]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    with deferred_init() as calls:
        model = tvseg.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=21)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        replay(calls, randomise(model, gen, all_params=True))
        # Larger class-score spread: a few classes win large areas.
        model.classifier.low_classifier.bias.copy_(torch.linspace(-3, 3, 21))
    model.eval()
    tmp = os.path.join(out, "weights.tmp")
    torch.save(model.state_dict(), tmp)
    data = open(tmp, "rb").read()
    digest = hashlib.sha256(data).hexdigest()
    file_name = f"lraspp_test-{digest[:8]}.pth"
    os.replace(tmp, os.path.join(out, file_name))
    manifest = {"torchvision": torchvision.__version__,
                "weights": {"file_name": file_name, "sha256": digest, "size": len(data)}, "images": []}
    expected = {}
    for i, (h, w) in enumerate([(90, 140), (121, 77)]):
        img = make_rgb(h, w, seed=600 + i)
        path = os.path.join(out, f"scene{i}.png")
        to_pil(img).save(path)
        x = F.resize(img, [520], interpolation=InterpolationMode.BILINEAR, antialias=True)
        x = F.normalize(F.convert_image_dtype(x, torch.float), mean=MEAN, std=STD)
        with torch.no_grad():
            logits = model(x.unsqueeze(0))["out"]
            logits = torch.nn.functional.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
        labels = logits.argmax(1)[0]
        counts = torch.bincount(labels.flatten(), minlength=21)
        palette = torch.tensor([voc_color(k) for k in range(21)], dtype=torch.float)
        colours = palette[labels].permute(2, 0, 1)
        mixed = img.float() * 0.5 + colours * 0.5
        blended = torch.where((labels != 0).unsqueeze(0), mixed, img.float()).round().clamp(0, 255).to(torch.uint8)
        expected[f"blend/scene{i}"] = blended
        manifest["images"].append({"file": path, "size": [h, w], "stem": f"scene{i}",
                                   "counts": {str(k): int(c) for k, c in enumerate(counts.tolist()) if c > 0}})
    torch.save(expected, os.path.join(out, "expected.pt"))
    manifest["expected"] = os.path.join(out, "expected.pt")
    print(json.dumps(manifest))


if __name__ == "__main__":
    main()
