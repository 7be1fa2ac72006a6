#!/usr/bin/python3
"""Oracle for the ops tests: inputs and torchvision.ops' outputs for every
detection op modelzoo implements, on random and adversarial cases.

    ops_oracle.py OUT_DIR

Writes OUT_DIR/cases.pth, torch.save of a dict "<case>/<field>" -> tensor
(inputs and torchvision's outputs), and prints a JSON manifest
{"cases": [{"name", "op", "params"}]} naming every case and its scalar
parameters. Seeded, so every run writes the same cases.
"""
import json
import math
import os
import sys

import torch
import torchvision
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection.anchor_utils import AnchorGenerator, DefaultBoxGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.roi_heads import heatmaps_to_keypoints, paste_masks_in_image
from torchvision.ops import boxes as box_ops
from torchvision.ops import misc, poolers
from torchvision.ops.feature_pyramid_network import FeaturePyramidNetwork, LastLevelMaxPool, LastLevelP6P7

torch.manual_seed(0)
tensors = {}
cases = []


def add(name, op, params=None, **fields):
    cases.append({"name": name, "op": op, "params": params or {}})
    for k, v in fields.items():
        tensors[f"{name}/{k}"] = v.contiguous() if isinstance(v, torch.Tensor) else v


def random_boxes(n, size=100.0, min_wh=0.0, max_wh=40.0, dtype=torch.float32):
    xy = torch.rand(n, 2, dtype=dtype) * size
    wh = min_wh + torch.rand(n, 2, dtype=dtype) * (max_wh - min_wh)
    return torch.cat([xy, xy + wh], 1)


# --- box conversions, area, iou, clipping, small boxes ----------------------
b = random_boxes(20)
for fin in ("xyxy", "xywh", "cxcywh"):
    for fout in ("xyxy", "xywh", "cxcywh"):
        add(f"box_convert_{fin}_{fout}", "box_convert", {"in": fin, "out": fout},
            boxes=b, out=box_ops.box_convert(b, fin, fout))
b1 = torch.cat([random_boxes(15), torch.tensor([[5.0, 5.0, 5.0, 9.0], [1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0]])])
b2 = torch.cat([random_boxes(9), torch.tensor([[1.0, 1.0, 2.0, 2.0], [300.0, 300.0, 310.0, 320.0]])])
add("box_iou_random", "box_iou", boxes1=b1, boxes2=b2, out=box_ops.box_iou(b1, b2), area=box_ops.box_area(b1))
add("box_iou_empty", "box_iou", boxes1=torch.zeros(0, 4), boxes2=b2, out=box_ops.box_iou(torch.zeros(0, 4), b2),
    area=torch.zeros(0))
outside = torch.tensor([[-10.0, -5.0, 30.0, 20.0], [50.0, 60.0, 120.0, 200.0], [-30.0, -30.0, -1.0, -2.0],
                        [5.0, 5.0, 5.0, 5.0], [90.0, 10.0, 150.0, 12.0]])
add("clip_outside", "clip", {"height": 64, "width": 100}, boxes=outside,
    out=box_ops.clip_boxes_to_image(outside, (64, 100)))
add("remove_small", "remove_small", {"min_size": 1.0}, boxes=outside, out=box_ops.remove_small_boxes(outside, 1.0))
small = torch.cat([random_boxes(30, max_wh=0.05), random_boxes(30, max_wh=3)])
add("remove_small_mixed", "remove_small", {"min_size": 0.01}, boxes=small,
    out=box_ops.remove_small_boxes(small, 0.01))

# --- nms --------------------------------------------------------------------
def nms_case(name, boxes, scores, thr):
    add(name, "nms", {"iou_threshold": thr}, boxes=boxes, scores=scores, out=box_ops.nms(boxes, scores, thr))

for i, thr in enumerate((0.3, 0.5, 0.7)):
    bx = random_boxes(300, size=200.0, min_wh=1.0)
    nms_case(f"nms_random_{i}", bx, torch.rand(300), thr)
nms_case("nms_empty", torch.zeros(0, 4), torch.zeros(0), 0.5)
nms_case("nms_single", torch.tensor([[1.0, 2.0, 3.0, 4.0]]), torch.tensor([0.5]), 0.5)
same = torch.tensor([[10.0, 10.0, 20.0, 20.0]]).repeat(6, 1)
nms_case("nms_identical", same, torch.full((6,), 0.25), 0.5)
ties = random_boxes(80, size=50.0, min_wh=5.0)
nms_case("nms_tied_scores", ties, torch.randint(0, 4, (80,)).float() / 4, 0.4)
nms_case("nms_tied_all", ties, torch.ones(80), 0.4)
zero = torch.cat([random_boxes(10), torch.tensor([[3.0, 3.0, 3.0, 3.0], [3.0, 3.0, 3.0, 3.0], [4.0, 1.0, 4.0, 9.0]])])
nms_case("nms_zero_area", zero, torch.rand(13), 0.5)
nms_case("nms_threshold_1", ties, torch.rand(80), 1.0)
nms_case("nms_threshold_0", ties, torch.rand(80), 0.0)
bd = random_boxes(100, dtype=torch.float64)
nms_case("nms_double", bd, torch.rand(100, dtype=torch.float64), 0.5)


def bnms_case(name, boxes, scores, idxs, thr):
    add(name, "batched_nms", {"iou_threshold": thr}, boxes=boxes, scores=scores, idxs=idxs,
        out=box_ops.batched_nms(boxes, scores, idxs, thr))

bx = random_boxes(200, size=100.0, min_wh=2.0)
bnms_case("batched_nms_small", bx, torch.rand(200), torch.randint(0, 5, (200,)), 0.5)
bx = random_boxes(1500, size=300.0, min_wh=2.0)
bnms_case("batched_nms_large", bx, torch.rand(1500), torch.randint(0, 7, (1500,)), 0.5)
bnms_case("batched_nms_large_ties", bx, torch.randint(0, 3, (1500,)).float(), torch.randint(0, 4, (1500,)), 0.6)
bnms_case("batched_nms_small_ties", same, torch.full((6,), 0.5), torch.tensor([0, 1, 0, 1, 2, 2]), 0.5)
bnms_case("batched_nms_empty", torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.int64), 0.5)

# --- box coder --------------------------------------------------------------
props = random_boxes(50, min_wh=1.0)
codes = torch.randn(50, 8) * 2
codes[0, 2] = 20.0  # beyond bbox_xform_clip
codes[1, 7] = 30.0
for w in ((1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)):
    coder = det_utils.BoxCoder(w)
    tag = "_".join(str(int(v)) for v in w)
    ref = random_boxes(50, min_wh=1.0)
    add(f"box_coder_{tag}", "box_coder", {"weights": list(w)}, codes=codes, boxes=props, reference=ref,
        decoded=coder.decode_single(codes, props), encoded=coder.encode_single(ref, props))
lin = det_utils.BoxLinearCoder(True)
anchors = random_boxes(40, min_wh=1.0)
rel = torch.rand(40, 4) * 3
tgt = random_boxes(40, min_wh=1.0)
add("box_linear_coder", "box_linear_coder", anchors=anchors, codes=rel, targets=tgt,
    decoded=lin.decode(rel, anchors), encoded=lin.encode(anchors, tgt))

# --- roi_align --------------------------------------------------------------
feat = torch.randn(2, 3, 13, 17)
rois = torch.cat([torch.randint(0, 2, (12, 1)).float(), random_boxes(12, size=30.0, max_wh=20.0)], 1)
special = torch.tensor([
    [0, -10.0, -10.0, 5.0, 5.0],      # partly outside
    [1, 40.0, 30.0, 60.0, 50.0],      # entirely outside
    [0, 3.0, 3.0, 3.0, 3.0],          # zero area
    [1, 0.0, 0.0, 16.0, 12.0],        # the whole map
    [1, 2.5, 7.25, 9.75, 8.0],        # fractional, thin
])
rois = torch.cat([rois, special])
for aligned in (False, True):
    for sr in (0, 2, -1):
        for (oh, ow), scale in (((7, 7), 1.0), ((3, 5), 0.5)):
            name = f"roi_align_a{int(aligned)}_s{sr}_{oh}x{ow}_x{scale}"
            add(name, "roi_align", {"aligned": aligned, "sampling_ratio": sr, "output_h": oh, "output_w": ow,
                                     "spatial_scale": scale},
                input=feat, rois=rois,
                out=torchvision.ops.roi_align(feat, rois, (oh, ow), scale, sr, aligned))
add("roi_align_empty", "roi_align", {"aligned": False, "sampling_ratio": 2, "output_h": 7, "output_w": 7,
                                     "spatial_scale": 1.0},
    input=feat, rois=torch.zeros(0, 5), out=torchvision.ops.roi_align(feat, torch.zeros(0, 5), 7, 1.0, 2))
featd = feat.double()
add("roi_align_double", "roi_align", {"aligned": True, "sampling_ratio": 0, "output_h": 4, "output_w": 4,
                                      "spatial_scale": 0.25},
    input=featd, rois=rois.double(), out=torchvision.ops.roi_align(featd, rois.double(), 4, 0.25, 0, True))

# --- MultiScaleRoIAlign: boxes that map to every level ----------------------
image_shapes = [(200, 256), (160, 224)]
feats = {str(i): torch.randn(2, 4, 256 // 2 ** (i + 2), 256 // 2 ** (i + 2)) for i in range(4)}
feats["pool"] = torch.randn(2, 4, 4, 4)
sizes = [8.0, 30.0, 100.0, 150.0, 224.0, 300.0, 500.0, 112.0, 447.9, 448.0]
boxes = []
for img in range(2):
    rows = []
    for s in sizes:
        x, y = float(torch.rand(1) * 50), float(torch.rand(1) * 50)
        rows.append([x, y, x + s, y + s * 0.5 if img else y + s])
    boxes.append(torch.tensor(rows))
pool = poolers.MultiScaleRoIAlign(["0", "1", "2", "3"], 7, 2)
out = pool(feats, boxes, image_shapes)
add("multiscale", "multiscale", {"names": ["0", "1", "2", "3"], "output": 7, "sampling_ratio": 2,
                                  "image_shapes": image_shapes, "feature_names": list(feats.keys())},
    boxes0=boxes[0], boxes1=boxes[1], out=out,
    levels=poolers.LevelMapper(2, 5)(boxes), **{f"feat_{k}": v for k, v in feats.items()})
pool1 = poolers.MultiScaleRoIAlign(["1"], (5, 3), 0)
add("multiscale_one_level", "multiscale", {"names": ["1"], "output": [5, 3], "sampling_ratio": 0,
                                            "image_shapes": image_shapes, "feature_names": list(feats.keys())},
    boxes0=boxes[0], boxes1=boxes[1], out=pool1(feats, boxes, image_shapes),
    levels=torch.zeros(0), **{f"feat_{k}": v for k, v in feats.items()})

# --- FrozenBatchNorm2d --------------------------------------------------------
fbn = misc.FrozenBatchNorm2d(6)
fbn.weight.copy_(torch.randn(6)); fbn.bias.copy_(torch.randn(6))
fbn.running_mean.copy_(torch.randn(6)); fbn.running_var.copy_(torch.rand(6) + 0.1)
x = torch.randn(2, 6, 5, 4)
add("frozen_bn", "frozen_bn", {"eps": 1e-5}, x=x, out=fbn(x), **{k: v for k, v in fbn.state_dict().items()})
fbn.eps = 0.0
add("frozen_bn_eps0", "frozen_bn", {"eps": 0.0}, x=x, out=fbn(x), **{k: v for k, v in fbn.state_dict().items()})

# --- FeaturePyramidNetwork ----------------------------------------------------
def fpn_case(name, in_list, extra, norm, params):
    torch.manual_seed(len(cases))
    fpn = FeaturePyramidNetwork(in_list, 8, extra_blocks=extra, norm_layer=norm)
    with torch.no_grad():
        for k, v in fpn.state_dict().items():
            if v.dtype.is_floating_point:
                v.copy_(torch.rand_like(v) + 0.5 if "running_var" in k else torch.randn_like(v) * 0.3)
    fpn.eval()
    xs = {f"c{i}": torch.randn(1, c, 32 // 2 ** i + (i == 1), 24 // 2 ** i) for i, c in enumerate(in_list)}
    with torch.no_grad():
        out = fpn(xs)
    fields = {f"sd.{k}": v for k, v in fpn.state_dict().items()}
    fields.update({f"in.{k}": v for k, v in xs.items()})
    fields.update({f"out.{k}": v for k, v in out.items()})
    params.update({"in_channels": in_list, "out_names": list(out.keys()), "in_names": list(xs.keys()),
                   "state_keys": list(fpn.state_dict().keys())})
    add(name, "fpn", params, **fields)

fpn_case("fpn_maxpool", [4, 6, 10], LastLevelMaxPool(), None, {"extra": "maxpool", "norm": "none"})
fpn_case("fpn_p6p7_c5", [4, 6, 10], LastLevelP6P7(10, 8), None, {"extra": "p6p7", "p6p7_in": 10, "norm": "none"})
fpn_case("fpn_p6p7_p5", [4, 6, 10], LastLevelP6P7(8, 8), None, {"extra": "p6p7", "p6p7_in": 8, "norm": "none"})
fpn_case("fpn_bn", [4, 6], LastLevelMaxPool(), torch.nn.BatchNorm2d, {"extra": "maxpool", "norm": "bn"})

# --- anchors ------------------------------------------------------------------
def anchor_case(name, sizes, ratios, image_size, fsizes):
    gen = AnchorGenerator(sizes, ratios)
    imgs = ImageList(torch.zeros(2, 3, *image_size), [image_size, image_size])
    fmaps = [torch.zeros(2, 1, h, w) for h, w in fsizes]
    out = gen(imgs, fmaps)
    add(name, "anchors", {"sizes": [list(s) for s in sizes], "ratios": [list(r) for r in ratios],
                          "image_size": list(image_size), "feature_sizes": [list(f) for f in fsizes]},
        out=out[0], out1=out[1])

anchor_case("anchors_rpn", ((32,), (64,), (128,), (256,), (512,)), ((0.5, 1.0, 2.0),) * 5, (800, 1216),
            [(200, 304), (100, 152), (50, 76), (25, 38), (13, 19)])
anchor_case("anchors_mobilenet", ((32, 64, 128, 256, 512),) * 3, ((0.5, 1.0, 2.0),) * 3, (320, 320),
            [(20, 20), (10, 10), (5, 5)])
retina = tuple((x, int(x * 2 ** (1.0 / 3)), int(x * 2 ** (2.0 / 3))) for x in [32, 64, 128, 256, 512])
anchor_case("anchors_retinanet", retina, ((0.5, 1.0, 2.0),) * 5, (512, 640),
            [(64, 80), (32, 40), (16, 20), (8, 10), (4, 5)])
anchor_case("anchors_fcos", ((8,), (16,), (32,), (64,), (128,)), ((1.0,),) * 5, (96, 128),
            [(12, 16), (6, 8), (3, 4), (2, 2), (1, 1)])


def default_box_case(name, ratios, image_size, fsizes, **kw):
    gen = DefaultBoxGenerator(ratios, **kw)
    imgs = ImageList(torch.zeros(2, 3, *image_size), [image_size, image_size])
    fmaps = [torch.zeros(2, 1, h, w) for h, w in fsizes]
    out = gen(imgs, fmaps)
    params = {"ratios": ratios, "image_size": list(image_size), "feature_sizes": [list(f) for f in fsizes],
              "scales_out": gen.scales}
    params.update({k: v for k, v in kw.items()})
    add(name, "default_boxes", params, out=out[0])

default_box_case("default_boxes_ssd300", [[2], [2, 3], [2, 3], [2, 3], [2], [2]], (300, 300),
                 [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)],
                 scales=[0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05], steps=[8, 16, 32, 64, 100, 300])
default_box_case("default_boxes_ssdlite", [[2, 3] for _ in range(6)], (320, 320),
                 [(20, 20), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)], min_ratio=0.2, max_ratio=0.95)
default_box_case("default_boxes_noclip", [[2, 3]], (64, 48), [(4, 3)], clip=False)

# --- masks and keypoints ----------------------------------------------------------
masks = torch.rand(7, 1, 28, 28)
mboxes = torch.tensor([[10.0, 12.0, 50.0, 40.0], [0.0, 0.0, 99.0, 79.0], [-5.0, -3.0, 20.0, 10.0],
                       [90.0, 70.0, 120.0, 95.0], [30.0, 30.0, 30.0, 30.0], [33.3, 12.7, 34.1, 60.2],
                       [60.0, 5.0, 99.9, 79.9]])
add("paste_masks", "paste_masks", {"height": 80, "width": 100}, masks=masks, boxes=mboxes,
    out=paste_masks_in_image(masks, mboxes, (80, 100)))
add("paste_masks_empty", "paste_masks", {"height": 20, "width": 30}, masks=torch.zeros(0, 1, 28, 28),
    boxes=torch.zeros(0, 4), out=paste_masks_in_image(torch.zeros(0, 1, 28, 28), torch.zeros(0, 4), (20, 30)))
maps = torch.randn(5, 17, 56, 56)
kboxes = torch.tensor([[10.0, 12.0, 50.0, 40.0], [0.0, 0.0, 99.0, 79.0], [30.0, 30.0, 30.5, 30.2],
                       [33.3, 12.7, 34.1, 60.2], [5.0, 5.0, 200.0, 17.0]])
kp, ks = heatmaps_to_keypoints(maps, kboxes)
add("keypoints", "keypoints", maps=maps, rois=kboxes, out=kp, scores=ks)
kp, ks = heatmaps_to_keypoints(torch.zeros(0, 17, 56, 56), torch.zeros(0, 4))
add("keypoints_empty", "keypoints", maps=torch.zeros(0, 17, 56, 56), rois=torch.zeros(0, 4), out=kp, scores=ks)

out_dir = sys.argv[1]
os.makedirs(out_dir, exist_ok=True)
torch.save(tensors, os.path.join(out_dir, "cases.pth"))
print(json.dumps({"torchvision": torchvision.__version__, "cases": cases}))
