#pragma once
/// \file
/// Preprocessing images for a classifier from the weights' registry entry
/// (`registry::Transforms`): what torchvision 0.14's `ImageClassification`
/// preset does, on tensors, plus the two extras caffe-converted weights need.
///
/// For a 3 x H x W uint8 image, in order:
/// 1. resize so that the shorter side is `resize_size` and the longer one
///    `int(resize_size * long / short)` (torchvision's
///    `_compute_resized_output_size`), with the entry's interpolation:
///    `at::_upsample_bilinear2d_aa` / `at::_upsample_bicubic2d_aa` when
///    antialiasing (the default), `at::upsample_bilinear2d` /
///    `at::upsample_bicubic2d` otherwise, `at::upsample_nearest2d` for
///    "nearest"; computed in float32 and rounded back to uint8 (bicubic
///    clamped to [0, 255] first), exactly as `F.resize` does on a uint8
///    tensor. An image already at the target size is left alone.
/// 2. centre crop `crop_size` x `crop_size` (torchvision's `F.center_crop`:
///    zero padding, left/top getting the smaller half, when the image is
///    smaller; then `int(round((H - crop) / 2))` as the top offset).
/// 3. to float32: `x / 255` (`convert_image_dtype`) when `value_scale` is 1,
///    else `x * (value_scale / 255)`, so `value_scale: 255` keeps the pixel
///    values 0..255 exactly.
/// 4. `channel_order: "BGR"` reverses the channels.
/// 5. `(x - mean) / std` per channel, with mean and std in the model's
///    channel order (BGR for caffe weights), in float32 as `F.normalize`.
///
/// Antialiasing: torchvision 0.14's preset calls `F.resize` without
/// `antialias`, which antialiases PIL images (how the published weights were
/// trained and evaluated) but not tensors. modelzoo antialiases by default,
/// matching the PIL path numerically through torchvision's tensor kernels
/// (`antialias=True`); PreprocessOptions::antialias = false reproduces
/// torchvision's tensor path without it.

#include <cstdint>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "modelzoo/registry/registry.h"

namespace modelzoo::transforms {

/// Options beyond what the registry entry says.
struct PreprocessOptions {
  /// Antialiased resizing for bilinear and bicubic (see the file comment).
  bool antialias = true;
};

/// The size torchvision resizes an H x W image to when its shorter side
/// becomes `size`: {new_h, new_w}.
std::pair<int64_t, int64_t> resized_size(int64_t height, int64_t width, int64_t size);

/// F.resize(image, [height, width], interpolation, antialias) for a C x H x W
/// or N x C x H x W tensor (uint8 or floating point; the dtype is kept).
at::Tensor resize(const at::Tensor& image, int64_t height, int64_t width, const std::string& interpolation,
                  bool antialias = true);

/// F.resize(image, [size], interpolation, antialias) for a C x H x W or
/// N x C x H x W tensor (uint8 or floating point; the dtype is kept).
at::Tensor resize_shorter_side(const at::Tensor& image, int64_t size, const std::string& interpolation,
                               bool antialias = true);

/// F.center_crop(image, [height, width]) for a [..., H, W] tensor.
at::Tensor center_crop(const at::Tensor& image, int64_t height, int64_t width);

/// The preprocessing of one weights entry, applied to decoded images.
class Preprocess {
 public:
  /// Validates `transforms` (sizes > 0, known interpolation and channel
  /// order, std > 0, value_scale > 0); throws Error otherwise.
  explicit Preprocess(registry::Transforms transforms, PreprocessOptions options = {});

  /// One 3 x H x W image -> 3 x crop x crop float32, or an N x 3 x H x W
  /// batch of same-sized images -> N x 3 x crop x crop. uint8 pixels are
  /// 0..255; floating-point input is taken as already converted to [0, 1]
  /// (as torchvision's convert_image_dtype leaves it).
  at::Tensor operator()(const at::Tensor& image) const;
  /// Images of any sizes -> N x 3 x crop x crop float32 (each one resized
  /// and cropped on its own, then stacked).
  at::Tensor batch(const std::vector<at::Tensor>& images) const;

  /// The transforms this applies.
  const registry::Transforms& transforms() const { return transforms_; }
  /// The options this applies.
  const PreprocessOptions& options() const { return options_; }

 private:
  registry::Transforms transforms_;
  PreprocessOptions options_;
};

}  // namespace modelzoo::transforms
