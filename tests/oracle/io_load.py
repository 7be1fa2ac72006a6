#!/usr/bin/python3
"""Loads weight files written by the C++ writers and prints, per file, what
Python sees: {file: {"entries": flattened, "weights_only": "ok" | error,
"loader": ..., "metadata": ...}}.

.pth files are loaded with torch.load(weights_only=True). torch 1.13's
weights-only unpickler has no BINFLOAT opcode, so a checkpoint holding Python
floats cannot pass it; then the file is loaded with a plain unpickler whose
find_class allows only the globals the weights-only loader allows (plus
nothing else), and the weights-only error is reported.
safetensors files are parsed with struct/json (no python3-safetensors here).
"""
import io
import json
import os
import pickle
import sys
import zipfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from io_common import flatten, read_safetensors  # noqa: E402

def strict_load(path):
    """torch.load with an unpickler that refuses any global a weights-only load would refuse."""
    allowed = torch._weights_only_unpickler._get_allowed_globals()

    class Strict(pickle.Unpickler):
        def find_class(self, module, name):
            full = f"{module}.{name}"
            if full not in allowed:
                raise pickle.UnpicklingError(f"global {full} is not allowed")
            return allowed[full]

    class Module:
        Unpickler = Strict
        load = staticmethod(lambda f, **kw: Strict(f, **kw).load())

    return torch.load(path, pickle_module=Module)


result = {}
for path in sys.argv[1:]:
    name = os.path.basename(path)
    rec = {}
    head = open(path, "rb").read(4)
    if head == b"PK\x03\x04":
        rec["zip_names"] = zipfile.ZipFile(path).namelist()
        rec["zip_data_offsets"] = {}
        with open(path, "rb") as f:
            for info in zipfile.ZipFile(path).infolist():
                f.seek(info.header_offset + 26)
                n, e = int.from_bytes(f.read(2), "little"), int.from_bytes(f.read(2), "little")
                rec["zip_data_offsets"][info.filename] = info.header_offset + 30 + n + e
        try:
            obj = torch.load(path, weights_only=True)
            rec["weights_only"] = "ok"
            rec["loader"] = "torch.load(weights_only=True)"
        except Exception as e:  # torch 1.13: no BINFLOAT in the weights-only unpickler
            rec["weights_only"] = str(e).splitlines()[-1][:300]
            obj = strict_load(path)
            rec["loader"] = "torch.load with an allowlist-only unpickler"
        rec["entries"] = flatten(obj)
        rec["type"] = type(obj).__name__
    else:
        obj, meta, header_len = read_safetensors(path)
        rec["entries"] = flatten(obj)
        rec["header_len"] = header_len
        if meta is not None:
            rec["metadata"] = meta
        rec["loader"] = "struct/json"
    result[name] = rec
print(json.dumps(result))
