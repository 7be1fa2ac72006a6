#!/usr/bin/env python3
"""Oracle for the inference tests: torchvision eager outputs for the inputs the
optimised path must reproduce.

For each architecture, writes into --out (weights drawn as models_parity.py
draws them, BatchNorm statistics then calibrated on a random batch):
  <arch>.weights.pth  torch.save(model.state_dict())
  <arch>.io.pth       torch.save({"arch", "inputs": [...], "outputs": [...]}): eval-mode
                      outputs for a batch of 1 and a batch of 3 at --size x --size and,
                      unless the architecture only takes square inputs, a batch of 1 at
                      --size x (--size * 3 / 2), rounded down to a multiple of 8; "outputs64",
                      the same model's outputs in float64; "outputs_cl", in channels-last
                      memory format;
                      with --train also "train_input", "train_output" (one training-mode
                      forward of a batch of 3) and "trained_state" (the state_dict after it:
                      BatchNorm running statistics updated).

    /usr/bin/python3 tests/oracle/inference_parity.py --out DIR resnet18:64 vit_b_32:64:image_size=64
Each argument is ARCH[:SIZE[:KEY=INT,...]].
"""
import argparse
import pathlib
import sys

import torch
import torchvision

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from models_parity import deferred_init, randomise, replay  # noqa: E402

SQUARE_ONLY = ("vit_", "maxvit_", "inception_v3")


def calibrate_batch_norms(model, x):
    """Sets each BatchNorm's running statistics to those of its input on x, in
    network order, as training leaves them for the data a network sees.

    Drawn at random, the statistics do not match the layers' inputs: through
    dozens of residual blocks the activations grow to 1e10, and the outputs of
    the deeper squeeze-excitation networks then change by up to 80% of their
    scale for a rounding difference of 1e-7 inside (efficientnet_v2_m,
    regnet_y_*). No float32 path could be compared with another on them.
    Calibrated, every norm's output has the scale its affine weights give it."""
    def calibrate(module, args):
        (inp,) = args
        dims = [d for d in range(inp.dim()) if d != 1]
        module.running_mean.copy_(inp.double().mean(dims).float())
        module.running_var.copy_(inp.double().var(dims, unbiased=False).float().clamp_min(1e-3))

    hooks = [m.register_forward_pre_hook(calibrate) for m in model.modules()
             if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    model.eval()
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cases", nargs="+", help="ARCH[:SIZE[:KEY=INT,...]]")
    ap.add_argument("--out", required=True, type=pathlib.Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train", action="store_true", help="also a training-mode forward")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    for case in args.cases:
        parts = case.split(":")
        name, size = parts[0], int(parts[1]) if len(parts) > 1 else 64
        kwargs = {}
        if len(parts) > 2 and parts[2]:
            for kv in parts[2].split(","):
                k, v = kv.split("=")
                kwargs[k] = int(v)
        torch.manual_seed(args.seed)
        with deferred_init() as calls:
            model = getattr(torchvision.models, name)(weights=None, **kwargs)
        gen = torch.Generator().manual_seed(args.seed)
        with torch.no_grad():
            replay(calls, randomise(model, gen, all_params=True))
        calibrate_batch_norms(model, torch.randn(32, 3, size, size, generator=gen))
        model.eval()
        inputs = [torch.randn(1, 3, size, size, generator=gen),
                  torch.randn(3, 3, size, size, generator=gen)]
        if not name.startswith(SQUARE_ONLY):
            inputs.append(torch.randn(1, 3, size, size * 3 // 2 // 8 * 8, generator=gen))
        with torch.no_grad():
            outputs = [model(x) for x in inputs]
        torch.save(model.state_dict(), args.out / f"{name}.weights.pth")
        doc = {"arch": name, "inputs": inputs, "outputs": outputs}
        # The same model in channels-last memory format: another float32
        # summation order (ATen's NHWC kernels), so the spread of torchvision's
        # own float32 results around float64 is known.
        model.to(memory_format=torch.channels_last)
        with torch.no_grad():
            doc["outputs_cl"] = [model(x.contiguous(memory_format=torch.channels_last)).contiguous() for x in inputs]
        model.to(memory_format=torch.contiguous_format)
        # The float64 result, to tell rounding in torchvision's own float32
        # output (random weights can make a deep network ill-conditioned);
        # float -> double -> float gives the same weights back.
        model.double()
        with torch.no_grad():
            doc["outputs64"] = [model(x.double()) for x in inputs]
        model.float()
        if args.train:
            x = torch.randn(3, 3, size, size, generator=gen)
            model.train()
            y = model(x)
            doc.update(train_input=x, train_output=y.detach(),
                       trained_state=dict(model.state_dict()))
        torch.save(doc, args.out / f"{name}.io.pth")
        print(name, [tuple(x.shape) for x in inputs], flush=True)


if __name__ == "__main__":
    main()
