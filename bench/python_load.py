#!/usr/bin/python3
"""The Python side of bench/load_bench: torchvision's builder with weights from
torch.hub's cache ($TORCH_HOME), then one forward pass. Prints one JSON line."""
import json
import sys
import time

t0 = time.perf_counter()
import torch  # noqa: E402
import torchvision  # noqa: E402

t_import = time.perf_counter()
name = sys.argv[1]
model = torchvision.models.get_model(name, weights="DEFAULT").eval()
t1 = time.perf_counter()
with torch.no_grad():
    logits = model(torch.ones(1, 3, 224, 224))
t2 = time.perf_counter()
print(json.dumps({"model": name, "import_ms": (t_import - t0) * 1e3, "load_ms": (t1 - t_import) * 1e3,
                  "forward_ms": (t2 - t1) * 1e3, "logit_sum": float(logits.sum())}))
