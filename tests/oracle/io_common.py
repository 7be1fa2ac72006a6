"""Shared by the io oracles: flattening loaded objects into comparable JSON.

Nested containers become paths joined by "/" (dict keys as str, sequence items
by index). A tensor records dtype, shape, stride, storage offset, float64 sum
and abs sum, and `storage`: the index of its storage among the distinct
storages met so far (tensors sharing memory share the index).
"""
import json
import struct

import torch


class Flattener:
    def __init__(self):
        self.storages = {}
        self.out = {}

    def tensor(self, t):
        t = t.detach().cpu()
        ptr = t.storage().data_ptr()
        sid = self.storages.setdefault(ptr, len(self.storages))
        if t.dtype.is_complex:
            f = torch.view_as_real(t).to(torch.float64) if t.numel() else torch.zeros(0, dtype=torch.float64)
        else:
            f = t.to(torch.float64)
        return {"kind": "tensor", "dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape),
                "stride": list(t.stride()), "storage_offset": t.storage_offset(), "storage": sid,
                "sum": float(f.sum()), "abs_sum": float(f.abs().sum())}

    def walk(self, obj, path=""):
        join = (lambda k: f"{path}/{k}" if path else str(k))
        if isinstance(obj, torch.Tensor):
            self.out[path] = self.tensor(obj)
        elif isinstance(obj, dict):
            for k, v in obj.items():
                self.walk(v, join(k))
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                self.walk(v, join(i))
        elif isinstance(obj, bool):
            self.out[path] = {"kind": "bool", "value": obj}
        elif isinstance(obj, int):
            self.out[path] = {"kind": "int", "value": obj if abs(obj) < 2 ** 63 else str(obj)}
        elif isinstance(obj, float):
            self.out[path] = {"kind": "float", "value": obj}
        elif isinstance(obj, complex):
            self.out[path] = {"kind": "complex", "value": [obj.real, obj.imag]}
        elif isinstance(obj, str):
            self.out[path] = {"kind": "str", "value": obj}
        elif isinstance(obj, (bytes, bytearray)):
            self.out[path] = {"kind": "bytes", "value": bytes(obj).decode("latin-1")}
        elif isinstance(obj, (set, frozenset)):
            self.out[path] = {"kind": "set", "value": sorted(obj)}
        elif obj is None:
            self.out[path] = {"kind": "none", "value": None}
        elif isinstance(obj, torch.dtype):
            self.out[path] = {"kind": "global", "value": str(obj)}
        elif isinstance(obj, torch.device):
            self.out[path] = {"kind": "str", "value": str(obj)}
        else:
            self.out[path] = {"kind": "object", "type": type(obj).__module__ + "." + type(obj).__name__}
        return self.out


def flatten(obj):
    return Flattener().walk(obj)


ST_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
             "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
             "U8": torch.uint8, "BOOL": torch.bool, "C64": torch.complex64}


def read_safetensors(path):
    """Plain struct/json reader (python3-safetensors is not installed)."""
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", None)
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        dt = ST_DTYPES[info["dtype"]]
        t = torch.frombuffer(bytearray(data[b:e]), dtype=dt) if e > b else torch.empty(0, dtype=dt)
        out[name] = t.reshape(info["shape"])
    return out, meta, n
