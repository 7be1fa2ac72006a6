#!/usr/bin/python3
"""Oracle for the dense-task presets (transforms/presets.h): what torchvision
0.14's SemanticSegmentation, VideoClassification and OpticalFlow presets make
of PNG images and of a synthetic uint8 clip.

    presets_fixture.py OUT_DIR

Writes OUT_DIR/images/*.png, OUT_DIR/expected.pt (name -> tensor) and prints a
JSON manifest. Each case is run twice: through the preset object itself
(torchvision's tensor path: F.resize without antialiasing) and step by step
with antialias=True (its PIL path), so both of modelzoo's modes are checked.
"""
import json
import os
import sys

import torch
import torchvision
import torchvision.transforms.functional as F
from torchvision.io import ImageReadMode, decode_png
from torchvision.transforms import InterpolationMode
from torchvision.transforms._presets import OpticalFlow, SemanticSegmentation, VideoClassification

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from transforms_fixture import make_rgb, to_pil  # noqa: E402

IMAGES = [("landscape", 90, 140), ("portrait", 131, 77), ("square", 64, 64), ("small", 17, 23)]
SEGMENTATION = {"resize_size": [520], "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
VIDEO = {
    "r3d": {"resize_size": [128, 171], "crop_size": [112, 112],
            "mean": [0.43216, 0.394666, 0.37645], "std": [0.22803, 0.22145, 0.216989]},
    "mvit": {"resize_size": [256], "crop_size": [224, 224], "mean": [0.45, 0.45, 0.45], "std": [0.225, 0.225, 0.225]},
}


def segmentation_aa(img, p):
    out = F.resize(img, p["resize_size"], interpolation=InterpolationMode.BILINEAR, antialias=True)
    return F.normalize(F.convert_image_dtype(out, torch.float), mean=p["mean"], std=p["std"])


def video_aa(clip, p):
    t, c, h, w = clip.shape
    out = F.resize(clip, p["resize_size"], interpolation=InterpolationMode.BILINEAR, antialias=True)
    out = F.center_crop(out, p["crop_size"])
    out = F.normalize(F.convert_image_dtype(out, torch.float), mean=p["mean"], std=p["std"])
    return out.permute(1, 0, 2, 3)


def main():
    out = sys.argv[1]
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    expected = {}
    manifest = {"torchvision": torchvision.__version__, "segmentation": SEGMENTATION, "video": VIDEO,
                "images": [], "clips": [], "flow": None}
    seg = SemanticSegmentation(resize_size=SEGMENTATION["resize_size"][0])
    for i, (name, h, w) in enumerate(IMAGES):
        img = make_rgb(h, w, seed=300 + i)
        path = os.path.join(out, "images", name + ".png")
        to_pil(img).save(path)
        assert torch.equal(decode_png(torchvision.io.read_file(path), ImageReadMode.RGB), img)
        expected[f"seg/{name}/tensor"] = seg(img).contiguous()
        expected[f"seg/{name}/antialias"] = segmentation_aa(img, SEGMENTATION).contiguous()
        manifest["images"].append({"name": name, "file": path})
    # A synthetic clip: T x C x H x W uint8, frames shifted so they differ.
    base = make_rgb(96, 128, seed=400)
    clip = torch.stack([torch.roll(base, shifts=3 * k, dims=2) for k in range(5)])
    expected["clip"] = clip.contiguous()
    for name, p in VIDEO.items():
        preset = VideoClassification(crop_size=p["crop_size"], resize_size=p["resize_size"],
                                     mean=p["mean"], std=p["std"])
        expected[f"video/{name}/tensor"] = preset(clip).contiguous()
        expected[f"video/{name}/antialias"] = video_aa(clip, p).contiguous()
        expected[f"video/{name}/batch"] = preset(torch.stack([clip, clip.flip(-1)])).contiguous()
        manifest["clips"].append(name)
    a, b = make_rgb(41, 59, seed=500), make_rgb(41, 59, seed=501)
    fa, fb = OpticalFlow()(a, b)
    expected.update({"flow/a": a, "flow/b": b, "flow/out_a": fa.contiguous(), "flow/out_b": fb.contiguous()})
    manifest["flow"] = True
    path = os.path.join(out, "expected.pt")
    torch.save(expected, path)
    manifest["expected"] = path
    print(json.dumps(manifest))


if __name__ == "__main__":
    main()
