#pragma once
/// \file
/// RoIAlign (He et al., 2017) as torchvision.ops.roi_align computes it on
/// CPU, and MultiScaleRoIAlign, which pools each box from the pyramid level
/// its size maps to (Lin et al., 2017, eq. 1).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace modelzoo::ops {

/// Named feature maps in order (Python's OrderedDict[str, Tensor]).
using FeatureMaps = std::vector<std::pair<std::string, at::Tensor>>;

/// Options of roi_align.
struct RoIAlignOptions {
  int64_t output_height = 7;   ///< pooled rows
  int64_t output_width = 7;    ///< pooled columns
  double spatial_scale = 1.0;  ///< box coordinates -> feature coordinates
  /// Sampling points per bin and axis; <= 0: ceil(roi size / output size), adaptive.
  int64_t sampling_ratio = -1;
  /// true: shift boxes by -0.5 pixel (pixel-centre model); false: torchvision's legacy behaviour.
  bool aligned = false;
};

/// RoIAlign of `input` (N x C x H x W, float or double) over `rois` (K x 5:
/// batch index, x1, y1, x2, y2): K x C x output_height x output_width.
/// modelzoo::Error naming the shapes when they do not fit.
at::Tensor roi_align(const at::Tensor& input, const at::Tensor& rois, const RoIAlignOptions& options);

/// As above with one box tensor (L x 4) per image of the batch.
at::Tensor roi_align(const at::Tensor& input, const std::vector<at::Tensor>& boxes,
                     const RoIAlignOptions& options);

/// Per-image boxes -> K x 5 rois with the image index in column 0.
at::Tensor boxes_to_rois(const std::vector<at::Tensor>& boxes);

/// torchvision.ops.poolers.LevelMapper: the pyramid level of each box,
/// floor(canonical_level + log2(sqrt(area) / canonical_scale) + eps) clamped
/// to [k_min, k_max], minus k_min.
class LevelMapper {
 public:
  /// As torchvision's constructor.
  LevelMapper(int64_t k_min, int64_t k_max, int64_t canonical_scale = 224, int64_t canonical_level = 4,
              double eps = 1e-6);
  /// Level indices (int64) of the boxes of every image, concatenated.
  at::Tensor operator()(const std::vector<at::Tensor>& boxes) const;
  /// Lowest level.
  int64_t k_min() const { return k_min_; }
  /// Highest level.
  int64_t k_max() const { return k_max_; }

 private:
  int64_t k_min_, k_max_, s0_, lvl0_;
  double eps_;
};

/// torchvision.ops.MultiScaleRoIAlign: pools boxes from the feature maps
/// named `featmap_names`; each map's scale is inferred from its size relative
/// to the largest image (a power of two), and each box goes to the level the
/// LevelMapper gives it. No parameters.
class MultiScaleRoIAlign {
 public:
  /// As torchvision's constructor (output_size square when one value).
  MultiScaleRoIAlign(std::vector<std::string> featmap_names, std::pair<int64_t, int64_t> output_size,
                     int64_t sampling_ratio, int64_t canonical_scale = 224, int64_t canonical_level = 4);
  /// Pooled features (total boxes x C x oh x ow) for per-image `boxes`;
  /// `image_shapes` are the (height, width) of the images after resizing.
  /// Maps not in `features` are skipped, as torchvision does (MobileNet
  /// backbones have only "0" and "1"); modelzoo::Error when none of the
  /// names is there or image_shapes is empty.
  at::Tensor operator()(const FeatureMaps& features, const std::vector<at::Tensor>& boxes,
                        const std::vector<std::pair<int64_t, int64_t>>& image_shapes) const;
  /// The scales of the selected maps for these images (torchvision's _setup_scales).
  std::vector<double> scales(const FeatureMaps& features,
                             const std::vector<std::pair<int64_t, int64_t>>& image_shapes) const;
  /// The pooled size.
  std::pair<int64_t, int64_t> output_size() const { return output_size_; }

 private:
  std::vector<at::Tensor> select(const FeatureMaps& features) const;
  std::vector<std::string> names_;
  std::pair<int64_t, int64_t> output_size_;
  int64_t sampling_ratio_, canonical_scale_, canonical_level_;
};

}  // namespace modelzoo::ops
