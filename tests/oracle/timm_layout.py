#!/usr/bin/python3
"""Files of timm's layout for the Hub tests, made with Debian's torch.

    timm_layout.py OUT_DIR ARCH [ARCH...] [--size 64]

For each torchvision architecture (resnet50, convnext_tiny, ...): a seeded
random model (batch-norm statistics randomised too), its state dict renamed to
timm's module layout -- for ResNet that is torchvision's own names; for
ConvNeXt stem.N, stages.N.blocks.M.{conv_dw,norm,mlp.fc1,mlp.fc2,gamma},
stages.N.downsample.N, head.norm, head.fc, with gamma flattened to C as timm
keeps it -- written as OUT_DIR/<arch>.safetensors (the format the Hub serves;
written by hand, no safetensors package needed), plus OUT_DIR/<arch>.io.pth
with {'input', 'output'}: torchvision's eval-mode output on a random batch.
"""
import argparse
import json
import os
import re
import struct

import torch
import torchvision

DTYPES = {torch.float32: "F32", torch.int64: "I64"}


def timm_convnext_names(sd):
    out = {}
    stage_of = {1: 0, 3: 1, 5: 2, 7: 3}
    down_of = {2: 1, 4: 2, 6: 3}
    block = {"0": "conv_dw", "2": "norm", "3": "mlp.fc1", "5": "mlp.fc2"}
    for k, v in sd.items():
        m = re.fullmatch(r"features\.0\.([01])\.(weight|bias)", k)
        if m:
            out[f"stem.{m[1]}.{m[2]}"] = v
            continue
        m = re.fullmatch(r"features\.(\d)\.(\d+)\.layer_scale", k)
        if m:
            out[f"stages.{stage_of[int(m[1])]}.blocks.{m[2]}.gamma"] = v.reshape(-1)
            continue
        m = re.fullmatch(r"features\.(\d)\.(\d+)\.block\.(\d)\.(weight|bias)", k)
        if m:
            out[f"stages.{stage_of[int(m[1])]}.blocks.{m[2]}.{block[m[3]]}.{m[4]}"] = v
            continue
        m = re.fullmatch(r"features\.([246])\.([01])\.(weight|bias)", k)
        if m:
            out[f"stages.{down_of[int(m[1])]}.downsample.{m[2]}.{m[3]}"] = v
            continue
        m = re.fullmatch(r"classifier\.([02])\.(weight|bias)", k)
        if m:
            out[f"head.{'norm' if m[1] == '0' else 'fc'}.{m[2]}"] = v
            continue
        raise SystemExit(f"no timm name for {k}")
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
        named = timm_convnext_names(sd) if arch.startswith("convnext") else sd
        write_safetensors(os.path.join(args.out, arch + ".safetensors"), named)
        x = torch.randn(2, 3, args.size, args.size)
        with torch.no_grad():
            y = model(x)
        torch.save({"input": x, "output": y}, os.path.join(args.out, arch + ".io.pth"))
    print(json.dumps({"archs": args.archs}))


if __name__ == "__main__":
    main()
