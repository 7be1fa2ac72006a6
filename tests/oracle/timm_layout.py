#!/usr/bin/python3
"""Files of timm's layout for the Hub tests, made with Debian's torch.

    timm_layout.py OUT_DIR ARCH [ARCH...] [--size 64]

For each torchvision architecture (resnet50, convnext_tiny, efficientnet_b0,
regnet_y_400mf, vit_b_16, ...): a seeded random model (batch-norm statistics
randomised too), its state dict renamed to timm's module layout -- for ResNet
that is torchvision's own names; for the others the names and shapes timm's
own model has, from the tables in timm_layouts/ (recorded from timm by
scripts/timm_sources.py --record; ConvNeXt's gamma, for one, is flat) --
written as OUT_DIR/<arch>.safetensors (the format the Hub serves;
written by hand, no safetensors package needed), plus OUT_DIR/<arch>.io.pth
with {'input', 'output'}: torchvision's eval-mode output on a random batch.
"""
import argparse
import json
import os
import struct

import torch
import torchvision

DTYPES = {torch.float32: "F32", torch.int64: "I64"}


TABLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "timm_layouts")


def timm_names(arch, sd):
    """torchvision's state dict under timm's names, from the table scripts/timm_sources.py recorded
    from timm itself (timm_layouts/<arch>.tsv); torchvision's names where timm keeps them (no table)."""
    path = os.path.join(TABLES, arch + ".tsv")
    if not os.path.exists(path):
        return sd
    timm_of = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            timm_key, tv_key, shape = line.rstrip("\n").split("\t")
            timm_of[tv_key] = (timm_key, [int(d) for d in shape.split(",") if d])
    out = {}
    for k, v in sd.items():
        if k not in timm_of:
            raise SystemExit(f"{path}: no timm name for {k}")
        name, shape = timm_of[k]
        out[name] = v.reshape(shape)
    return out


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        data = t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("archs", nargs="+")
    ap.add_argument("--size", type=int, default=64)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for i, arch in enumerate(args.archs):
        torch.manual_seed(2000 + i)
        model = torchvision.models.get_model(arch, weights=None)
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
            if hasattr(m, "layer_scale"):
                m.layer_scale.data.uniform_(0.5, 1.5)  # torchvision's 1e-6 would hide the blocks
        model.eval()
        sd = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
        write_safetensors(os.path.join(args.out, arch + ".safetensors"), timm_names(arch, sd))
        size = getattr(model, "image_size", args.size)  # a ViT takes only the size it was built for
        x = torch.randn(2, 3, size, size)
        with torch.no_grad():
            y = model(x)
        torch.save({"input": x, "output": y}, os.path.join(args.out, arch + ".io.pth"))
    print(json.dumps({"archs": args.archs}))


if __name__ == "__main__":
    main()
