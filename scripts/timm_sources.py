#!/usr/bin/python3
"""Writes registry/sources/timm_pretrained.json from timm itself, checking every layout.

    PYTHONPATH=/path/to/pytorch-image-models /usr/bin/python3 scripts/timm_sources.py [--check-only]
        [--record tests/oracle/timm_layouts]

For each timm architecture whose module layout is torchvision's, or a rename
of it that scripts/gen_registry.py's TIMM_LAYOUT_RULES describe (ResNet,
ResNeXt, Wide ResNet, ConvNeXt, EfficientNet B0-B4, ViT, RegNet X/Y), this
builds timm's model with random weights (batch-norm statistics and layer
scales randomised too), renames its state dict with the registry's rules
(the same regular expressions, applied in order, each on the result of the
previous, as modelzoo applies them), loads it strictly into torchvision's
model and compares the two models' eval outputs on one random batch. An
architecture whose keys, shapes or outputs differ is left out, with the
reason, under "excluded"; tags evaluated other than with a square centre
crop, under "skipped_tags".

Every pretrained tag of a kept architecture with ImageNet-1k's 1000 classes
and a centre crop becomes one entry, with the pretrained_cfg timm publishes
in the Hub repository's config.json. gen_registry.py turns the file into
registry/timm.json; rerun it after this script.

--record DIR writes, for one architecture of each renamed layout (RECORDED),
DIR/<modelzoo model>.tsv: every key of timm's state dict, the torchvision key
the registry's rules make of it, and timm's shape. tests/oracle/timm_layout.py
uses these tables to write torchvision's weights under timm's real names.

timm is not a dependency of modelzoo: this script is how the source file is
made and its layouts proven; the tests check the same rules on every run with
files in timm's layout made from torchvision's models (tests/oracle/timm_layout.py).
"""
import argparse
import json
import pathlib
import re
import sys

import torch
import torchvision

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import gen_registry  # noqa: E402

try:
    import timm
except ImportError:
    raise SystemExit("timm is not importable: put a checkout of pytorch-image-models on PYTHONPATH")

OUT = gen_registry.TIMM_SOURCES

REGNET_NAMES = {"002": "200mf", "004": "400mf", "006": "600mf", "008": "800mf", "016": "1_6gf", "032": "3_2gf",
                "040": "4gf", "064": "6_4gf", "080": "8gf", "120": "12gf", "160": "16gf", "320": "32gf",
                "1280": "128gf"}


def family(arch):
    """timm architecture -> (modelzoo model, layout, arch_options), or None when out of scope."""
    if re.fullmatch(r"resnet(18|34|50|101|152)|resnext50_32x4d|resnext101_(32x8d|64x4d)|wide_resnet(50|101)_2", arch):
        return arch, "torchvision", {}
    if re.fullmatch(r"convnext_(tiny|small|base|large)", arch):
        return arch, "timm_convnext", {}
    if re.fullmatch(r"efficientnet_b[0-4]", arch):
        # Not B5-B7: torchvision builds them with batch-norm eps 1e-3 (their TensorFlow origin), timm
        # with 1e-5; and timm's one ImageNet-1k B5 is evaluated with a squash crop. Not "tf_" models:
        # TensorFlow's asymmetric "same" padding.
        return arch, "timm_efficientnet", {}
    m = re.fullmatch(r"vit_(base|large|huge)_patch(14|16|32)_(224|384)", arch)
    if m:
        model = f"vit_{m[1][0]}_{m[2]}"
        return model, "timm_vit", ({"image_size": int(m[3])} if m[3] != "224" else {})
    m = re.fullmatch(r"regnet([xy])_(\d+)(_tv)?", arch)
    if m and m[2] in REGNET_NAMES:
        return f"regnet_{m[1]}_{REGNET_NAMES[m[2]]}", "timm_regnet", {}
    return None


def rename(state, rules):
    compiled = [(re.compile(p), r.replace("$", "\\")) for p, r in rules.get("key_renames", [])]
    reshapes = [(re.compile(p), dims) for p, dims in rules.get("key_reshapes", [])]
    out = {}
    for key, value in state.items():
        for pattern, replacement in compiled:
            m = pattern.fullmatch(key)
            if m:
                key = m.expand(replacement)
        for pattern, dims in reshapes:
            if pattern.fullmatch(key):
                value = value.reshape(dims)
        out[key] = value
    return out


def randomise(model):
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
            if m.weight is not None:
                m.weight.data.uniform_(0.5, 1.5)
        for name in ("gamma", "layer_scale"):
            p = getattr(m, name, None)
            if isinstance(p, torch.nn.Parameter):
                p.data.uniform_(0.5, 1.5)


def torchvision_model(model, options):
    kwargs = {k: v for k, v in options.items() if k == "image_size"}
    tv = torchvision.models.get_model(model, weights=None, **kwargs)
    if "norm_eps" in options:
        for m in tv.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eps = options["norm_eps"]
    return tv


def check(arch, model, layout, options, size):
    """None when timm's arch is modelzoo's model under the layout's rules, else the reason."""
    torch.manual_seed(0)
    t = timm.create_model(arch, pretrained=False)
    randomise(t)
    t.eval()
    tv = torchvision_model(model, options).eval()
    renamed = rename(t.state_dict(), gen_registry.TIMM_LAYOUT_RULES[layout]())
    want = {k: tuple(v.shape) for k, v in tv.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in renamed.items()}
    if set(want) != set(got):
        missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
        return f"keys differ from torchvision's {model}: missing {missing[:3]}, unexpected {extra[:3]}"
    shapes = [k for k in want if want[k] != got[k]]
    if shapes:
        k = shapes[0]
        return f"{len(shapes)} shapes differ from torchvision's {model}, e.g. {k}: {got[k]} vs {want[k]}"
    tv.load_state_dict(renamed, strict=True)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        a, b = t(x), tv(x)
    diff = ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()
    if diff > 1e-4:
        return f"outputs differ from torchvision's {model}: max relative difference {diff:.2e}"
    return diff


# One architecture per renamed layout, recorded for the tests.
RECORDED = ["convnext_tiny", "efficientnet_b0", "regnety_004", "vit_base_patch16_224"]


def record(arch, directory):
    model, layout, _ = family(arch)
    state = timm.create_model(arch, pretrained=False).state_dict()
    rules = gen_registry.TIMM_LAYOUT_RULES[layout]()
    lines = [f"# {arch} (timm {timm.__version__}) -> torchvision's {model} under registry layout {layout}",
             "# timm key\ttorchvision key\ttimm shape"]
    for key, value in state.items():
        (renamed,) = rename({key: value}, {"key_renames": rules.get("key_renames", [])}).keys()
        lines.append(f"{key}\t{renamed}\t{','.join(str(d) for d in value.shape)}")
    path = pathlib.Path(directory) / f"{model}.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"recorded {path}", file=sys.stderr)


def pretrained_cfg(cfg):
    out = {"input_size": list(cfg.input_size), "interpolation": cfg.interpolation, "crop_pct": cfg.crop_pct,
           "mean": list(cfg.mean), "std": list(cfg.std), "num_classes": cfg.num_classes}
    if cfg.test_input_size is not None:
        out["test_input_size"] = list(cfg.test_input_size)
    if cfg.test_crop_pct is not None:
        out["test_crop_pct"] = cfg.test_crop_pct
    out["license"] = cfg.license
    out["crop_mode"] = cfg.crop_mode
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check-only", action="store_true", help="report, do not write " + str(OUT))
    ap.add_argument("--record", metavar="DIR", help="write the key tables of RECORDED into DIR")
    ap.add_argument("--verdicts", metavar="LOG",
                    help="take each architecture's verdict from this script's report (its stderr) of an "
                         "earlier run with the same timm, instead of checking again (which takes minutes)")
    args = ap.parse_args()
    earlier = {}
    if args.verdicts:
        for line in pathlib.Path(args.verdicts).read_text(encoding="utf-8").splitlines():
            m = re.fullmatch(r"ok +(\S+) -> \S+ \(\S+\): \d+ tags, max rel diff (\S+)", line)
            if m:
                earlier[m[1]] = float(m[2])
            m = re.fullmatch(r"excluded (\S+) -> \S+: (.+)", line)
            if m:
                earlier[m[1]] = m[2]
    if args.record:
        pathlib.Path(args.record).mkdir(parents=True, exist_ok=True)
        for arch in RECORDED:
            record(arch, args.record)

    by_arch = {}
    for name in timm.list_pretrained():
        arch, _, tag = name.partition(".")
        if family(arch) is not None:
            by_arch.setdefault(arch, []).append(tag)

    known = set(gen_registry.classification_models())
    entries, excluded, checked, skipped = [], {}, {}, {}
    for arch in sorted(by_arch):
        model, layout, options = family(arch)
        if model not in known:
            excluded[arch] = {"model": model, "reason": f"modelzoo has no architecture {model}"}
            continue
        tags = []
        for tag in by_arch[arch]:
            cfg = timm.get_pretrained_cfg(f"{arch}.{tag}")
            if cfg.num_classes != 1000:
                continue
            if cfg.crop_mode != "center" or cfg.input_size[1] != cfg.input_size[2]:
                skipped[f"{arch}.{tag}"] = (f"evaluated with crop_mode {cfg.crop_mode!r} at {list(cfg.input_size)}: "
                                            "modelzoo's transforms take a square centre crop")
                continue
            if cfg.hf_hub_id is None or cfg.hf_hub_id != f"timm/{arch}.{tag}":
                continue
            tags.append((tag, cfg))
        if not tags:
            continue
        size = int(options.get("image_size", 224)) if layout == "timm_vit" else 96
        try:
            result = earlier[arch] if arch in earlier else check(arch, model, layout, options, size)
        except Exception as e:  # a layout that does not even build or load is reported, not fatal
            result = f"{type(e).__name__}: {e}"
        if isinstance(result, str):
            excluded[arch] = {"model": model, "reason": result}
            print(f"excluded {arch} -> {model}: {result}", file=sys.stderr)
            continue
        checked[arch] = {"model": model, "layout": layout, "max_relative_difference": float(f"{result:.3g}")}
        print(f"ok       {arch} -> {model} ({layout}): {len(tags)} tags, max rel diff {result:.2e}", file=sys.stderr)
        for tag, cfg in tags:
            entry = {"hf_hub_id": cfg.hf_hub_id, "architecture": arch, "tag": tag, "model": model,
                     "layout": layout, "file": "model.safetensors", "label_names": "imagenet1k",
                     "pretrained_cfg": pretrained_cfg(cfg)}
            if options:
                entry["arch_options"] = options
            entries.append(entry)

    doc = json.loads(OUT.read_text(encoding="utf-8"))
    doc["description"] = ("timm's pretrained configurations (the pretrained_cfg each Hub repository's config.json "
                          "carries) for the timm weights whose architecture modelzoo builds, with the verdict of "
                          "each architecture's layout check (checked / excluded) and the tags left out "
                          "(skipped_tags). scripts/gen_registry.py turns the entries into registry/timm.json. No "
                          "full SHA-256 of these files is stated by a source available here, so none is pinned: "
                          "the Hub's ETag (the SHA-256 of the LFS file) is verified while the file streams.")
    doc["generated_by"] = f"scripts/timm_sources.py with timm {timm.__version__}, torch {torch.__version__}, " \
                          f"torchvision {torchvision.__version__}"
    doc["checked"] = checked
    doc["excluded"] = excluded
    doc["skipped_tags"] = skipped
    doc["entries"] = entries
    print(f"{len(entries)} entries from {len(checked)} architectures; {len(excluded)} excluded", file=sys.stderr)
    if not args.check_only:
        OUT.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
