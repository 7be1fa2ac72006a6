#!/usr/bin/python3
"""Oracle for the classify tool and the weights-metadata API: torchvision
weights with fixed random values, images, and what Python torchvision makes of
them (top-5 classes and probabilities).

    classify_fixture.py OUT_DIR

Writes into OUT_DIR and describes in the printed JSON manifest:
  mobilenet_v3_small-<sha8>.pth  a state dict with every parameter and BatchNorm
                                 statistic drawn at random (models_parity.randomise,
                                 seeded), so the top classes depend on the image
  caffe/mobilenet_v3_small_renamed-<sha8>.pth  the same tensors under other
                                 names (features.* -> backbone.*, classifier.* ->
                                 head.*), for an entry with key_renames
  vgg_conv-<sha8>.pth            VGG-19's 16 convolutions under caffe names
                                 (conv1_1.weight ... conv5_4.bias), as the
                                 classic style-transfer vgg_conv.pth
  images/*.png, images/*.jpg     inputs
and, per case, the top-5 (indices, probabilities) of
  softmax(model(preprocess(image))) for two preprocessings:
  "torchvision": bicubic, resize 232, crop 224, ImageNet mean/std, RGB in [0, 1]
  "caffe":       bilinear, resize 256, crop 224, BGR in [0, 255] minus
                 (103.939, 116.779, 123.68), std 1
plus VGG-19's features on a caffe-preprocessed image, for the vgg_conv file.
Preprocessing is torchvision's ImageClassification steps with antialias=True.
"""
import copy
import hashlib
import json
import os
import sys

import torch
import torchvision
import torchvision.transforms.functional as F
from torchvision.io import ImageReadMode, decode_image, read_file
from torchvision.transforms import InterpolationMode

from models_parity import randomise

PREPROCESS = {
    "torchvision": dict(resize_size=232, crop_size=224, interpolation="bicubic",
                        mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225], value_scale=1, channel_order="RGB"),
    "caffe": dict(resize_size=256, crop_size=224, interpolation="bilinear",
                  mean=[103.939, 116.779, 123.68], std=[1.0, 1.0, 1.0], value_scale=255, channel_order="BGR"),
}
VGG19_CONVS = ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3", "conv3_4",
               "conv4_1", "conv4_2", "conv4_3", "conv4_4", "conv5_1", "conv5_2", "conv5_3", "conv5_4"]
VGG19_CONV_INDEX = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]


def preprocess(img, t):
    modes = {"bilinear": InterpolationMode.BILINEAR, "bicubic": InterpolationMode.BICUBIC}
    x = F.resize(img, [t["resize_size"]], interpolation=modes[t["interpolation"]], antialias=True)
    x = F.center_crop(x, [t["crop_size"]])
    x = F.convert_image_dtype(x, torch.float)
    if t["value_scale"] != 1:
        x = x * t["value_scale"]
    if t["channel_order"] == "BGR":
        x = x.flip(-3)
    return F.normalize(x, mean=t["mean"], std=t["std"])


def save(obj, directory, stem):
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{stem}.tmp")
    torch.save(obj, tmp)
    with open(tmp, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    name = f"{stem}-{digest[:8]}.pth"
    path = os.path.join(directory, name)
    os.replace(tmp, path)
    return {"file_name": name, "path": path, "sha256": digest, "size": os.path.getsize(path)}


def make_image(h, w, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.linspace(0, 1, h).view(h, 1)
    x = torch.linspace(0, 1, w).view(1, w)
    base = torch.stack([255 * x * y, 255 * (1 - y) * torch.ones(1, w), 127.5 + 127.5 * torch.cos(9 * x - 5 * y)])
    noise = torch.randint(-30, 31, (3, h, w), generator=g).float()
    return (base + noise).clamp(0, 255).round().to(torch.uint8)


def main():
    out = sys.argv[1]
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    gen = torch.Generator().manual_seed(20240611)
    model = torchvision.models.mobilenet_v3_small(weights=None)
    randomise(model, gen)
    model.eval()
    images = []
    for name, h, w, seed in [("landscape.png", 300, 420, 1), ("portrait.png", 333, 250, 2), ("small.png", 97, 131, 3)]:
        path = os.path.join(out, "images", name)
        torchvision.io.write_png(make_image(h, w, seed), path)
        images.append(path)
    jpg = os.path.join(out, "images", "photo.jpg")
    torchvision.io.write_jpeg(make_image(280, 360, 4), jpg, quality=90)
    images.append(jpg)
    decoded = [decode_image(read_file(p), ImageReadMode.RGB) for p in images]

    # One model per preprocessing: the same random network, its last layer
    # scaled so that the logits on these images have a standard deviation of
    # 2 (softmax probabilities neither uniform nor saturated).
    models = {}
    for kind, t in PREPROCESS.items():
        m = copy.deepcopy(model)
        with torch.no_grad():
            logits = torch.cat([m(preprocess(img, t).unsqueeze(0)) for img in decoded])
            scale = 2.0 / logits.std().item()
            m.classifier[3].weight.mul_(scale)
            m.classifier[3].bias.mul_(scale)
        models[kind] = m

    manifest = {"torchvision": torchvision.__version__, "preprocess": PREPROCESS}
    manifest["weights"] = save(models["torchvision"].state_dict(), out, "mobilenet_v3_small")
    renamed = {("backbone." + k[len("features."):]) if k.startswith("features.") else
               ("head." + k[len("classifier."):]) if k.startswith("classifier.") else k: v
               for k, v in models["caffe"].state_dict().items()}
    manifest["renamed_weights"] = save(renamed, os.path.join(out, "caffe"), "mobilenet_v3_small_renamed")
    manifest["renamed_rules"] = [["backbone\\.(.*)", "features.$1"], ["head\\.(.*)", "classifier.$1"]]
    categories = torchvision.models.MobileNet_V3_Small_Weights.IMAGENET1K_V1.meta["categories"]

    cases = []
    for path, img in zip(images, decoded):
        for kind, t in PREPROCESS.items():
            with torch.no_grad():
                probs = torch.softmax(models[kind](preprocess(img, t).unsqueeze(0)).double(), dim=1)[0]
            p, i = probs.topk(6)
            gaps = (p[:-1] - p[1:]).min().item()
            assert gaps > 1e-4, f"{path} {kind}: top-6 probabilities too close to rank reliably ({gaps})"
            cases.append({"image": path, "preprocess": kind, "indices": i[:5].tolist(),
                          "probabilities": p[:5].tolist(), "labels": [categories[k] for k in i[:5].tolist()]})
    manifest["cases"] = cases

    # VGG-19 convolutions under caffe names, and the features of one image.
    torch.manual_seed(7)
    vgg = torch.nn.Module()
    vgg.features = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["E"])
    vgg.eval()
    conv = {}
    for name, idx in zip(VGG19_CONVS, VGG19_CONV_INDEX):
        layer = vgg.features[idx]
        with torch.no_grad():
            layer.weight.normal_(0, (2.0 / (layer.in_channels * 9)) ** 0.5)
            layer.bias.uniform_(-0.1, 0.1)
        conv[name + ".weight"] = layer.weight.detach().clone()
        conv[name + ".bias"] = layer.bias.detach().clone()
    manifest["vgg_conv"] = save(conv, out, "vgg_conv")
    t = dict(PREPROCESS["caffe"], resize_size=64, crop_size=64)
    img = decode_image(read_file(images[0]), ImageReadMode.RGB)
    x = preprocess(img, t).unsqueeze(0)
    with torch.no_grad():
        feats = vgg.features(x)
    expected = os.path.join(out, "vgg_features.pt")
    torch.save({"input": x, "features": feats}, expected)
    manifest["vgg_features"] = {"path": expected, "image": images[0], "resize_size": 64, "crop_size": 64}
    print(json.dumps(manifest))


if __name__ == "__main__":
    main()
