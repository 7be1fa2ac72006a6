#pragma once
/// \file
/// Turning R-CNN head outputs into image-space results, as torchvision's
/// roi_heads: paste_masks_in_image (M x M mask probabilities into the box
/// they belong to, in a full-size image) and heatmaps_to_keypoints (the
/// arg-max of each keypoint heatmap, upsampled bicubically to its box).

#include <cstdint>
#include <utility>

#include <ATen/core/Tensor.h>

namespace modelzoo::ops {

/// Pastes N x 1 x M x M masks into N x 1 x H x W images (`image_size` =
/// (H, W)) at `boxes` (N x 4), after padding each mask by `padding` pixels
/// and expanding its box to match; bilinear resampling, as torchvision.
at::Tensor paste_masks_in_image(const at::Tensor& masks, const at::Tensor& boxes,
                                std::pair<int64_t, int64_t> image_size, int64_t padding = 1);

/// Keypoints from N x K x S x S heatmaps over `rois` (N x 4): first N x K x 3
/// (x, y, 1), second the N x K heatmap values at the chosen points.
std::pair<at::Tensor, at::Tensor> heatmaps_to_keypoints(const at::Tensor& maps, const at::Tensor& rois);

}  // namespace modelzoo::ops
