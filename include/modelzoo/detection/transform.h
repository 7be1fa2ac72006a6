#pragma once
/// \file
/// torchvision's GeneralizedRCNNTransform in eval: normalise each image,
/// resize it so that its shorter side is min_size unless the longer would
/// exceed max_size (the scale computed in float32 and the output size
/// floored, bilinear without antialiasing, exactly as torchvision), or to a
/// fixed size (SSD); batch with zero padding to a multiple of
/// size_divisible; and map the detections back to the original sizes.

#include <array>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "modelzoo/detection/detector.h"

namespace modelzoo::detection {

/// The padded batch and the size of every image in it.
struct ImageList {
  at::Tensor tensors;                                    ///< N x 3 x H x W
  std::vector<std::pair<int64_t, int64_t>> image_sizes;  ///< (h, w) per image, before padding
};

/// Options of GeneralizedRCNNTransform.
struct TransformOptions {
  int64_t min_size = 800;   ///< eval size of the shorter side (the last of torchvision's min_size tuple)
  int64_t max_size = 1333;  ///< cap on the longer side
  std::array<double, 3> image_mean{0.485, 0.456, 0.406};
  std::array<double, 3> image_std{0.229, 0.224, 0.225};
  int64_t size_divisible = 32;
  /// (width, height) as torchvision's fixed_size; images are resized to it when set.
  std::optional<std::pair<int64_t, int64_t>> fixed_size;
};

/// GeneralizedRCNNTransform (no parameters).
class GeneralizedRCNNTransform {
 public:
  /// modelzoo::Error for non-positive sizes or std.
  explicit GeneralizedRCNNTransform(TransformOptions options);
  /// Normalises, resizes and batches.
  ImageList operator()(const std::vector<at::Tensor>& images) const;
  /// One image, normalised and resized (before batching).
  at::Tensor normalize_and_resize(const at::Tensor& image) const;
  /// Maps boxes (and keypoints, masks) from the resized sizes back to `original`.
  void postprocess(std::vector<Detection>& detections, const std::vector<std::pair<int64_t, int64_t>>& resized,
                   const std::vector<std::pair<int64_t, int64_t>>& original) const;
  /// The options.
  const TransformOptions& options() const { return options_; }

 private:
  TransformOptions options_;
};

}  // namespace modelzoo::detection
