#pragma once
/// \file
/// Anchor generators of torchvision's detection models: AnchorGenerator
/// (the grid anchors of the RPN, RetinaNet and FCOS) and DefaultBoxGenerator
/// (SSD's default boxes, Liu et al., 2016). Neither has parameters.

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace modelzoo::ops {

/// torchvision.models.detection.anchor_utils.AnchorGenerator: per feature map
/// `sizes[i]` x `aspect_ratios[i]` cell anchors centred on (0, 0), rounded,
/// shifted to every grid position (stride = image size // feature size).
class AnchorGenerator {
 public:
  /// One list of sizes and one of aspect ratios per feature map;
  /// modelzoo::Error when their counts differ or a list is empty.
  AnchorGenerator(std::vector<std::vector<double>> sizes, std::vector<std::vector<double>> aspect_ratios);
  /// Anchors per location of each feature map (|sizes| x |ratios|).
  std::vector<int64_t> num_anchors_per_location() const;
  /// The cell anchors (A x 4, float) of every feature map.
  const std::vector<at::Tensor>& cell_anchors() const { return cell_anchors_; }
  /// Anchors of the concatenated feature maps (sum of H*W*A x 4) for a padded
  /// batch of size `image_size` (height, width); one copy per image.
  std::vector<at::Tensor> operator()(std::pair<int64_t, int64_t> image_size,
                                     const std::vector<at::Tensor>& feature_maps, int64_t num_images) const;

 private:
  std::vector<std::vector<double>> sizes_, ratios_;
  std::vector<at::Tensor> cell_anchors_;
};

/// torchvision.models.detection.anchor_utils.DefaultBoxGenerator.
class DefaultBoxGenerator {
 public:
  /// As torchvision's constructor; scales empty: evenly spaced from min_ratio
  /// to max_ratio (plus 1.0). modelzoo::Error when steps and aspect_ratios differ in length.
  DefaultBoxGenerator(std::vector<std::vector<double>> aspect_ratios, double min_ratio = 0.15,
                      double max_ratio = 0.9, std::vector<double> scales = {},
                      std::optional<std::vector<int64_t>> steps = std::nullopt, bool clip = true);
  /// Boxes per location of each feature map (2 + 2 * |ratios|).
  std::vector<int64_t> num_anchors_per_location() const;
  /// The scales in use.
  const std::vector<double>& scales() const { return scales_; }
  /// Default boxes (x1, y1, x2, y2 in pixels of the padded batch) per image.
  std::vector<at::Tensor> operator()(std::pair<int64_t, int64_t> image_size,
                                     const std::vector<at::Tensor>& feature_maps, int64_t num_images) const;

 private:
  std::vector<std::vector<double>> ratios_;
  std::vector<double> scales_;
  std::optional<std::vector<int64_t>> steps_;
  bool clip_;
  std::vector<at::Tensor> wh_pairs_;
};

}  // namespace modelzoo::ops
