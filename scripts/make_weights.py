#!/usr/bin/python3
"""Writes torchvision weights for local serving: real format and parameter
names, random values (no real weights are needed or downloaded).

    make_weights.py --arch vgg19 --out DIR [--legacy] [--seed N]
                    [--base-url URL --registry FILE [--tag IMAGENET1K_V1]]

The file is named like torchvision's (<arch>-<first 8 hex of sha256>.pth).
With --registry, also writes a user registry that points the arch's weights
tag at <base-url>/<file> with the file's full SHA-256 and size. Prints one
JSON line describing the file.
"""
import argparse
import hashlib
import json
import os
import sys

import torch
import torchvision


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--legacy", action="store_true", help="pre-1.6 format, as most published torchvision files")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--num-classes", type=int, default=1000)
    ap.add_argument("--base-url")
    ap.add_argument("--registry")
    ap.add_argument("--tag", default="IMAGENET1K_V1")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    model = torchvision.models.get_model(args.arch, weights=None, num_classes=args.num_classes)
    # Batch-norm statistics away from their defaults, so loading them matters.
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
            m.num_batches_tracked.fill_(7)
    os.makedirs(args.out, exist_ok=True)
    tmp = os.path.join(args.out, f".{args.arch}.tmp")
    torch.save(model.state_dict(), tmp, _use_new_zipfile_serialization=not args.legacy)
    digest = sha256_of(tmp)
    name = f"{args.arch}-{digest[:8]}.pth"
    path = os.path.join(args.out, name)
    os.replace(tmp, path)
    info = {"arch": args.arch, "file": path, "file_name": name, "sha256": digest,
            "size": os.path.getsize(path), "format": "legacy" if args.legacy else "zip"}
    if args.registry:
        if not args.base_url:
            sys.exit("--registry needs --base-url")
        entry = {"url": args.base_url.rstrip("/") + "/" + name, "sha256": digest, "size": info["size"]}
        doc = {"format_version": 1,
               "models": {args.arch: {"arch": args.arch, "default": args.tag, "weights": {args.tag: entry}}}}
        with open(args.registry, "w") as f:
            json.dump(doc, f, indent=2)
        info["registry"] = args.registry
        info["url"] = entry["url"]
    print(json.dumps(info))


if __name__ == "__main__":
    main()
