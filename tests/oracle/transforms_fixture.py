#!/usr/bin/python3
"""Oracle for the transforms tests: images written by PIL (and by hand, for
the PNG variants PIL cannot write), what Debian's torchvision 0.14 and PIL
decode them to, and what torchvision's ImageClassification preset makes of
them.

    transforms_fixture.py OUT_DIR

Writes into OUT_DIR:
  parity/<name>.png        RGB images of several sizes and aspect ratios
  decode/<name>.{png,jpg}  PNG colour types, bit depths, Adam7 interlacing; JPEG subsamplings,
                           grayscale, progressive; JPEGs with EXIF orientations
  expected.pt              torch.save of a dict name -> tensor:
                             "preset/<case>"  float32 3 x crop x crop: torchvision's
                                              preset (tensor path) on the PNG
                             "decode/<file>"  uint8 3 x H x W: the decoded image
and prints a JSON manifest naming every case and file.

The preset is run step by step exactly as ImageClassification.forward does
(F.resize, F.center_crop, F.convert_image_dtype, F.normalize), with the
`antialias` flag given explicitly per case.
"""
import io
import json
import os
import struct
import sys
import zlib

import numpy as np
import torch
import torchvision
import torchvision.transforms.functional as F
from PIL import Image, ImageOps
from torchvision.io import ImageReadMode, decode_jpeg, decode_png
from torchvision.transforms import InterpolationMode

MODES = {"bilinear": InterpolationMode.BILINEAR, "bicubic": InterpolationMode.BICUBIC,
         "nearest": InterpolationMode.NEAREST}

# (name, height, width)
IMAGES = [
    ("landscape_300x400", 300, 400),
    ("portrait_401x299", 401, 299),
    ("odd_257x259", 257, 259),
    ("small_90x150", 90, 150),
    ("tall_1000x120", 1000, 120),
    ("exact_256x341", 256, 341),
]

# (name, transforms) as a registry entry declares them, plus "antialias".
TRANSFORMS = [
    ("bilinear_256_224", dict(resize_size=256, crop_size=224, interpolation="bilinear",
                              mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225], antialias=True)),
    ("bicubic_232_224", dict(resize_size=232, crop_size=224, interpolation="bicubic",
                             mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225], antialias=True)),
    ("bicubic_384_384", dict(resize_size=384, crop_size=384, interpolation="bicubic",
                             mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5], antialias=True)),
    ("bilinear_noaa_256_224", dict(resize_size=256, crop_size=224, interpolation="bilinear",
                                   mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225], antialias=False)),
    ("nearest_160_128", dict(resize_size=160, crop_size=128, interpolation="nearest",
                             mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225], antialias=False)),
    ("pad_bilinear_200_224", dict(resize_size=200, crop_size=224, interpolation="bilinear",
                                  mean=[0.48235, 0.45882, 0.40784], std=[1 / 255.0] * 3, antialias=True)),
]


def make_rgb(h, w, seed):
    """Smooth gradients, a few hard edges and noise: every resize kernel matters."""
    g = torch.Generator().manual_seed(seed)
    y = torch.linspace(0, 1, h).view(h, 1)
    x = torch.linspace(0, 1, w).view(1, w)
    base = torch.stack([255 * x * torch.ones(h, 1), 255 * y * torch.ones(1, w),
                        127.5 + 127.5 * torch.sin(12 * x + 7 * y)])
    base[:, (h // 3):(h // 2), (w // 4):(w // 3)] = 255.0 - base[:, (h // 3):(h // 2), (w // 4):(w // 3)]
    noise = torch.randint(-40, 41, (3, h, w), generator=g).float()
    return (base + noise).clamp(0, 255).round().to(torch.uint8)


def preset(img, t):
    out = F.resize(img, [t["resize_size"]], interpolation=MODES[t["interpolation"]], antialias=t["antialias"])
    out = F.center_crop(out, [t["crop_size"]])
    out = F.convert_image_dtype(out, torch.float)
    return F.normalize(out, mean=t["mean"], std=t["std"])


def to_pil(chw):
    return Image.fromarray(chw.permute(1, 2, 0).numpy())


def png_chunk(kind, data, crc=None):
    c = zlib.crc32(kind + data) & 0xFFFFFFFF if crc is None else crc
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", c)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(path, array, color_type, bit_depth, interlace=False):
    """A PNG of `array` (H x W x C, integers) written by hand; rows unfiltered,
    Adam7-interlaced when asked."""
    h, w = array.shape[:2]
    dtype = ">u2" if bit_depth == 16 else "u1"
    if interlace:
        raw = b""
        for x0, y0, dx, dy in ADAM7:
            sub = array[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                raw += b"".join(b"\x00" + row.astype(dtype).tobytes() for row in sub)
    else:
        raw = b"".join(b"\x00" + array[r].astype(dtype).tobytes() for r in range(h))
    body = (b"\x89PNG\r\n\x1a\n" +
            png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0))
            + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(body)


def exif_app1_big_endian(orientation):
    """An APP1 Exif segment in Motorola byte order with one IFD0 entry."""
    tiff = b"MM" + struct.pack(">HI", 42, 8) + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    body = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def main():
    out = sys.argv[1]
    os.makedirs(os.path.join(out, "parity"), exist_ok=True)
    os.makedirs(os.path.join(out, "decode"), exist_ok=True)
    expected = {}
    manifest = {"torchvision": torchvision.__version__, "preset": [], "decode": [], "exif": [],
                "transforms": {name: t for name, t in TRANSFORMS}}

    # Preset parity: PNG files (lossless, so both sides see the same pixels).
    for i, (name, h, w) in enumerate(IMAGES):
        img = make_rgb(h, w, seed=100 + i)
        path = os.path.join(out, "parity", name + ".png")
        to_pil(img).save(path)
        decoded = decode_png(torchvision.io.read_file(path), ImageReadMode.RGB)
        assert torch.equal(decoded, img)
        for tname, t in TRANSFORMS:
            key = f"preset/{name}/{tname}"
            expected[key] = preset(img, t).contiguous()
            manifest["preset"].append({"key": key, "file": path, "transforms": tname})
    # A batch: same-sized images through the preset at once.
    batch = torch.stack([make_rgb(120, 180, seed=200 + k) for k in range(3)])
    for k in range(3):
        to_pil(batch[k]).save(os.path.join(out, "parity", f"batch_{k}.png"))
    expected["preset_batch/bicubic_232_224"] = preset(batch, dict(TRANSFORMS)["bicubic_232_224"]).contiguous()
    manifest["batch"] = {"files": [os.path.join(out, "parity", f"batch_{k}.png") for k in range(3)],
                         "key": "preset_batch/bicubic_232_224", "transforms": "bicubic_232_224"}

    def add_decode(file_name, tensor, kind):
        path = os.path.join(out, "decode", file_name)
        expected["decode/" + file_name] = tensor.contiguous()
        manifest[kind].append({"key": "decode/" + file_name, "file": path})

    # PNG variants written by PIL.
    rgb = make_rgb(37, 53, seed=7)
    arr = rgb.permute(1, 2, 0).numpy()
    gray = arr[:, :, 0].copy()
    alpha = arr[:, :, 2].copy()
    Image.fromarray(arr).save(os.path.join(out, "decode", "rgb8.png"))
    add_decode("rgb8.png", rgb, "decode")
    Image.fromarray(np.dstack([arr, alpha])).save(os.path.join(out, "decode", "rgba8.png"))
    add_decode("rgba8.png", rgb, "decode")
    Image.fromarray(gray).save(os.path.join(out, "decode", "gray8.png"))
    add_decode("gray8.png", torch.from_numpy(gray).expand(3, -1, -1), "decode")
    Image.fromarray(np.dstack([gray, alpha]), mode="LA").save(os.path.join(out, "decode", "gray_alpha8.png"))
    add_decode("gray_alpha8.png", torch.from_numpy(gray).expand(3, -1, -1), "decode")
    bw = (gray > 128)
    Image.fromarray(bw).save(os.path.join(out, "decode", "gray1.png"))
    add_decode("gray1.png", torch.from_numpy(bw.astype(np.uint8) * 255).expand(3, -1, -1), "decode")
    pal = Image.fromarray(arr).quantize(colors=16)
    pal.save(os.path.join(out, "decode", "palette4.png"), bits=4)
    pal_rgb = np.asarray(pal.convert("RGB"))
    add_decode("palette4.png", torch.from_numpy(pal_rgb.copy()).permute(2, 0, 1), "decode")
    pal.save(os.path.join(out, "decode", "palette_trns.png"), transparency=3)
    add_decode("palette_trns.png", torch.from_numpy(pal_rgb.copy()).permute(2, 0, 1), "decode")
    # 16-bit PNGs written by hand: the high byte is what an 8-bit reader keeps.
    g16 = np.random.default_rng(3).integers(0, 65536, size=(29, 31, 3), dtype=np.uint32)
    write_png(os.path.join(out, "decode", "rgb16.png"), g16, color_type=2, bit_depth=16)
    add_decode("rgb16.png", torch.from_numpy((g16 >> 8).astype(np.uint8)).permute(2, 0, 1), "decode")
    write_png(os.path.join(out, "decode", "gray16.png"), g16[:, :, :1], color_type=0, bit_depth=16)
    add_decode("gray16.png", torch.from_numpy((g16[:, :, 0] >> 8).astype(np.uint8)).expand(3, -1, -1), "decode")
    write_png(os.path.join(out, "decode", "rgba16.png"), np.dstack([g16, g16[:, :, :1]]), color_type=6, bit_depth=16)
    add_decode("rgba16.png", torch.from_numpy((g16 >> 8).astype(np.uint8)).permute(2, 0, 1), "decode")
    write_png(os.path.join(out, "decode", "rgb8_adam7.png"), arr, color_type=2, bit_depth=8, interlace=True)
    add_decode("rgb8_adam7.png", rgb, "decode")
    write_png(os.path.join(out, "decode", "gray16_adam7.png"), g16[:, :, :1], color_type=0, bit_depth=16,
              interlace=True)
    add_decode("gray16_adam7.png", torch.from_numpy((g16[:, :, 0] >> 8).astype(np.uint8)).expand(3, -1, -1),
               "decode")

    # JPEGs written by PIL, decoded by torchvision (same libjpeg-turbo).
    jpegs = [("q90_420.jpg", dict(quality=90, subsampling=2)), ("q95_444.jpg", dict(quality=95, subsampling=0)),
             ("q75_422.jpg", dict(quality=75, subsampling=1)),
             ("progressive.jpg", dict(quality=85, progressive=True))]
    big = make_rgb(61, 83, seed=9)
    for file_name, kw in jpegs:
        path = os.path.join(out, "decode", file_name)
        to_pil(big).save(path, **kw)
        add_decode(file_name, decode_jpeg(torchvision.io.read_file(path), ImageReadMode.RGB), "decode")
    path = os.path.join(out, "decode", "gray.jpg")
    Image.fromarray(big[0].numpy()).save(path, quality=90)
    add_decode("gray.jpg", decode_jpeg(torchvision.io.read_file(path), ImageReadMode.RGB), "decode")

    # EXIF orientation: PIL writes the tag (Intel byte order); PIL's
    # exif_transpose says what the upright image is.
    base = to_pil(make_rgb(24, 40, seed=11))
    for o in range(1, 9):
        file_name = f"exif_{o}.jpg"
        path = os.path.join(out, "decode", file_name)
        exif = Image.Exif()
        exif[0x0112] = o
        base.save(path, quality=92, exif=exif.tobytes())
        upright = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
        add_decode(file_name, torch.from_numpy(np.asarray(upright).copy()).permute(2, 0, 1), "exif")
    # Motorola byte order, written by hand right after SOI.
    buf = io.BytesIO()
    base.save(buf, format="JPEG", quality=92)
    plain = buf.getvalue()
    path = os.path.join(out, "decode", "exif_mm_6.jpg")
    with open(path, "wb") as f:
        f.write(plain[:2] + exif_app1_big_endian(6) + plain[2:])
    upright = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    add_decode("exif_mm_6.jpg", torch.from_numpy(np.asarray(upright).copy()).permute(2, 0, 1), "exif")

    expected_path = os.path.join(out, "expected.pt")
    torch.save(expected, expected_path)
    manifest["expected"] = expected_path
    print(json.dumps(manifest))


if __name__ == "__main__":
    main()
