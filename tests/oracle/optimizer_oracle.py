#!/usr/bin/python3
"""torch.optim's side of tests/state_dict/optimizer_test.cpp.

    optimizer_oracle.py DIR
        For every case below: a small model (Linear 4->5, Tanh, Linear 5->3)
        trained 3 steps on fixed data, saved as DIR/<case>_ckpt.pt =
        {'model', 'optimizer', 'x', 'y'}; then 3 more steps, saved as
        DIR/<case>_after.pt (the model's state_dict). Prints a JSON manifest
        {case: {'param_groups': [...]}}.

    optimizer_oracle.py --continue CKPT OUT [CKPT OUT ...]
        Loads each checkpoint written by modelzoo ({'model', 'optimizer', 'x',
        'y', 'kind'}), builds torch.optim's optimizer of that kind with the
        checkpoint's grouping, load_state_dict()s it, trains 3 steps and saves
        the model's state_dict to OUT. Prints {CKPT: {'param_groups', 'steps'}}
        (JSON): the options and step counts torch.optim loaded.
"""

import json
import os
import sys

import torch

STEPS = 3


def model_and_data():
    torch.manual_seed(11)
    model = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    x = torch.randn(8, 4)
    y = torch.randn(8, 3)
    return model, x, y


def groups_of(model, sizes):
    params = list(model.parameters())
    out, start = [], 0
    for n in sizes:
        out.append({"params": params[start:start + n]})
        start += n
    return out


CASES = {
    "sgd_momentum": lambda m: torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, dampening=0.1,
                                              weight_decay=0.01),
    "sgd_nesterov": lambda m: torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.8, nesterov=True,
                                              weight_decay=0.001),
    "sgd_plain": lambda m: torch.optim.SGD(m.parameters(), lr=0.1),
    "adam": lambda m: torch.optim.Adam(m.parameters(), lr=0.01, betas=(0.8, 0.99), eps=1e-7, weight_decay=0.01),
    "adam_amsgrad": lambda m: torch.optim.Adam(m.parameters(), lr=0.02, amsgrad=True),
    "adam_two_groups": lambda m: torch.optim.Adam(
        [{"params": m[0].parameters(), "lr": 0.03}, {"params": m[2].parameters()}], lr=0.005),
}


def train(model, opt, x, y, steps=STEPS):
    for _ in range(steps):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()


def plain(value):
    """param_groups as JSON (without the params lists' tensors)."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def make(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    manifest = {}
    for name, build in CASES.items():
        model, x, y = model_and_data()
        opt = build(model)
        train(model, opt, x, y)
        sd = opt.state_dict()
        torch.save({"model": model.state_dict(), "optimizer": sd, "x": x, "y": y},
                   os.path.join(out_dir, f"{name}_ckpt.pt"))
        train(model, opt, x, y)
        torch.save(model.state_dict(), os.path.join(out_dir, f"{name}_after.pt"))
        manifest[name] = {"param_groups": plain(sd["param_groups"])}
    print(json.dumps(manifest))


def resume(ckpt_path, out_path):
    ckpt = torch.load(ckpt_path)
    model = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    model.load_state_dict(ckpt["model"])
    sizes = [len(g["params"]) for g in ckpt["optimizer"]["param_groups"]]
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[ckpt["kind"]]
    opt = cls(groups_of(model, sizes), lr=123.0)  # every option comes from the checkpoint
    opt.load_state_dict(ckpt["optimizer"])
    loaded = plain(opt.state_dict())
    steps = {str(k): float(v["step"]) for k, v in opt.state_dict()["state"].items() if "step" in v}
    train(model, opt, ckpt["x"], ckpt["y"])
    torch.save(model.state_dict(), out_path)
    return {"param_groups": loaded["param_groups"], "steps": steps}


if __name__ == "__main__":
    if len(sys.argv) >= 4 and len(sys.argv) % 2 == 0 and sys.argv[1] == "--continue":
        pairs = zip(sys.argv[2::2], sys.argv[3::2])
        print(json.dumps({ckpt: resume(ckpt, out) for ckpt, out in pairs}))
    elif len(sys.argv) == 2:
        make(sys.argv[1])
    else:
        raise SystemExit(__doc__)
