#!/usr/bin/python3
"""Generates the built-in registry (registry/*.json) from torchvision.

Run with Debian's interpreter, which has torchvision 0.14:

    /usr/bin/python3 scripts/gen_registry.py           # (re)write registry/*.json
    /usr/bin/python3 scripts/gen_registry.py --check   # exit 1 if registry/ is stale

Every image-classification builder of torchvision.models (80 in 0.14; the
quantized, detection, segmentation, optical-flow and video models live in
sub-packages and are out of scope) becomes one registry entry, with every
weights tag of its Weights enum: URL, hash, size, transforms, categories and
metadata. Output: registry/categories.json holds the shared "imagenet1k"
table; registry/<family>.json holds the models of one torchvision module.

Hashes: torchvision publishes only the first hex digits of each file's
SHA-256, in its file name (vgg11-8a719046.pth); torch.hub checks that prefix.
Full digests (and sizes) are listed in KNOWN_FILES below only where they are
publicly known; nothing here is computed or guessed.
"""

import argparse
import json
import math
import pathlib
import re
import sys

import torchvision
import torchvision.models as tvm

FORMAT_VERSION = 1
ROOT = pathlib.Path(__file__).resolve().parent.parent
REGISTRY_DIR = ROOT / "registry"
CATEGORIES_FILE = "categories.json"
IMAGENET_TABLE = "imagenet1k"

# file name -> (full sha256, size in bytes or None)
KNOWN_FILES = {
    "vgg19-dcbb9e9d.pth": ("dcbb9e9dad569fff7a846263a77324fc34978fea2bfb039c012d710e1776ae44", 574673361),
    "vgg16-397923af.pth": ("397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0", None),
    "vgg19_bn-c79401a0.pth": ("c79401a0cf3cb42714e4182f5868c7a6f4f4534f5df9e956e2bb2098de41cbb6", None),
    "resnet18-f37072fd.pth": ("f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec", 46830571),
    "resnet34-b627a593.pth": ("b627a593bcbe140c234610266fe4f8ae95ea42fc881d091c9b6052e6b1d0590f", None),
    "resnet50-0676ba61.pth": ("0676ba61b6795bbe1773cffd859882e5e297624d384b6993f7c9e683e722fb8a", 102530333),
    "resnet101-63fe2227.pth": ("63fe2227b86e8f1f2063f43a75c84d195911b6a0eace650907dd3dc62dd49a0a", None),
    "resnet152-394f9c45.pth": ("394f9c45966e3651a89bbb78a48410a6755854ce4a5ab64927cf1c7247f85e58", None),
    "alexnet-owt-7be5be79.pth": ("7be5be791159472b1fbf3c69796f7cb30dca7ad8466c2df70058c37116cdee02", None),
}

# torchvision module -> registry file stem
FAMILY_FILES = {
    "mobilenetv2": "mobilenet",
    "mobilenetv3": "mobilenet",
    "shufflenetv2": "shufflenet",
    "swin_transformer": "swin",
    "vision_transformer": "vit",
}

# torch.hub's check_hash convention: the hex digits after a '-' right before
# the extension (torch/hub.py HASH_REGEX).
HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")

DEFAULT_TRANSFORM_KEYS = ("resize_size", "crop_size", "interpolation", "mean", "std")


def classification_models():
    """Names of the classification builders, sorted."""
    if not hasattr(tvm, "list_models"):
        raise SystemExit(f"torchvision {torchvision.__version__} has no models.list_models(); "
                         "run with Debian's /usr/bin/python3 (torchvision 0.14)")
    return sorted(tvm.list_models(module=tvm))


def family_of(name):
    module = tvm.get_model_builder(name).__module__.rsplit(".", 1)[-1]
    return FAMILY_FILES.get(module, module)


def hash_fields(file_name):
    if file_name in KNOWN_FILES:
        digest, size = KNOWN_FILES[file_name]
        if not digest.startswith(HASH_REGEX.search(file_name).group(1)):
            raise SystemExit(f"{file_name}: known digest does not start with the file name's hash")
        return {"sha256": digest, "size": size}
    match = HASH_REGEX.search(file_name)
    if match is None or len(match.group(1)) < 8:
        raise SystemExit(f"{file_name}: no hash prefix in the file name and no known digest")
    return {"sha256_prefix": match.group(1), "size": None}


def transforms_of(weights):
    preset = weights.transforms()
    values = {k: getattr(preset, k) for k in DEFAULT_TRANSFORM_KEYS}
    resize, crop = values["resize_size"], values["crop_size"]
    if len(resize) != 1 or len(crop) != 1:
        raise SystemExit(f"{weights}: expected one resize and one crop size, got {resize}, {crop}")
    return {
        "resize_size": int(resize[0]),
        "crop_size": int(crop[0]),
        "interpolation": values["interpolation"].value,
        "mean": [float(x) for x in values["mean"]],
        "std": [float(x) for x in values["std"]],
        "value_scale": 1,
        "channel_order": "RGB",
    }


def arch_options_of(name, weights):
    """The builder arguments torchvision overrides when it loads these weights
    (besides num_classes, which follows the categories)."""
    options = {}
    if name in ("googlenet", "inception_v3"):
        # Trained on inputs normalised the torchvision way, converted inside
        # the model. Whether the auxiliary heads are kept follows torchvision's
        # builder defaults (googlenet drops them, inception_v3 keeps them), so
        # it is not forced here; a caller may still pass aux_logits.
        options.update({"transform_input": True, "init_weights": False})
    if name.startswith("vit_"):
        options["image_size"] = int(weights.meta["min_size"][0])
    if name == "maxvit_t":
        options["input_size"] = [int(x) for x in weights.meta["min_size"]]
    return options


def metrics_of(weights):
    out = {}
    for dataset, metrics in weights.meta.get("_metrics", {}).items():
        out[dataset] = {
            k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in metrics.items()
        }
    return out


def weights_entry(name, weights, imagenet):
    file_name = weights.url.rsplit("/", 1)[-1]
    entry = {"url": weights.url}
    entry.update(hash_fields(file_name))
    entry["transforms"] = transforms_of(weights)
    categories = weights.meta.get("categories")
    if categories is None:
        entry["categories"] = None
    elif list(categories) == imagenet:
        entry["categories"] = IMAGENET_TABLE
    else:
        entry["categories"] = list(categories)
    meta = {"num_params": int(weights.meta["num_params"]), "metrics": metrics_of(weights)}
    if "recipe" in weights.meta:
        meta["recipe"] = weights.meta["recipe"]
    if "license" in weights.meta:
        meta["license"] = weights.meta["license"]
    meta["min_size"] = [int(x) for x in weights.meta["min_size"]]
    options = arch_options_of(name, weights)
    if options:
        meta["arch_options"] = options
    entry["meta"] = meta
    return entry


def build():
    """{file name: document} for the whole registry."""
    imagenet = list(tvm.ResNet18_Weights.IMAGENET1K_V1.meta["categories"])
    files = {
        CATEGORIES_FILE: {
            "format_version": FORMAT_VERSION,
            "description": "Shared class-name tables (generated by scripts/gen_registry.py).",
            "categories": {IMAGENET_TABLE: imagenet},
        }
    }
    for name in classification_models():
        enum = tvm.get_model_weights(name)
        model = {
            "arch": name,
            "default": enum.DEFAULT.name,
            "weights": {w.name: weights_entry(name, w, imagenet) for w in enum},
        }
        stem = family_of(name)
        doc = files.setdefault(
            stem + ".json",
            {
                "format_version": FORMAT_VERSION,
                "description": f"torchvision {torchvision.__version__.split('a')[0].split('+')[0]} "
                f"{stem} classification weights (generated by scripts/gen_registry.py).",
                "models": {},
            },
        )
        doc["models"][name] = model
    return files


# ---------------------------------------------------------------------------
# Segmentation, video classification and optical flow (torchvision.models
# .segmentation / .video / .optical_flow): one file per task, each with its
# own category table. Their presets are not ImageClassification, so besides
# the `transforms` fields that apply (resize_size when it is one number, mean,
# std, interpolation) every entry carries torchvision's preset as
# meta.preset = {"name": ..., arguments...}; modelzoo's presets read that.
# ---------------------------------------------------------------------------

DENSE_TASKS = (
    # (task, torchvision sub-package, registry file stem, category table name)
    ("segmentation", "segmentation", "segmentation", "coco_with_voc_labels"),
    ("video", "video", "video", "kinetics400"),
    ("optical_flow", "optical_flow", "optical_flow", None),
)

# Builder arguments torchvision forces when it loads these weights.
DENSE_ARCH_OPTIONS = {
    "fcn_resnet50": {"aux_loss": True},
    "fcn_resnet101": {"aux_loss": True},
    "deeplabv3_resnet50": {"aux_loss": True},
    "deeplabv3_resnet101": {"aux_loss": True},
    "deeplabv3_mobilenet_v3_large": {"aux_loss": True},
}


def dense_preset_of(weights):
    preset = weights.transforms()
    out = {"name": type(preset).__name__}
    for key in ("resize_size", "crop_size", "mean", "std"):
        if hasattr(preset, key):
            value = getattr(preset, key)
            out[key] = [int(v) for v in value] if key.endswith("_size") else [float(v) for v in value]
    if hasattr(preset, "interpolation"):
        out["interpolation"] = preset.interpolation.value
    return out


def dense_transforms_of(preset):
    t = {}
    if len(preset.get("resize_size", [])) == 1:
        t["resize_size"] = preset["resize_size"][0]
    if len(preset.get("crop_size", [])) == 1:
        t["crop_size"] = preset["crop_size"][0]
    elif len(set(preset.get("crop_size", []))) == 1:
        t["crop_size"] = preset["crop_size"][0]
    if "interpolation" in preset:
        t["interpolation"] = preset["interpolation"]
    for key in ("mean", "std"):
        if key in preset:
            t[key] = preset[key]
    if t:
        t.update(value_scale=1, channel_order="RGB")
    return t


def dense_weights_entry(name, weights, table, table_name):
    file_name = weights.url.rsplit("/", 1)[-1]
    entry = {"url": weights.url}
    entry.update(hash_fields(file_name))
    preset = dense_preset_of(weights)
    transforms = dense_transforms_of(preset)
    if transforms:
        entry["transforms"] = transforms
    categories = weights.meta.get("categories")
    if categories is not None:
        entry["categories"] = table_name if list(categories) == table else list(categories)
    meta = {"num_params": int(weights.meta["num_params"]), "metrics": metrics_of(weights)}
    for key in ("recipe", "license"):
        if key in weights.meta:
            meta[key] = weights.meta[key]
    if "min_size" in weights.meta:
        meta["min_size"] = [int(x) for x in weights.meta["min_size"]]
    if "min_temporal_size" in weights.meta:
        meta["min_temporal_size"] = int(weights.meta["min_temporal_size"])
    meta["preset"] = preset
    if name in DENSE_ARCH_OPTIONS:
        meta["arch_options"] = DENSE_ARCH_OPTIONS[name]
    entry["meta"] = meta
    return entry


def build_dense(files):
    """Adds registry/{segmentation,video,optical_flow}.json to `files`."""
    import importlib

    version = torchvision.__version__.split("a")[0].split("+")[0]
    for task, package, stem, table_name in DENSE_TASKS:
        module = importlib.import_module(f"torchvision.models.{package}")
        names = sorted(tvm.list_models(module=module))
        doc = {
            "format_version": FORMAT_VERSION,
            "description": f"torchvision {version} {task} weights (generated by scripts/gen_registry.py).",
        }
        table = None
        if table_name is not None:
            table = list(tvm.get_model_weights(names[0]).DEFAULT.meta["categories"])
            doc["categories"] = {table_name: table}
        models = {}
        for name in names:
            enum = tvm.get_model_weights(name)
            models[name] = {
                "arch": name,
                "task": task,
                "default": enum.DEFAULT.name,
                "weights": {w.name: dense_weights_entry(name, w, table, table_name) for w in enum},
            }
        doc["models"] = models
        files[stem + ".json"] = doc
    return files


def dump(value, indent=0):
    """JSON with objects indented and short scalar arrays on one line."""
    pad = "  " * indent
    inner = "  " * (indent + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(k)}: {dump(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list):
        parts = [dump(v, indent + 1) for v in value]
        flat = "[" + ", ".join(parts) + "]"
        if len(flat) <= 80 and not any(isinstance(v, (dict, list)) for v in value):
            return flat
        return "[\n" + ",\n".join(inner + p for p in parts) + "\n" + pad + "]"
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        raise ValueError("JSON cannot hold NaN or infinity")
    return json.dumps(value, ensure_ascii=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="compare registry/*.json with what would be generated; exit 1 if they differ")
    parser.add_argument("--out", type=pathlib.Path, default=REGISTRY_DIR, help="output directory")
    args = parser.parse_args()

    docs = build_dense(build())
    texts = {name: dump(doc) + "\n" for name, doc in sorted(docs.items())}
    n_models = sum(len(d.get("models", {})) for d in docs.values())
    n_weights = sum(len(m["weights"]) for d in docs.values() for m in d.get("models", {}).values())

    if args.check:
        problems = []
        for name, text in texts.items():
            path = args.out / name
            if not path.exists():
                problems.append(f"{path}: missing")
            elif path.read_text(encoding="utf-8") != text:
                problems.append(f"{path}: differs from the generator's output")
        for path in sorted(args.out.glob("*.json")):
            if path.name not in texts:
                problems.append(f"{path}: not produced by the generator")
        if problems:
            print("\n".join(problems), file=sys.stderr)
            print("run: /usr/bin/python3 scripts/gen_registry.py", file=sys.stderr)
            return 1
        print(f"registry up to date: {len(texts)} files, {n_models} models, {n_weights} weights entries")
        return 0

    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (args.out / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(texts)} files, {n_models} models, {n_weights} weights entries to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
