#!/usr/bin/env python3
"""Golden state-dict layouts from torchvision, for the models tests.

For each architecture, writes tests/oracle/goldens/<arch>.json: torchvision's
version and, in state_dict() order, every key with its shape and dtype. The C++
test builds the same architecture with modelzoo and requires the identical list,
so a weight file saved by torchvision loads into it key for key.

Run with Debian's interpreter (it has torch and torchvision 0.14.1):

    /usr/bin/python3 tests/oracle/models_goldens.py              # every family below
    /usr/bin/python3 tests/oracle/models_goldens.py vgg resnet50  # families and/or names
    /usr/bin/python3 tests/oracle/models_goldens.py --check       # compare, write nothing

Adding a family: one entry in FAMILIES (architecture names as torchvision's
builders are called; a (name, kwargs) pair when the builder needs arguments).
"""
import argparse
import json
import pathlib
import sys

import torch
import torchvision

FAMILIES = {
    "vgg": ["vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"],
    "googlenet": ["googlenet"],
    "inception": ["inception_v3"],
    "mnasnet": ["mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3"],
    "mobilenet": ["mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small"],
    "shufflenet": ["shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5",
                   "shufflenet_v2_x2_0"],
    "resnet": ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
               "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2"],
    "alexnet": ["alexnet"],
    "squeezenet": ["squeezenet1_0", "squeezenet1_1"],
    "densenet": ["densenet121", "densenet161", "densenet169", "densenet201"],
    "efficientnet": ["efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3",
                     "efficientnet_b4", "efficientnet_b5", "efficientnet_b6", "efficientnet_b7",
                     "efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l"],
    "regnet": ["regnet_x_400mf", "regnet_x_800mf", "regnet_x_1_6gf", "regnet_x_3_2gf", "regnet_x_8gf",
               "regnet_x_16gf", "regnet_x_32gf", "regnet_y_400mf", "regnet_y_800mf", "regnet_y_1_6gf",
               "regnet_y_3_2gf", "regnet_y_8gf", "regnet_y_16gf", "regnet_y_32gf", "regnet_y_128gf"],
    "convnext": ["convnext_tiny", "convnext_small", "convnext_base", "convnext_large"],
    "vit": ["vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14"],
    "swin": ["swin_t", "swin_s", "swin_b", "swin_v2_t", "swin_v2_s", "swin_v2_b"],
    "maxvit": ["maxvit_t"],
}

GOLDEN_DIR = pathlib.Path(__file__).resolve().parent / "goldens"


def expand(selection):
    """Architecture (name, kwargs) pairs for family or architecture names."""
    entries = {}
    for family, archs in FAMILIES.items():
        for a in archs:
            name, kwargs = (a, {}) if isinstance(a, str) else a
            entries[name] = (family, kwargs)
    if not selection:
        return [(n, f, k) for n, (f, k) in entries.items()]
    out = []
    for s in selection:
        if s in FAMILIES:
            out += [(n, f, k) for n, (f, k) in entries.items() if f == s]
        elif s in entries:
            out.append((s, *entries[s]))
        else:
            sys.exit(f"models_goldens: unknown family or architecture '{s}' "
                     f"(families: {', '.join(FAMILIES)}; add new ones to FAMILIES)")
    return out


def golden(name, family, kwargs):
    builder = getattr(torchvision.models, name)
    torch.manual_seed(0)
    model = builder(weights=None, **kwargs)
    entries = [{"key": k, "shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", "")}
               for k, v in model.state_dict().items()]
    return {
        "arch": name,
        "family": family,
        "kwargs": kwargs,
        "torchvision": torchvision.__version__,
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "state_dict": entries,
    }


def dump(g):
    """JSON with one state-dict entry per line (readable diffs)."""
    head = {k: v for k, v in g.items() if k != "state_dict"}
    lines = json.dumps(head, indent=2)[:-2] + ',\n  "state_dict": [\n'
    lines += ",\n".join("    " + json.dumps(e) for e in g["state_dict"])
    return lines + "\n  ]\n}\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="families or architectures (default: all)")
    ap.add_argument("--check", action="store_true", help="compare with the files, write nothing")
    args = ap.parse_args()
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    stale = []
    for name, family, kwargs in expand(args.names):
        text = dump(golden(name, family, kwargs))
        path = GOLDEN_DIR / f"{name}.json"
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(GOLDEN_DIR.parent.parent.parent)}")
    if stale:
        sys.exit("models_goldens: out of date: " + ", ".join(stale))


if __name__ == "__main__":
    main()
