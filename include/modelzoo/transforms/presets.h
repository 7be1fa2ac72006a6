#pragma once
/// \file
/// torchvision 0.14's presets for the dense tasks, on tensors, read from a
/// weights entry's `meta.preset` (scripts/gen_registry.py writes
/// torchvision's preset there: {"name", "resize_size", "crop_size", "mean",
/// "std", "interpolation"}):
/// - SemanticSegmentation: resize (shorter side to resize_size[0], or to
///   exactly H x W when two sizes are given), convert to float in [0, 1],
///   normalise. No crop: the class map has the resized image's size.
/// - VideoClassification: a T x C x H x W (or N x T x C x H x W) uint8 clip;
///   every frame resized (exactly to [h, w] when two sizes are given, else
///   shorter side), centre-cropped, converted, normalised; the result is
///   C x T x crop_h x crop_w (N x C x T x ...), the layout the video models take.
/// - OpticalFlow: two frames converted to float and mapped from [0, 1] to
///   [-1, 1] (normalise with mean 0.5, std 0.5).
/// Resizing follows transforms/preprocess.h (same kernels, same uint8
/// rounding); PreprocessOptions::antialias = false is torchvision's tensor
/// path exactly, true (the default) its PIL path.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include "modelzoo/registry/registry.h"
#include "modelzoo/transforms/preprocess.h"

namespace modelzoo::transforms {

/// A preset's parameters (torchvision's constructor arguments).
struct PresetSpec {
  std::string name;                      ///< "SemanticSegmentation", "VideoClassification", "OpticalFlow"
  std::vector<int64_t> resize_size;      ///< one value (shorter side) or two (H, W); empty: no resize
  std::vector<int64_t> crop_size;        ///< one or two values (video only)
  std::vector<double> mean{0.485, 0.456, 0.406};  ///< per channel
  std::vector<double> std{0.229, 0.224, 0.225};   ///< per channel
  std::string interpolation = "bilinear";  ///< "bilinear" | "bicubic" | "nearest"

  /// Parses a `meta.preset` object; `origin` names it in errors
  /// (modelzoo::Error naming the field for a wrong type or value).
  static PresetSpec from_json(const nlohmann::json& preset, const std::string& origin);
  /// The preset of a weights entry: its meta.preset; modelzoo::Error naming
  /// the tag when the entry has none.
  static PresetSpec of(const registry::WeightsEntry& weights);
};

/// F.resize(image, size, interpolation) for [N x] C x H x W: one size resizes
/// the shorter side (as resize_shorter_side), two resize to exactly H x W.
at::Tensor resize_to(const at::Tensor& image, const std::vector<int64_t>& size, const std::string& interpolation,
                     bool antialias = true);

/// torchvision's SemanticSegmentation preset.
class SegmentationPreset {
 public:
  /// modelzoo::Error for a spec of another name or invalid sizes / std.
  explicit SegmentationPreset(PresetSpec spec, PreprocessOptions options = {});
  /// 3 x H x W or N x 3 x H x W (uint8 0..255, or float in [0, 1]) -> float32, resized and normalised.
  at::Tensor operator()(const at::Tensor& image) const;
  /// The parameters.
  const PresetSpec& spec() const { return spec_; }

 private:
  PresetSpec spec_;
  PreprocessOptions options_;
};

/// torchvision's VideoClassification preset.
class VideoPreset {
 public:
  /// modelzoo::Error for a spec of another name, no crop size or invalid values.
  explicit VideoPreset(PresetSpec spec, PreprocessOptions options = {});
  /// T x 3 x H x W (or N x T x 3 x H x W) frames -> 3 x T x h x w (N x 3 x T x h x w) float32.
  at::Tensor operator()(const at::Tensor& clip) const;
  /// The parameters.
  const PresetSpec& spec() const { return spec_; }

 private:
  PresetSpec spec_;
  PreprocessOptions options_;
};

/// torchvision's OpticalFlow preset: both frames to float32 in [-1, 1].
/// Frames are [N x] 3 x H x W, uint8 or float in [0, 1]; modelzoo::Error when
/// the two differ in shape.
std::pair<at::Tensor, at::Tensor> optical_flow_preset(const at::Tensor& frame1, const at::Tensor& frame2);

}  // namespace modelzoo::transforms
