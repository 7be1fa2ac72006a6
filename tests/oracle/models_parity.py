#!/usr/bin/env python3
"""Numeric oracle for the models tests: torchvision weights, an input and the
expected output, for modelzoo to reproduce.

For each architecture, writes into --out:
  <arch>.weights.pth  torch.save(model.state_dict()) of a torchvision model whose
                      parameters and BatchNorm running statistics are all drawn at
                      random (seeded), so that every tensor matters to the output;
  <arch>.io.pth       torch.save({"arch", "torchvision", "input", "output"}) with an
                      input batch and the model's eval-mode output for it.
The random draws keep activations of order one (Kaiming-scaled weights, small
biases, running variances near one), so the C++ side can compare with a tight
relative tolerance.

Run with Debian's interpreter (torch and torchvision 0.14.1):
    /usr/bin/python3 tests/oracle/models_parity.py --out DIR vgg11 vgg11_bn
Any torchvision architecture name works; --kwargs passes builder arguments as JSON.
"""
import argparse
import contextlib
import json
import math
import pathlib
import sys

import torch
import torchvision


INIT_FUNCTIONS = ["uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_",
                  "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
                  "kaiming_normal_", "orthogonal_", "sparse_"]


@contextlib.contextmanager
def deferred_init():
    """Records torch.nn.init calls instead of running them (building a large
    model otherwise draws every weight twice, only for randomise() to redraw it)."""
    calls = []
    saved = {n: getattr(torch.nn.init, n) for n in INIT_FUNCTIONS if hasattr(torch.nn.init, n)}

    def recorder(name):
        def record(tensor, *args, **kwargs):
            calls.append((name, tensor, args, kwargs))
            return tensor
        return record

    for n in saved:
        setattr(torch.nn.init, n, recorder(n))
    try:
        yield calls
    finally:
        for n, f in saved.items():
            setattr(torch.nn.init, n, f)


def replay(calls, skip):
    """Runs the recorded init calls whose tensor randomise() did not overwrite."""
    for name, tensor, args, kwargs in calls:
        if id(tensor) not in skip:
            getattr(torch.nn.init, name)(tensor, *args, **kwargs)


def randomise(model, gen, all_params=False):
    """Draws every parameter and BatchNorm statistic at random (order-one
    activations); returns the ids of the tensors it wrote. With all_params, the
    parameters no module rule below covers (ViT's class token and attention
    in-projection, Swin's logit scales, relative position tables, ...) are
    drawn too: N(0, 1/columns) for matrices, N(0, 0.1^2) otherwise."""
    written = set()
    def normal_(t, std):
        t.copy_(torch.randn(t.shape, generator=gen) * std)
        written.add(id(t))

    def uniform_(t, lo, hi):
        t.copy_(torch.rand(t.shape, generator=gen) * (hi - lo) + lo)
        written.add(id(t))

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                fan_in = m.weight[0].numel()
                normal_(m.weight, math.sqrt(2.0 / fan_in))
                if m.bias is not None:
                    uniform_(m.bias, -0.1, 0.1)
            elif isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                if m.affine:
                    uniform_(m.weight, 0.5, 1.5)
                    uniform_(m.bias, -0.1, 0.1)
                if m.track_running_stats:
                    normal_(m.running_mean, 0.1)
                    uniform_(m.running_var, 0.5, 1.5)
                    m.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,), generator=gen)))
            elif isinstance(m, torch.nn.LayerNorm) and m.elementwise_affine:
                uniform_(m.weight, 0.5, 1.5)
                uniform_(m.bias, -0.1, 0.1)
        if all_params:
            for p in model.parameters():
                if id(p) not in written:
                    normal_(p, math.sqrt(1.0 / p.shape[1]) if p.dim() == 2 else 0.1)
    return written


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("archs", nargs="+", help="torchvision architecture names")
    ap.add_argument("--out", required=True, type=pathlib.Path, help="output directory")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--size", type=int, default=64, help="input height and width")
    ap.add_argument("--kwargs", default="{}", help="builder arguments (JSON object)")
    ap.add_argument("--legacy", action="store_true",
                    help="save the weights in the pre-1.6 (non-zip) format")
    ap.add_argument("--all-params", action="store_true",
                    help="also randomise parameters outside Conv2d/Linear/norm layers")
    args = ap.parse_args()
    kwargs = json.loads(args.kwargs)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    for name in args.archs:
        builder = getattr(torchvision.models, name, None)
        if builder is None:
            sys.exit(f"models_parity: torchvision {torchvision.__version__} has no '{name}'")
        torch.manual_seed(args.seed)
        with deferred_init() as calls:
            model = builder(weights=None, **kwargs)
        gen = torch.Generator().manual_seed(args.seed)
        with torch.no_grad():
            replay(calls, randomise(model, gen, args.all_params))
        model.eval()
        x = torch.randn(args.batch, 3, args.size, args.size, generator=gen)
        with torch.no_grad():
            y = model(x)
        torch.save(model.state_dict(), args.out / f"{name}.weights.pth",
                   _use_new_zipfile_serialization=not args.legacy)
        torch.save({"arch": name, "torchvision": torchvision.__version__, "input": x, "output": y},
                   args.out / f"{name}.io.pth")
        print(json.dumps({"arch": name, "output_shape": list(y.shape),
                          "max_abs_output": float(y.abs().max())}), flush=True)


if __name__ == "__main__":
    main()
