#!/usr/bin/env python3
"""Numeric oracle for the segmentation, video and optical-flow tests:
torchvision's randomised weights, an input and the expected outputs.

For one architecture, writes into --out:
  <arch>.weights.pth  model.state_dict() with every parameter and BatchNorm
                      statistic drawn at random (models_parity.randomise);
  <arch>.io.pth       {"arch", "torchvision", "input", ...outputs}:
                      segmentation: "out" (and "aux" with aux_loss);
                      video: "input" is N x 3 x T x H x W, "output" the logits;
                      optical flow: "input" and "input2" are the two frames,
                      "flows" the stacked per-iteration predictions and
                      "flow_image" torchvision.utils.flow_to_image of the last (frames
                      whose size is not a multiple of 8 are padded by edge
                      replication and the flows cropped back).

    /usr/bin/python3 tests/oracle/dense_parity.py --out DIR --task segmentation \
        --size 64 --kwargs '{"aux_loss": true}' fcn_resnet50
"""
import argparse
import json
import math
import pathlib
import sys

import torch
import torchvision
import torchvision.models.optical_flow as tvflow
import torchvision.models.segmentation as tvseg
import torchvision.models.video as tvvideo

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from models_parity import deferred_init, randomise, replay  # noqa: E402

def randomise_dense(model, gen):
    """models_parity.randomise, plus Conv3d layers drawn as it draws Conv2d
    (N(0, 2 / fan_in) weights, U(-0.1, 0.1) biases) and every other
    parameter as its all_params mode does."""
    written = randomise(model, gen)

    def normal_(t, std):
        t.copy_(torch.randn(t.shape, generator=gen) * std)
        written.add(id(t))

    for m in model.modules():
        if isinstance(m, torch.nn.Conv3d):
            normal_(m.weight, math.sqrt(2.0 / m.weight[0].numel()))
            if m.bias is not None:
                m.bias.copy_(torch.rand(m.bias.shape, generator=gen) * 0.2 - 0.1)
                written.add(id(m.bias))
    for p in model.parameters():
        if id(p) not in written:
            normal_(p, math.sqrt(1.0 / p.shape[1]) if p.dim() == 2 else 0.1)
    return written


MODULES = {"segmentation": tvseg, "video": tvvideo, "optical_flow": tvflow}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("arch")
    ap.add_argument("--task", required=True, choices=sorted(MODULES))
    ap.add_argument("--out", required=True, type=pathlib.Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", default="64", help="H or HxW")
    ap.add_argument("--frames", type=int, default=4, help="video clip length")
    ap.add_argument("--kwargs", default="{}", help="builder arguments (JSON object)")
    ap.add_argument("--forward-kwargs", default="{}", help="forward arguments (JSON object)")
    args = ap.parse_args()
    h, _, w = args.size.partition("x")
    h, w = int(h), int(w or h)
    kwargs = json.loads(args.kwargs)
    builder = getattr(MODULES[args.task], args.arch, None)
    if builder is None:
        sys.exit(f"dense_parity: torchvision {torchvision.__version__} has no {args.task} model '{args.arch}'")
    if args.task == "segmentation":
        kwargs.setdefault("weights_backbone", None)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    with deferred_init() as calls:
        model = builder(weights=None, **kwargs)
    gen = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():
        replay(calls, randomise_dense(model, gen))
    model.eval()
    record = {"arch": args.arch, "torchvision": torchvision.__version__}
    with torch.no_grad():
        if args.task == "segmentation":
            x = torch.randn(1, 3, h, w, generator=gen)
            y = model(x)
            record.update(input=x, out=y["out"])
            if "aux" in y:
                record["aux"] = y["aux"]
            summary = {"out": list(y["out"].shape)}
        elif args.task == "video":
            x = torch.randn(1, 3, args.frames, h, w, generator=gen)
            y = model(x)
            record.update(input=x, output=y)
            summary = {"output": list(y.shape)}
        else:
            a = torch.rand(1, 3, h, w, generator=gen) * 2 - 1
            b = torch.rand(1, 3, h, w, generator=gen) * 2 - 1
            # torchvision refuses sizes that are not multiples of 8; pad as
            # RAFT's InputPadder (edge replication, larger half after), crop back.
            ph, pw = (8 - h % 8) % 8, (8 - w % 8) % 8
            pad = [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2]
            pa = torch.nn.functional.pad(a, pad, mode="replicate") if ph or pw else a
            pb = torch.nn.functional.pad(b, pad, mode="replicate") if ph or pw else b
            flows = model(pa, pb, **json.loads(args.forward_kwargs))
            flows = [f[:, :, pad[2]:pad[2] + h, pad[0]:pad[0] + w] for f in flows]
            record.update(input=a, input2=b, flows=torch.stack(flows),
                          flow_image=torchvision.utils.flow_to_image(flows[-1]))
            summary = {"flows": [len(flows)] + list(flows[-1].shape)}
    torch.save(model.state_dict(), args.out / f"{args.arch}.weights.pth")
    torch.save(record, args.out / f"{args.arch}.io.pth")
    print(json.dumps({"arch": args.arch, **summary}), flush=True)


if __name__ == "__main__":
    main()
