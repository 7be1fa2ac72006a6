#!/usr/bin/python3
"""Fixture for the hub's end-to-end tests: torchvision weights (random values,
real format and names) for each arch, saved in the zip and the legacy format,
plus an input batch and torchvision's eval-mode output on it.

    hub_fixture.py OUT_DIR ARCH [ARCH...] [--size 64]

GoogLeNet and Inception v3 are built as torchvision builds them for
pretrained weights (transform_input on, auxiliary heads present so the file
holds them, as the published files do); the expected output is eval mode's.

Writes OUT_DIR/<arch>-<sha8>.pth (zip), OUT_DIR/legacy/<arch>-<sha8>.pth,
OUT_DIR/<arch>_expected.pt ({'input', 'output'}) and prints a JSON manifest.
"""
import argparse
import hashlib
import json
import os

import torch
import torchvision


def save(obj, directory, stem, legacy):
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{stem}.tmp")
    torch.save(obj, tmp, _use_new_zipfile_serialization=not legacy)
    h = hashlib.sha256()
    with open(tmp, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    name = f"{stem}-{h.hexdigest()[:8]}.pth"
    os.replace(tmp, os.path.join(directory, name))
    return {"file_name": name, "path": os.path.join(directory, name), "sha256": h.hexdigest(),
            "size": os.path.getsize(os.path.join(directory, name))}


# Builder arguments torchvision's pretrained path uses for these architectures.
PRETRAINED_KWARGS = {
    "googlenet": {"transform_input": True, "aux_logits": True, "init_weights": False},
    "inception_v3": {"transform_input": True, "aux_logits": True, "init_weights": False},
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("archs", nargs="+")
    ap.add_argument("--size", type=int, default=64)
    args = ap.parse_args()
    manifest = {}
    for i, arch in enumerate(args.archs):
        torch.manual_seed(1000 + i)
        model = torchvision.models.get_model(arch, weights=None, **PRETRAINED_KWARGS.get(arch, {}))
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
        model.eval()
        x = torch.randn(2, 3, args.size, args.size)
        with torch.no_grad():
            y = model(x)
        sd = model.state_dict()
        entry = {"zip": save(sd, args.out, arch, legacy=False),
                 "legacy": save(sd, os.path.join(args.out, "legacy"), arch, legacy=True)}
        expected = os.path.join(args.out, f"{arch}_expected.pt")
        torch.save({"input": x, "output": y}, expected)
        entry["expected"] = expected
        manifest[arch] = entry
    print(json.dumps(manifest))


if __name__ == "__main__":
    main()
