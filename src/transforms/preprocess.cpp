#include "modelzoo/transforms/preprocess.h"

#include <cmath>
#include <string>

#include <ATen/ATen.h>

#include "modelzoo/error.h"

namespace modelzoo::transforms {
namespace {

std::string describe_sizes(const at::Tensor& t) {
  std::string s;
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? " x " : "") + std::to_string(t.size(i));
  return s.empty() ? "a scalar" : s;
}

void check_image(const at::Tensor& image, const char* what) {
  if ((image.dim() != 3 && image.dim() != 4) || image.size(-3) != 3) {
    throw Error(std::string(what) + ": expected a 3 x H x W image or an N x 3 x H x W batch, got " +
                describe_sizes(image));
  }
  if (image.scalar_type() != at::kByte && !image.is_floating_point()) {
    throw Error(std::string(what) + ": expected uint8 or floating-point pixels, got " +
                std::string(c10::toString(image.scalar_type())));
  }
}

}  // namespace

std::pair<int64_t, int64_t> resized_size(int64_t height, int64_t width, int64_t size) {
  const bool portrait = width <= height;
  const int64_t shorter = portrait ? width : height;
  const int64_t longer = portrait ? height : width;
  // Python: int(size * long / short), a correctly rounded true division.
  const auto new_long = static_cast<int64_t>(static_cast<double>(size * longer) / static_cast<double>(shorter));
  return portrait ? std::make_pair(new_long, size) : std::make_pair(size, new_long);
}

at::Tensor resize(const at::Tensor& image, int64_t height, int64_t width, const std::string& interpolation,
                  bool antialias) {
  if (image.dim() < 3) throw Error("resize: expected a [N x] C x H x W tensor, got " + describe_sizes(image));
  if (height <= 0 || width <= 0) {
    throw Error("resize: sizes must be positive, got " + std::to_string(height) + " x " + std::to_string(width));
  }
  if (height == image.size(-2) && width == image.size(-1)) return image;

  const bool squeeze = image.dim() == 3;
  at::Tensor x = squeeze ? image.unsqueeze(0) : image;
  const auto out_dtype = x.scalar_type();
  const bool cast = out_dtype != at::kFloat && out_dtype != at::kDouble;
  if (cast) x = x.to(at::kFloat);
  const std::vector<int64_t> out_size{height, width};
  if (interpolation == "bilinear") {
    x = antialias ? at::_upsample_bilinear2d_aa(x, out_size, false, c10::nullopt, c10::nullopt)
                  : at::upsample_bilinear2d(x, out_size, false, c10::nullopt, c10::nullopt);
  } else if (interpolation == "bicubic") {
    x = antialias ? at::_upsample_bicubic2d_aa(x, out_size, false, c10::nullopt, c10::nullopt)
                  : at::upsample_bicubic2d(x, out_size, false, c10::nullopt, c10::nullopt);
    if (out_dtype == at::kByte) x = x.clamp(0, 255);
  } else if (interpolation == "nearest") {
    x = at::upsample_nearest2d(x, out_size, c10::nullopt, c10::nullopt);
  } else {
    throw Error("resize: unknown interpolation \"" + interpolation + "\" (expected bilinear, bicubic or nearest)");
  }
  if (squeeze) x = x.squeeze(0);
  if (cast) {
    if (!at::isFloatingType(out_dtype)) x = x.round();
    x = x.to(out_dtype);
  }
  return x;
}

at::Tensor resize_shorter_side(const at::Tensor& image, int64_t size, const std::string& interpolation,
                               bool antialias) {
  if (image.dim() < 3) throw Error("resize: expected a [N x] C x H x W tensor, got " + describe_sizes(image));
  if (size <= 0) throw Error("resize: size must be positive, got " + std::to_string(size));
  const auto [new_h, new_w] = resized_size(image.size(-2), image.size(-1), size);
  return resize(image, new_h, new_w, interpolation, antialias);
}

at::Tensor center_crop(const at::Tensor& image, int64_t crop_h, int64_t crop_w) {
  if (image.dim() < 2) throw Error("center_crop: expected a [..., H, W] tensor, got " + describe_sizes(image));
  if (crop_h <= 0 || crop_w <= 0) {
    throw Error("center_crop: crop size must be positive, got " + std::to_string(crop_h) + " x " +
                std::to_string(crop_w));
  }
  at::Tensor img = image;
  int64_t h = img.size(-2), w = img.size(-1);
  if (crop_w > w || crop_h > h) {
    const int64_t left = crop_w > w ? (crop_w - w) / 2 : 0;
    const int64_t top = crop_h > h ? (crop_h - h) / 2 : 0;
    const int64_t right = crop_w > w ? (crop_w - w + 1) / 2 : 0;
    const int64_t bottom = crop_h > h ? (crop_h - h + 1) / 2 : 0;
    img = at::constant_pad_nd(img, {left, right, top, bottom}, 0);
    h = img.size(-2);
    w = img.size(-1);
    if (crop_w == w && crop_h == h) return img;
  }
  // Python's round(): halves to even, as nearbyint in the default mode.
  const auto top = static_cast<int64_t>(std::nearbyint(static_cast<double>(h - crop_h) / 2.0));
  const auto left = static_cast<int64_t>(std::nearbyint(static_cast<double>(w - crop_w) / 2.0));
  return img.narrow(-2, top, crop_h).narrow(-1, left, crop_w);
}

Preprocess::Preprocess(registry::Transforms transforms, PreprocessOptions options)
    : transforms_(std::move(transforms)), options_(options) {
  const auto& t = transforms_;
  if (t.resize_size <= 0 || t.crop_size <= 0) {
    throw Error("transforms: resize_size and crop_size must be positive, got " + std::to_string(t.resize_size) +
                " and " + std::to_string(t.crop_size));
  }
  if (t.interpolation != "bilinear" && t.interpolation != "bicubic" && t.interpolation != "nearest") {
    throw Error("transforms: unknown interpolation \"" + t.interpolation + "\" (expected bilinear, bicubic or nearest)");
  }
  if (t.channel_order != "RGB" && t.channel_order != "BGR") {
    throw Error("transforms: unknown channel_order \"" + t.channel_order + "\" (expected RGB or BGR)");
  }
  for (double s : t.std) {
    if (!(s > 0)) throw Error("transforms: every std value must be > 0, got " + std::to_string(s));
  }
  if (!(t.value_scale > 0)) throw Error("transforms: value_scale must be > 0, got " + std::to_string(t.value_scale));
}

at::Tensor Preprocess::operator()(const at::Tensor& image) const {
  check_image(image, "preprocess");
  const auto& t = transforms_;
  at::Tensor x = resize_shorter_side(image, t.resize_size, t.interpolation, options_.antialias);
  x = center_crop(x, t.crop_size, t.crop_size);
  if (x.scalar_type() == at::kByte) {
    x = x.to(at::kFloat);
    x = t.value_scale == 1.0 ? x / 255.0 : x * (t.value_scale / 255.0);
  } else {
    x = x.to(at::kFloat);
    if (t.value_scale != 1.0) x = x * t.value_scale;
  }
  if (t.channel_order == "BGR") x = x.flip({-3});
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  const at::Tensor mean = at::tensor(std::vector<double>(t.mean.begin(), t.mean.end()), f32).view({-1, 1, 1});
  const at::Tensor std = at::tensor(std::vector<double>(t.std.begin(), t.std.end()), f32).view({-1, 1, 1});
  return x.sub(mean).div_(std).contiguous();
}

at::Tensor Preprocess::batch(const std::vector<at::Tensor>& images) const {
  if (images.empty()) throw Error("preprocess: empty batch");
  std::vector<at::Tensor> out;
  out.reserve(images.size());
  for (std::size_t i = 0; i < images.size(); ++i) {
    if (images[i].dim() != 3) {
      throw Error("preprocess: batch item " + std::to_string(i) + " is " + describe_sizes(images[i]) +
                  ", expected 3 x H x W");
    }
    out.push_back((*this)(images[i]));
  }
  return at::stack(out);
}

}  // namespace modelzoo::transforms
