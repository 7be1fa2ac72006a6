#!/usr/bin/python3
"""Writes weight files with Python's torch.save (and by hand) into OUTDIR and
prints a JSON manifest {file: {"format": ..., "entries": flattened}} of what
each holds, for the C++ readers to compare against.

Files: zip and legacy state dicts with every dtype, views sharing storages,
non-contiguous strides, 0-dim and empty tensors; checkpoints with non-tensor
values; pickle protocols 4 and 5; Parameters; big-endian zip and legacy files
(the legacy one with storage views); safetensors with unsigned dtypes and
__metadata__; a deflated zip.
"""
import io
import json
import os
import pickle
import struct
import sys
import zipfile
from collections import OrderedDict

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from io_common import flatten  # noqa: E402

out_dir = sys.argv[1]
manifest = {}


def record(name, fmt, obj):
    manifest[name] = {"format": fmt, "entries": flatten(obj)}


def state_dict():
    g = torch.Generator().manual_seed(7)
    base = torch.randn(4, 6, generator=g)
    sd = OrderedDict()
    sd["f32"] = torch.randn(2, 3, generator=g)
    sd["f64"] = torch.randn(3, generator=g, dtype=torch.float64)
    sd["f16"] = torch.randn(5, generator=g).half()
    sd["bf16"] = torch.randn(5, generator=g).bfloat16()
    sd["i8"] = torch.tensor([-128, 0, 127], dtype=torch.int8)
    sd["i16"] = torch.tensor([-30000, 1, 30000], dtype=torch.int16)
    sd["i32"] = torch.tensor([-2 ** 31, 5, 2 ** 31 - 1], dtype=torch.int32)
    sd["i64"] = torch.tensor([-2 ** 62, 7, 2 ** 62], dtype=torch.int64)
    sd["u8"] = torch.tensor([0, 200, 255], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    sd["c64"] = torch.randn(3, generator=g, dtype=torch.complex64)
    sd["c128"] = torch.randn(2, generator=g, dtype=torch.complex128)
    sd["scalar"] = torch.tensor(3.5)
    sd["empty"] = torch.empty(0, 3)
    sd["transposed"] = base.t()
    sd["view_a"] = base[1:3]
    sd["view_b"] = base[:, ::2]
    sd["base"] = base
    return sd


sd = state_dict()
torch.save(sd, os.path.join(out_dir, "zip_sd.pt"))
record("zip_sd.pt", "zip", sd)
torch.save(sd, os.path.join(out_dir, "legacy_sd.pt"), _use_new_zipfile_serialization=False)
record("legacy_sd.pt", "legacy", sd)

ckpt = {"state": OrderedDict((k, sd[k]) for k in ["f32", "i64"]), "epoch": 3, "best": 0.93, "name": "x",
        "flags": [True, None, False], "big": 2 ** 70, "neg_big": -(2 ** 80) + 1, "neg": -5,
        "bytes": b"\x00\xffab", "tup": (1, "a", (2.5,)), "nested": {"a": {"b": sd["f16"]}, 7: "int key"},
        "dtype": torch.float16, "size": torch.Size([2, 3]), "device": torch.device("cpu")}
torch.save(ckpt, os.path.join(out_dir, "zip_ckpt.pt"))
record("zip_ckpt.pt", "zip", ckpt)
torch.save(ckpt, os.path.join(out_dir, "legacy_ckpt.pt"), _use_new_zipfile_serialization=False)
record("legacy_ckpt.pt", "legacy", ckpt)

exotic = {"set": {3, 1, 2}, "frozen": frozenset([5]), "complex": 1.5 - 2j, "bytearray": bytearray(b"\x01z")}
for proto in (2, 4, 5):
    name = f"zip_p{proto}.pt"
    obj = {"sd": sd, "ckpt": {k: v for k, v in ckpt.items() if k != "device"}, "exotic": exotic}
    torch.save(obj, os.path.join(out_dir, name), pickle_protocol=proto)
    record(name, "zip", obj)

params = OrderedDict(weight=torch.nn.Parameter(torch.arange(6.0).reshape(2, 3)),
                     frozen=torch.nn.Parameter(torch.ones(2), requires_grad=False))
torch.save(params, os.path.join(out_dir, "zip_params.pt"))
record("zip_params.pt", "zip", params)
torch.save(params, os.path.join(out_dir, "legacy_params.pt"), _use_new_zipfile_serialization=False)
record("legacy_params.pt", "legacy", params)

# Big-endian zip: same archive, byteorder "big" and every storage byte-swapped.
src = zipfile.ZipFile(os.path.join(out_dir, "zip_sd.pt"))
pkl = [n for n in src.namelist() if n.endswith("data.pkl")][0]
prefix = pkl[:-len("data.pkl")]
dtypes = {}


class Find(pickle.Unpickler):
    def find_class(self, module, name):
        return getattr(__import__(module, fromlist=[name]), name)

    def persistent_load(self, pid):
        dtypes[pid[2]] = pid[1](0).dtype
        return pid[1](int(pid[4]))


Find(io.BytesIO(src.read(pkl))).load()
with zipfile.ZipFile(os.path.join(out_dir, "big_endian.pt"), "w", zipfile.ZIP_STORED) as dst:
    for info in src.infolist():
        data = src.read(info.filename)
        if info.filename.startswith(prefix + "data/"):
            dt = dtypes[info.filename[len(prefix + "data/"):]]
            npdt = {torch.bfloat16: np.uint16, torch.bool: np.uint8, torch.complex64: np.float32,
                    torch.complex128: np.float64}.get(dt, None)
            if npdt is None:
                npdt = torch.empty(0, dtype=dt).numpy().dtype
            data = np.frombuffer(data, dtype=npdt).byteswap().tobytes()
        dst.writestr(info.filename, data)
    dst.writestr(prefix + "byteorder", "big")
record("big_endian.pt", "zip", sd)

# Deflated zip: a zip tool recompressed the archive.
with zipfile.ZipFile(os.path.join(out_dir, "deflated.pt"), "w", zipfile.ZIP_DEFLATED) as dst:
    for info in src.infolist():
        dst.writestr(info.filename, src.read(info.filename))
record("deflated.pt", "zip", sd)

# Big-endian legacy file written by hand, with storage views (view_metadata)
# as torch < 0.4 wrote them: two tensors on slices of one root storage.
root = torch.arange(10, dtype=torch.float32)
legacy_obj = OrderedDict(a=root[2:5], b=root[6:10].view(2, 2))


class Saver(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", torch.FloatStorage, "root", "cpu", 10, obj.view)
        return None


class Storage:
    def __init__(self, view):
        self.view = view


def rebuild(storage, offset, size, stride):
    raise AssertionError


class T:
    def __init__(self, view, size, stride):
        self.args = (Storage(view), 0, size, stride, False, OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


buf = io.BytesIO()
pickle.dump(0x1950a86a20f9469cfc6c, buf, protocol=2)
pickle.dump(1001, buf, protocol=2)
pickle.dump({"protocol_version": 1001, "little_endian": False, "type_sizes": {"short": 2, "int": 4, "long": 8}},
            buf, protocol=2)
Saver(buf, protocol=2).dump(OrderedDict(a=T(("v1", 2, 3), (3,), (1,)), b=T(("v2", 6, 4), (2, 2), (2, 1))))
pickle.dump(["root"], buf, protocol=2)
buf.write(struct.pack(">q", 10))
buf.write(root.numpy().astype(">f4").tobytes())
open(os.path.join(out_dir, "legacy_big_endian_views.pt"), "wb").write(buf.getvalue())
record("legacy_big_endian_views.pt", "legacy", legacy_obj)

# safetensors written by hand: every dtype incl. unsigned, __metadata__.
arrays = OrderedDict()
arrays["u16"] = ("U16", np.array([0, 1, 65535], dtype="<u2"))
arrays["u32"] = ("U32", np.array([0, 4000000000], dtype="<u4"))
arrays["u64"] = ("U64", np.array([[1, 2], [3, 2 ** 62]], dtype="<u8"))
arrays["f32"] = ("F32", sd["f32"].numpy())
arrays["scalar"] = ("F64", np.array(2.25, dtype="<f8"))
arrays["empty"] = ("I32", np.zeros((0, 2), dtype="<i4"))
arrays["bool"] = ("BOOL", np.array([True, False]))
header, blobs, off = OrderedDict(), [], 0
header["__metadata__"] = {"format": "pt", "note": "written by io_make.py"}
for name, (dt, arr) in arrays.items():
    b = np.ascontiguousarray(arr).tobytes()
    header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
    blobs.append(b)
    off += len(b)
h = json.dumps(header).encode()
h += b" " * ((8 - len(h) % 8) % 8)
with open(os.path.join(out_dir, "unsigned.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
st_obj = OrderedDict()
for name, (dt, arr) in arrays.items():
    wide = {"U16": np.int32, "U32": np.int64, "U64": np.int64}.get(dt)
    t = torch.from_numpy(np.array(arr.astype(wide) if wide else arr))
    st_obj[name] = t if t.numel() else torch.empty(t.shape, dtype=t.dtype)  # contiguous strides
record("unsigned.safetensors", "safetensors", st_obj)
manifest["unsigned.safetensors"]["metadata"] = header["__metadata__"]

print(json.dumps(manifest))
