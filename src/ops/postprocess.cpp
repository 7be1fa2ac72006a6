#include "modelzoo/ops/postprocess.h"

#include <algorithm>
#include <sstream>

#include <ATen/ATen.h>

#include "modelzoo/error.h"

namespace modelzoo::ops {

at::Tensor paste_masks_in_image(const at::Tensor& masks, const at::Tensor& boxes, std::pair<int64_t, int64_t> image_size,
                                int64_t padding) {
  if (masks.dim() != 4 || masks.size(1) != 1 || boxes.dim() != 2 || boxes.size(1) != 4 ||
      masks.size(0) != boxes.size(0)) {
    std::ostringstream os;
    os << "paste_masks_in_image: expected N x 1 x M x M masks and N x 4 boxes, got " << masks.sizes() << " and "
       << boxes.sizes();
    throw Error(os.str());
  }
  const int64_t im_h = image_size.first, im_w = image_size.second;
  const int64_t m = masks.size(-1);
  const double scale = static_cast<double>(m + 2 * padding) / static_cast<double>(m);
  const at::Tensor padded = at::constant_pad_nd(masks, {padding, padding, padding, padding}, 0);
  // expand_boxes: the box grown by the same factor as the padded mask.
  at::Tensor w_half = (boxes.select(1, 2) - boxes.select(1, 0)) * 0.5;
  at::Tensor h_half = (boxes.select(1, 3) - boxes.select(1, 1)) * 0.5;
  const at::Tensor x_c = (boxes.select(1, 2) + boxes.select(1, 0)) * 0.5;
  const at::Tensor y_c = (boxes.select(1, 3) + boxes.select(1, 1)) * 0.5;
  w_half.mul_(scale);
  h_half.mul_(scale);
  const at::Tensor expanded = at::stack({x_c - w_half, y_c - h_half, x_c + w_half, y_c + h_half}, 1).to(at::kLong);
  const int64_t n = masks.size(0);
  at::Tensor out = at::zeros({n, 1, im_h, im_w}, masks.options());
  const auto b = expanded.accessor<int64_t, 2>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t x0b = b[i][0], y0b = b[i][1], x1b = b[i][2], y1b = b[i][3];
    const int64_t w = std::max<int64_t>(x1b - x0b + 1, 1);
    const int64_t h = std::max<int64_t>(y1b - y0b + 1, 1);
    const at::Tensor resized = at::upsample_bilinear2d(padded[i].unsqueeze(0), {h, w}, false, c10::nullopt,
                                                       c10::nullopt)[0][0];
    const int64_t x_0 = std::max<int64_t>(x0b, 0), x_1 = std::min<int64_t>(x1b + 1, im_w);
    const int64_t y_0 = std::max<int64_t>(y0b, 0), y_1 = std::min<int64_t>(y1b + 1, im_h);
    if (x_1 <= x_0 || y_1 <= y_0) continue;
    out[i][0].narrow(0, y_0, y_1 - y_0).narrow(1, x_0, x_1 - x_0)
        .copy_(resized.narrow(0, y_0 - y0b, y_1 - y_0).narrow(1, x_0 - x0b, x_1 - x_0));
  }
  return out;
}

std::pair<at::Tensor, at::Tensor> heatmaps_to_keypoints(const at::Tensor& maps, const at::Tensor& rois) {
  if (maps.dim() != 4 || rois.dim() != 2 || rois.size(1) != 4 || maps.size(0) != rois.size(0)) {
    std::ostringstream os;
    os << "heatmaps_to_keypoints: expected N x K x S x S maps and N x 4 rois, got " << maps.sizes() << " and "
       << rois.sizes();
    throw Error(os.str());
  }
  const at::Tensor offset_x = rois.select(1, 0);
  const at::Tensor offset_y = rois.select(1, 1);
  const at::Tensor widths = (rois.select(1, 2) - rois.select(1, 0)).clamp_min(1);
  const at::Tensor heights = (rois.select(1, 3) - rois.select(1, 1)).clamp_min(1);
  const at::Tensor widths_ceil = widths.ceil();
  const at::Tensor heights_ceil = heights.ceil();
  const int64_t k = maps.size(1);
  const int64_t n = rois.size(0);
  at::Tensor xy = at::zeros({n, 3, k}, maps.options().dtype(at::kFloat));
  at::Tensor end_scores = at::zeros({n, k}, maps.options().dtype(at::kFloat));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t rw = static_cast<int64_t>(widths_ceil[i].item<double>());
    const int64_t rh = static_cast<int64_t>(heights_ceil[i].item<double>());
    const at::Tensor wc = widths[i] / rw;
    const at::Tensor hc = heights[i] / rh;
    const at::Tensor roi_map =
        at::upsample_bicubic2d(maps[i].unsqueeze(1), {rh, rw}, false, c10::nullopt, c10::nullopt).select(1, 0);
    const at::Tensor pos = roi_map.reshape({k, -1}).argmax(1);
    const at::Tensor x_int = pos % rw;
    const at::Tensor y_int = at::div(pos - x_int, rw, "floor");
    xy[i][0].copy_((x_int.to(at::kFloat) + 0.5) * wc + offset_x[i]);
    xy[i][1].copy_((y_int.to(at::kFloat) + 0.5) * hc + offset_y[i]);
    xy[i][2].fill_(1);
    end_scores[i].copy_(roi_map.index({at::arange(k), y_int, x_int}));
  }
  return {xy.permute({0, 2, 1}), end_scores};
}

}  // namespace modelzoo::ops
