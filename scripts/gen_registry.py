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
Full digests and sizes come from registry/sources/ (see its README.md): the
table of values that public sources state for every torchvision 0.14 weights
entry, with how many independent sources agree, and the digests observed for
files whose name does not match their content. pinned_fields(builder, tag,
url) turns one row into registry fields for any task; nothing here is
computed or guessed.

Tasks: TASKS lists the functions that produce registry documents (one per
task: classification today). A task adds its own function, built from
pinned_fields(), add_model() and the helpers below.
"""

import argparse
import csv
import functools
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

SOURCES_DIR = REGISTRY_DIR / "sources"
# Full digests and sizes that public sources state, one row per torchvision 0.14 weights entry.
PUBLISHED_HASHES = SOURCES_DIR / "torchvision_0.14_hashes.tsv"
# Digests observed for files whose name token is not a prefix of their content.
OBSERVED_HASHES = SOURCES_DIR / "observed_hashes.tsv"
# A value is pinned with "multiple_sources" from this many agreeing sources on.
MIN_AGREEING_SOURCES = 2

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


def _read_tsv(path, columns):
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        if reader.fieldnames != columns:
            raise SystemExit(f"{path}: expected the columns {columns}, got {reader.fieldnames}")
        rows = {}
        for line, row in enumerate(reader, start=2):
            key = (row["builder"], row["weights_tag"])
            if key in rows:
                raise SystemExit(f"{path}:{line}: a second row for {key[0]} {key[1]}")
            rows[key] = row
        return rows


@functools.lru_cache(maxsize=None)
def published_hashes():
    """(builder, weights tag) -> row of registry/sources/torchvision_0.14_hashes.tsv."""
    return _read_tsv(PUBLISHED_HASHES, ["builder", "weights_tag", "file_name", "url", "sha256", "size",
                                        "sources", "evidence"])


@functools.lru_cache(maxsize=None)
def observed_hashes():
    """(builder, weights tag) -> row of registry/sources/observed_hashes.tsv."""
    return _read_tsv(OBSERVED_HASHES, ["builder", "weights_tag", "file_name", "url", "sha256", "sources",
                                       "evidence"])


def size_sources(evidence):
    """How many sources in an evidence cell state the byte size ("[+size..." or "[size only...")."""
    return evidence.count("[+size") + evidence.count("[size only")


def confidence(sources):
    return "multiple_sources" if sources >= MIN_AGREEING_SOURCES else "single_source"


def is_full_hex(value):
    return re.fullmatch(r"[0-9a-f]{64}", value) is not None


def pinned_fields(builder, tag, url):
    """The hash and size fields of the registry entry for torchvision's
    `builder` weights `tag` (any task), from registry/sources/:

    - a full "sha256" where public sources state one, with "hash_confidence"
      "multiple_sources" (at least MIN_AGREEING_SOURCES agree) or
      "single_source"; an observed digest (files whose name token does not
      match their bytes) takes the place of the name's prefix;
    - otherwise "sha256_prefix", the hex token in the file name;
    - "size" (null when unknown) with "size_confidence" likewise.

    Stops with a message when the tables have no row for (builder, tag), or
    when a row contradicts `url` or its own file name."""
    file_name = url.rsplit("/", 1)[-1]
    where = f"{PUBLISHED_HASHES.name}: {builder} {tag}"
    row = published_hashes().get((builder, tag))
    if row is None:
        raise SystemExit(f"{where}: no row (every weights entry needs one, with empty values when unknown)")
    if row["url"] != url or row["file_name"] != file_name:
        raise SystemExit(f"{where}: row names {row['url']}, torchvision {url}")
    match = HASH_REGEX.search(file_name)
    token = match.group(1) if match else ""
    fields = {}
    observed = observed_hashes().get((builder, tag))
    if observed is not None:
        owhere = f"{OBSERVED_HASHES.name}: {builder} {tag}"
        if observed["url"] != url or observed["file_name"] != file_name:
            raise SystemExit(f"{owhere}: row names {observed['url']}, torchvision {url}")
        if row["sha256"]:
            raise SystemExit(f"{owhere}: {PUBLISHED_HASHES.name} also gives a digest; keep one")
        digest, sources = observed["sha256"], int(observed["sources"])
        if not is_full_hex(digest) or sources < 1:
            raise SystemExit(f"{owhere}: expected 64 lowercase hex digits and a source count >= 1")
        if token and digest.startswith(token):
            raise SystemExit(f"{owhere}: the digest starts with the name's token; it belongs in "
                             f"{PUBLISHED_HASHES.name}")
        fields.update({"sha256": digest, "hash_confidence": confidence(sources)})
    elif row["sha256"]:
        digest, sources = row["sha256"], int(row["sources"])
        if not is_full_hex(digest) or not token or not digest.startswith(token) or sources < 1:
            raise SystemExit(f"{where}: expected 64 lowercase hex digits starting with the name's token "
                             f"{token!r} and a source count >= 1, got {digest!r}, {sources}")
        fields.update({"sha256": digest, "hash_confidence": confidence(sources)})
    else:
        if len(token) < 8:
            raise SystemExit(f"{file_name}: no hash prefix in the file name and no known digest")
        fields["sha256_prefix"] = token
    if row["size"]:
        n = size_sources(row["evidence"])
        if not row["size"].isdigit() or int(row["size"]) <= 0 or n < 1:
            raise SystemExit(f"{where}: expected a positive byte size backed by a source, got {row['size']!r}")
        fields.update({"size": int(row["size"]), "size_confidence": confidence(n)})
    else:
        fields["size"] = None
    return fields


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
    entry = {"url": weights.url}
    entry.update(pinned_fields(name, weights.name, weights.url))
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


def torchvision_version():
    return torchvision.__version__.split("a")[0].split("+")[0]


def add_model(files, stem, task, name, model):
    """Puts `model` under `name` into registry/<stem>.json (created on first use)."""
    doc = files.setdefault(
        stem + ".json",
        {
            "format_version": FORMAT_VERSION,
            "description": f"torchvision {torchvision_version()} {stem} {task} weights "
            "(generated by scripts/gen_registry.py).",
            "models": {},
        },
    )
    if name in doc["models"]:
        raise SystemExit(f"{stem}.json: {name} is produced twice")
    doc["models"][name] = model


def classification_documents(files):
    """Every image-classification builder of torchvision.models, one file per module."""
    imagenet = list(tvm.ResNet18_Weights.IMAGENET1K_V1.meta["categories"])
    files[CATEGORIES_FILE]["categories"][IMAGENET_TABLE] = imagenet
    for name in classification_models():
        enum = tvm.get_model_weights(name)
        model = {
            "arch": name,
            "default": enum.DEFAULT.name,
            "weights": {w.name: weights_entry(name, w, imagenet) for w in enum},
        }
        add_model(files, family_of(name), "classification", name, model)


# ---------------------------------------------------------------------------
# Detection (registry/detection.json): torchvision.models.detection's 12
# builders and their 13 weights entries.
# ---------------------------------------------------------------------------

DETECTION_FILE = "detection.json"
COCO_TABLE = "coco_detection"
COCO_PERSON_TABLE = "coco_person"

# Weights that torchvision loads with FrozenBatchNorm2d's eps overwritten to 0
# (detection._utils.overwrite_eps in the builders).
DETECTION_EPS0 = {
    ("fasterrcnn_resnet50_fpn", "COCO_V1"), ("maskrcnn_resnet50_fpn", "COCO_V1"),
    ("retinanet_resnet50_fpn", "COCO_V1"), ("keypointrcnn_resnet50_fpn", "COCO_V1"),
}


def detection_models():
    """Names of the detection builders, sorted."""
    return sorted(tvm.list_models(module=tvm.detection))


def detection_entry(name, weights, tables):
    entry = {"url": weights.url}
    entry.update(pinned_fields(name, weights.name, weights.url))
    categories = list(weights.meta["categories"])
    entry["categories"] = next((t for t, names in tables.items() if names == categories), categories)
    meta = {"num_params": int(weights.meta["num_params"]), "metrics": metrics_of(weights)}
    if "recipe" in weights.meta:
        meta["recipe"] = weights.meta["recipe"]
    meta["min_size"] = [int(x) for x in weights.meta["min_size"]]
    if "keypoint_names" in weights.meta:
        meta["keypoint_names"] = list(weights.meta["keypoint_names"])
    if (name, weights.name) in DETECTION_EPS0:
        meta["arch_options"] = {"frozen_bn_eps": 0.0}
    entry["meta"] = meta
    return entry


def build_detection():
    """{DETECTION_FILE: document}: the category tables (COCO's 91 slots with
    "N/A" for the unused ids, and the person table) and one model per builder."""
    tables = {
        COCO_TABLE: list(tvm.detection.FasterRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"]),
        COCO_PERSON_TABLE: list(tvm.detection.KeypointRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"]),
    }
    models = {}
    for name in detection_models():
        enum = tvm.get_model_weights(name)
        models[name] = {
            "arch": name,
            "task": "detection",
            "default": enum.DEFAULT.name,
            "weights": {w.name: detection_entry(name, w, tables) for w in enum},
        }
    version = torchvision_version()
    return {
        DETECTION_FILE: {
            "format_version": FORMAT_VERSION,
            "description": f"torchvision {version} detection weights (generated by scripts/gen_registry.py).",
            "categories": tables,
            "models": models,
        }
    }


def detection_documents(files):
    """registry/detection.json: torchvision.models.detection's builders."""
    files.update(build_detection())




def build():
    """{file name: document} for the whole registry."""
    files = {
        CATEGORIES_FILE: {
            "format_version": FORMAT_VERSION,
            "description": "Shared class-name tables (generated by scripts/gen_registry.py).",
            "categories": {},
        }
    }
    for task in TASKS:
        task(files)
    return files


def summary(docs):
    """Counts for the generator's last line: models, entries, and how they are pinned."""
    entries = [w for d in docs.values() for m in d.get("models", {}).values() for w in m["weights"].values()]
    n_models = len({name for d in docs.values() for name in d.get("models", {})})  # timm.json adds tags, not models
    full = [w for w in entries if "sha256" in w]
    single = [w for w in full if w.get("hash_confidence") == "single_source"]
    sizes = [w for w in entries if w.get("size") is not None]
    single_sizes = [w for w in sizes if w.get("size_confidence") == "single_source"]
    return (f"{len(docs)} files, {n_models} models, {len(entries)} weights entries; "
            f"{len(full)} full sha256 ({len(single)} single-source), "
            f"{len(sizes)} sizes ({len(single_sizes)} single-source)")
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
    entry = {"url": weights.url}
    entry.update(pinned_fields(name, weights.name, weights.url))
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

    version = torchvision_version()
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


def dense_documents(files):
    """registry/{segmentation,video,optical_flow}.json."""
    build_dense(files)


# ---------------------------------------------------------------------------
# timm's weights on the Hugging Face Hub (registry/timm.json), for the
# architectures modelzoo builds. registry/sources/timm_pretrained.json lists
# each weights' pretrained_cfg as timm publishes it; every entry becomes a tag
# TIMM_<TAG> of the modelzoo model, with url hf://timm/<arch>.<tag>/model.safetensors,
# the transforms timm's eval pipeline applies (resize the shorter side to
# floor(input / crop_pct), centre crop, mean/std), and the key rules of its
# module layout. The Hub identifies the file (its ETag is the SHA-256 of the
# LFS file); no source here states a full digest, so none is pinned.
# ---------------------------------------------------------------------------

TIMM_SOURCES = SOURCES_DIR / "timm_pretrained.json"
TIMM_FILE = "timm.json"


def timm_convnext_rules():
    """timm's ConvNeXt names -> torchvision's (applied in order, each on the result of the previous)."""
    renames = [[r"stem\.0\.(weight|bias)", "features.0.0.$1"], [r"stem\.1\.(weight|bias)", "features.0.1.$1"]]
    for stage, index in enumerate((1, 3, 5, 7)):
        renames.append([rf"stages\.{stage}\.blocks\.(\d+)\.(.+)", f"features.{index}.$1.$2"])
    for stage, index in ((1, 2), (2, 4), (3, 6)):
        renames.append([rf"stages\.{stage}\.downsample\.([01])\.(weight|bias)", f"features.{index}.$1.$2"])
    block = r"(features\.[1357]\.\d+)"
    renames += [
        [block + r"\.conv_dw\.(weight|bias)", "$1.block.0.$2"],
        [block + r"\.norm\.(weight|bias)", "$1.block.2.$2"],
        [block + r"\.mlp\.fc1\.(weight|bias)", "$1.block.3.$2"],
        [block + r"\.mlp\.fc2\.(weight|bias)", "$1.block.5.$2"],
        [block + r"\.gamma", "$1.layer_scale"],
        [r"head\.norm\.(weight|bias)", "classifier.0.$1"],
        [r"head\.fc\.(weight|bias)", "classifier.2.$1"],
    ]
    return {"key_renames": renames, "key_reshapes": [[r"features\.[1357]\.\d+\.layer_scale", [-1, 1, 1]]]}


def timm_efficientnet_rules():
    """timm's EfficientNet (B0-B7, the non-"tf_" models with symmetric padding) -> torchvision's.

    conv_stem/bn1 -> features.0, blocks.S.M -> features.(S+1).M, conv_head/bn2 -> features.8,
    classifier -> classifier.1. Stage 0 holds timm's DepthwiseSeparable blocks (torchvision's
    MBConv with expand ratio 1: dw, SE, project); the others hold InvertedResidual blocks
    (expand, dw, SE, project).
    """
    renames = [[r"conv_stem\.weight", "features.0.0.weight"], [r"bn1\.(.+)", "features.0.1.$1"],
               [r"conv_head\.weight", "features.8.0.weight"], [r"bn2\.(.+)", "features.8.1.$1"],
               [r"classifier\.(weight|bias)", "classifier.1.$1"]]
    for stage in range(7):
        renames.append([rf"blocks\.{stage}\.(\d+)\.(.+)", f"features.{stage + 1}.$1.$2"])
    first, rest = r"(features\.1\.\d+)", r"(features\.[2-7]\.\d+)"
    renames += [
        [first + r"\.conv_dw\.weight", "$1.block.0.0.weight"],
        [first + r"\.bn1\.(.+)", "$1.block.0.1.$2"],
        [first + r"\.se\.conv_reduce\.(weight|bias)", "$1.block.1.fc1.$2"],
        [first + r"\.se\.conv_expand\.(weight|bias)", "$1.block.1.fc2.$2"],
        [first + r"\.conv_pw\.weight", "$1.block.2.0.weight"],
        [first + r"\.bn2\.(.+)", "$1.block.2.1.$2"],
        [rest + r"\.conv_pw\.weight", "$1.block.0.0.weight"],
        [rest + r"\.bn1\.(.+)", "$1.block.0.1.$2"],
        [rest + r"\.conv_dw\.weight", "$1.block.1.0.weight"],
        [rest + r"\.bn2\.(.+)", "$1.block.1.1.$2"],
        [rest + r"\.se\.conv_reduce\.(weight|bias)", "$1.block.2.fc1.$2"],
        [rest + r"\.se\.conv_expand\.(weight|bias)", "$1.block.2.fc2.$2"],
        [rest + r"\.conv_pwl\.weight", "$1.block.3.0.weight"],
        [rest + r"\.bn3\.(.+)", "$1.block.3.1.$2"],
    ]
    return {"key_renames": renames}


def timm_vit_rules():
    """timm's VisionTransformer (class token, no register tokens) -> torchvision's."""
    layer = r"(encoder\.layers\.encoder_layer_\d+)"
    return {"key_renames": [
        [r"cls_token", "class_token"],
        [r"pos_embed", "encoder.pos_embedding"],
        [r"patch_embed\.proj\.(weight|bias)", "conv_proj.$1"],
        [r"norm\.(weight|bias)", "encoder.ln.$1"],
        [r"head\.(weight|bias)", "heads.head.$1"],
        [r"blocks\.(\d+)\.(.+)", "encoder.layers.encoder_layer_$1.$2"],
        [layer + r"\.norm1\.(weight|bias)", "$1.ln_1.$2"],
        [layer + r"\.attn\.qkv\.(weight|bias)", "$1.self_attention.in_proj_$2"],
        [layer + r"\.attn\.proj\.(weight|bias)", "$1.self_attention.out_proj.$2"],
        [layer + r"\.norm2\.(weight|bias)", "$1.ln_2.$2"],
        [layer + r"\.mlp\.fc1\.(weight|bias)", "$1.mlp.0.$2"],
        [layer + r"\.mlp\.fc2\.(weight|bias)", "$1.mlp.3.$2"],
    ]}


# The deepest stage of any RegNet modelzoo builds (regnet_x_32gf's third stage has 13 blocks).
TIMM_REGNET_MAX_DEPTH = 32


def timm_regnet_rules():
    """timm's RegNet (sN.bM, 1-based blocks) -> torchvision's trunk_output.blockN.blockN-(M-1)."""
    renames = [[r"stem\.conv\.weight", "stem.0.weight"], [r"stem\.bn\.(.+)", "stem.1.$1"],
               [r"head\.fc\.(weight|bias)", "fc.$1"]]
    for m in range(1, TIMM_REGNET_MAX_DEPTH + 1):
        renames.append([rf"s([1-4])\.b{m}\.(.+)", f"trunk_output.block$1.block$1-{m - 1}.$2"])
    block = r"(trunk_output\.block[1-4]\.block[1-4]-\d+)"
    for timm_name, tv_name in (("conv1.conv", "f.a.0"), ("conv1.bn", "f.a.1"), ("conv2.conv", "f.b.0"),
                               ("conv2.bn", "f.b.1"), ("se.fc1", "f.se.fc1"), ("se.fc2", "f.se.fc2"),
                               ("conv3.conv", "f.c.0"), ("conv3.bn", "f.c.1"),
                               ("downsample.conv", "proj.0"), ("downsample.bn", "proj.1")):
        renames.append([block + r"\." + re.escape(timm_name) + r"\.(.+)", f"$1.{tv_name}.$2"])
    return {"key_renames": renames}


TIMM_LAYOUT_RULES = {"torchvision": lambda: {}, "timm_convnext": timm_convnext_rules,
                     "timm_efficientnet": timm_efficientnet_rules, "timm_vit": timm_vit_rules,
                     "timm_regnet": timm_regnet_rules}


def timm_tag(tag):
    return "TIMM_" + re.sub(r"[^A-Za-z0-9]", "_", tag).upper()


def timm_entry(source, known_tables):
    cfg = source["pretrained_cfg"]
    crop = int(cfg["input_size"][1])
    if cfg["input_size"][1] != cfg["input_size"][2] or cfg.get("crop_mode", "center") != "center":
        raise SystemExit(f"{source['hf_hub_id']}: only square inputs with a centre crop map to modelzoo's transforms")
    labels = source["label_names"]
    if labels not in known_tables or cfg["num_classes"] != len(known_tables[labels]):
        raise SystemExit(f"{source['hf_hub_id']}: {cfg['num_classes']} classes do not match the table {labels!r}")
    meta = {
        "license": cfg["license"],
        "docs": f"https://huggingface.co/{source['hf_hub_id']}",
        "timm": {"hf_hub_id": source["hf_hub_id"], "architecture": source["architecture"], "tag": source["tag"],
                 "input_size": cfg["input_size"], "crop_pct": cfg["crop_pct"], "interpolation": cfg["interpolation"],
                 "test_input_size": cfg.get("test_input_size"), "test_crop_pct": cfg.get("test_crop_pct"),
                 "layout": source["layout"]},
    }
    if source.get("arch_options"):
        meta["arch_options"] = source["arch_options"]
    meta.update(TIMM_LAYOUT_RULES[source["layout"]]())
    return {
        "url": f"hf://{source['hf_hub_id']}/{source['file']}",
        "transforms": {
            "resize_size": int(math.floor(crop / cfg["crop_pct"])),
            "crop_size": crop,
            "interpolation": cfg["interpolation"],
            "mean": [float(x) for x in cfg["mean"]],
            "std": [float(x) for x in cfg["std"]],
            "value_scale": 1,
            "channel_order": "RGB",
        },
        "categories": labels,
        "meta": meta,
    }


def timm_documents(files):
    """registry/timm.json: timm's Hub weights as extra tags of modelzoo's models."""
    sources = json.loads(TIMM_SOURCES.read_text(encoding="utf-8"))
    tables = files[CATEGORIES_FILE]["categories"]
    known = set(classification_models())
    doc = {"format_version": FORMAT_VERSION,
           "description": "timm's weights on the Hugging Face Hub for modelzoo's architectures "
                          "(generated by scripts/gen_registry.py from registry/sources/timm_pretrained.json).",
           "models": {}}
    for source in sources["entries"]:
        if source["model"] not in known:
            raise SystemExit(f"{source['hf_hub_id']}: modelzoo has no architecture {source['model']!r}")
        weights = doc["models"].setdefault(source["model"], {"weights": {}})["weights"]
        tag = timm_tag(source["tag"])
        size = source.get("arch_options", {}).get("image_size")
        if size is not None:
            tag += f"_{size}"  # timm's vit_base_patch16_384 and _224 share tags; modelzoo's vit_b_16 holds both
        if tag in weights:
            raise SystemExit(f"{source['hf_hub_id']}: tag {tag} is produced twice")
        weights[tag] = timm_entry(source, tables)
    files[TIMM_FILE] = doc


# One function per task; each adds its models (and category tables) to `files`.
TASKS = [classification_documents, detection_documents, dense_documents, timm_documents]


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

    docs = build()
    texts = {name: dump(doc) + "\n" for name, doc in sorted(docs.items())}

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
        print(f"registry up to date: {summary(docs)}")
        return 0

    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (args.out / name).write_text(text, encoding="utf-8")
    print(f"wrote {summary(docs)} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
