#!/usr/bin/python3
"""Writes one torchvision architecture's (random) weights in four file layouts
for the memory benchmark (scripts/bench_inference.sh):

    make_layouts.py ARCH OUT_DIR

  zip.pth                torch.save, zip format (storages 64-byte aligned)
  legacy_aligned.pth     pre-1.6 format, storages 4-byte aligned in the file
  legacy_misaligned.pth  pre-1.6 format, storages off by 2 bytes
  model.safetensors      safetensors (header padded to 8 bytes)
The legacy offsets are set by the length of a pad string in the state dict's
_metadata (which load_state_dict ignores). Prints one JSON object.
"""
import json
import os
import struct
import sys

import torch
import torchvision


def first_storage_offset(path, sd):
    probe = next(iter(sd.values())).contiguous().numpy().tobytes()[:256]
    with open(path, "rb") as f:
        return f.read().find(probe)


def save_legacy(sd, path, want_aligned):
    for pad in range(8):
        sd._metadata[""]["pad"] = "x" * pad
        torch.save(sd, path, _use_new_zipfile_serialization=False)
        off = first_storage_offset(path, sd)
        if (off % 4 == 0) == want_aligned and (want_aligned or off % 2 == 0):
            return off
    sys.exit("make_layouts: no pad gives the wanted alignment")


def save_safetensors(sd, path):
    header, blobs, pos = {}, [], 0
    for k, t in sd.items():
        b = t.contiguous().numpy().tobytes()
        header[k] = {"dtype": {torch.float32: "F32", torch.int64: "I64"}[t.dtype],
                     "shape": list(t.shape), "data_offsets": [pos, pos + len(b)]}
        blobs.append(b)
        pos += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    arch, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    sd = torchvision.models.get_model(arch, weights=None).state_dict()
    files = {}
    p = os.path.join(out, "zip.pth")
    torch.save(sd, p)
    files["zip"] = p
    for name, aligned in (("legacy_aligned", True), ("legacy_misaligned", False)):
        p = os.path.join(out, name + ".pth")
        off = save_legacy(sd, p, aligned)
        files[name] = p
        files[name + "_offset"] = off
    sd._metadata[""].pop("pad", None)
    p = os.path.join(out, "model.safetensors")
    save_safetensors(sd, p)
    files["safetensors"] = p
    print(json.dumps(files))


if __name__ == "__main__":
    main()
