#pragma once
/// \file
/// Box operations as torchvision.ops computes them on CPU: format conversion,
/// areas and pairwise IoU, clipping, small-box removal, non-maximum
/// suppression (plain and per class) and the R-CNN box coder. Boxes are
/// N x 4 float tensors, (x1, y1, x2, y2) unless a format says otherwise.
/// Every function gives the same values, indices and order as torchvision
/// 0.14 (ties included), because it runs the same tensor arithmetic in the
/// same order.

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace modelzoo::ops {

/// torchvision.ops.box_convert between "xyxy", "xywh" and "cxcywh";
/// modelzoo::Error naming the format otherwise. Same format: a copy.
at::Tensor box_convert(const at::Tensor& boxes, const std::string& in_fmt, const std::string& out_fmt);

/// (x2 - x1) * (y2 - y1) per box (N), as torchvision.ops.box_area.
at::Tensor box_area(const at::Tensor& boxes);

/// Pairwise IoU (N x M) of two box sets, as torchvision.ops.box_iou.
at::Tensor box_iou(const at::Tensor& boxes1, const at::Tensor& boxes2);

/// Clamps x to [0, width] and y to [0, height]; `size` is (height, width).
at::Tensor clip_boxes_to_image(const at::Tensor& boxes, std::pair<int64_t, int64_t> size);

/// Indices (int64) of the boxes whose width and height are both >= min_size.
at::Tensor remove_small_boxes(const at::Tensor& boxes, double min_size);

/// Greedy non-maximum suppression: the indices (int64) of the kept boxes in
/// decreasing score order (a stable sort, so equal scores keep their input
/// order); a box is dropped when its IoU with a kept one is > iou_threshold.
/// modelzoo::Error naming the shapes for boxes that are not N x 4 or scores
/// that are not N.
at::Tensor nms(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold);

/// NMS applied per category (`idxs`, N integers): boxes of different
/// categories never suppress each other. Like torchvision, small inputs
/// (<= 4000 coordinates) offset every category's boxes apart and run one
/// nms(); larger ones run nms() per category and sort the union by score.
at::Tensor batched_nms(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs,
                       double iou_threshold);

/// The R-CNN box parametrisation (torchvision.models.detection._utils.BoxCoder):
/// deltas (dx, dy, dw, dh) relative to reference boxes, scaled by `weights`,
/// with dw/dh clamped to bbox_xform_clip when decoding.
class BoxCoder {
 public:
  /// `weights` (wx, wy, ww, wh); the clip defaults to log(1000 / 16).
  explicit BoxCoder(std::array<double, 4> weights, double bbox_xform_clip = std::log(1000.0 / 16));
  /// Encodes `reference_boxes` (targets) against `proposals`: N x 4 deltas.
  at::Tensor encode_single(const at::Tensor& reference_boxes, const at::Tensor& proposals) const;
  /// Decodes N x (4k) deltas against N reference boxes: N x (4k) boxes.
  at::Tensor decode_single(const at::Tensor& rel_codes, const at::Tensor& boxes) const;
  /// Decodes deltas for the concatenation of `boxes` (one tensor per image):
  /// (sum N) x k x 4.
  at::Tensor decode(const at::Tensor& rel_codes, const std::vector<at::Tensor>& boxes) const;
  /// The weights.
  const std::array<double, 4>& weights() const { return weights_; }

 private:
  std::array<double, 4> weights_;
  double clip_;
};

/// FCOS's box parametrisation (BoxLinearCoder): distances from the anchor
/// centre to the four sides, divided by the anchor size when normalize_by_size.
class BoxLinearCoder {
 public:
  /// As torchvision's constructor.
  explicit BoxLinearCoder(bool normalize_by_size = true) : normalize_(normalize_by_size) {}
  /// (l, t, r, b) of `proposals` around the centres of `reference_boxes`.
  at::Tensor encode(const at::Tensor& reference_boxes, const at::Tensor& proposals) const;
  /// Boxes from (l, t, r, b) codes around the centres of `boxes` (any leading dims).
  at::Tensor decode(const at::Tensor& rel_codes, const at::Tensor& boxes) const;

 private:
  bool normalize_;
};

}  // namespace modelzoo::ops
