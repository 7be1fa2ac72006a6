#include "modelzoo/ops/boxes.h"

#include <algorithm>
#include <sstream>

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>

#include "modelzoo/error.h"

namespace modelzoo::ops {
namespace {

std::string shape_of(const at::Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

void check_boxes(const at::Tensor& boxes, const char* what) {
  if (!boxes.defined() || boxes.dim() != 2 || boxes.size(1) != 4) {
    throw Error(std::string(what) + ": boxes must be N x 4, got " +
                (boxes.defined() ? shape_of(boxes) : std::string("an undefined tensor")));
  }
}

at::Tensor xywh_to_xyxy(const at::Tensor& b) {
  auto u = b.unbind(-1);
  return at::stack({u[0], u[1], u[0] + u[2], u[1] + u[3]}, -1);
}
at::Tensor cxcywh_to_xyxy(const at::Tensor& b) {
  auto u = b.unbind(-1);
  return at::stack({u[0] - 0.5 * u[2], u[1] - 0.5 * u[3], u[0] + 0.5 * u[2], u[1] + 0.5 * u[3]}, -1);
}
at::Tensor xyxy_to_xywh(const at::Tensor& b) {
  auto u = b.unbind(-1);
  return at::stack({u[0], u[1], u[2] - u[0], u[3] - u[1]}, -1);
}
at::Tensor xyxy_to_cxcywh(const at::Tensor& b) {
  auto u = b.unbind(-1);
  return at::stack({(u[0] + u[2]) / 2, (u[1] + u[3]) / 2, u[2] - u[0], u[3] - u[1]}, -1);
}

// The greedy loop of torchvision's CPU kernel, on one floating type.
template <typename T>
at::Tensor nms_kernel(const at::Tensor& dets, const at::Tensor& scores, double iou_threshold) {
  const at::Tensor x1_t = dets.select(1, 0).contiguous();
  const at::Tensor y1_t = dets.select(1, 1).contiguous();
  const at::Tensor x2_t = dets.select(1, 2).contiguous();
  const at::Tensor y2_t = dets.select(1, 3).contiguous();
  const at::Tensor areas_t = (x2_t - x1_t) * (y2_t - y1_t);
  const at::Tensor order_t = std::get<1>(scores.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
  const int64_t n = dets.size(0);
  std::vector<uint8_t> suppressed(static_cast<std::size_t>(n), 0);
  at::Tensor keep_t = at::zeros({n}, dets.options().dtype(at::kLong));
  const T* x1 = x1_t.data_ptr<T>();
  const T* y1 = y1_t.data_ptr<T>();
  const T* x2 = x2_t.data_ptr<T>();
  const T* y2 = y2_t.data_ptr<T>();
  const T* areas = areas_t.data_ptr<T>();
  const int64_t* order = order_t.data_ptr<int64_t>();
  int64_t* keep = keep_t.data_ptr<int64_t>();
  int64_t kept = 0;
  for (int64_t oi = 0; oi < n; ++oi) {
    const int64_t i = order[oi];
    if (suppressed[i]) continue;
    keep[kept++] = i;
    const T ix1 = x1[i], iy1 = y1[i], ix2 = x2[i], iy2 = y2[i], iarea = areas[i];
    for (int64_t oj = oi + 1; oj < n; ++oj) {
      const int64_t j = order[oj];
      if (suppressed[j]) continue;
      const T xx1 = std::max(ix1, x1[j]);
      const T yy1 = std::max(iy1, y1[j]);
      const T xx2 = std::min(ix2, x2[j]);
      const T yy2 = std::min(iy2, y2[j]);
      const T w = std::max(static_cast<T>(0), xx2 - xx1);
      const T h = std::max(static_cast<T>(0), yy2 - yy1);
      const T inter = w * h;
      const T ovr = inter / (iarea + areas[j] - inter);
      if (ovr > iou_threshold) suppressed[j] = 1;
    }
  }
  return keep_t.narrow(0, 0, kept);
}

}  // namespace

at::Tensor box_convert(const at::Tensor& boxes, const std::string& in_fmt, const std::string& out_fmt) {
  auto known = [](const std::string& f) { return f == "xyxy" || f == "xywh" || f == "cxcywh"; };
  if (!known(in_fmt) || !known(out_fmt)) {
    throw Error("box_convert: unsupported conversion '" + in_fmt + "' -> '" + out_fmt +
                "' (formats: xyxy, xywh, cxcywh)");
  }
  if (!boxes.defined() || boxes.dim() < 1 || boxes.size(-1) != 4) {
    throw Error("box_convert: boxes must have a last dimension of 4, got " +
                (boxes.defined() ? shape_of(boxes) : std::string("an undefined tensor")));
  }
  if (in_fmt == out_fmt) return boxes.clone();
  at::Tensor xyxy = boxes;
  if (in_fmt == "xywh") xyxy = xywh_to_xyxy(boxes);
  if (in_fmt == "cxcywh") xyxy = cxcywh_to_xyxy(boxes);
  if (out_fmt == "xywh") return xyxy_to_xywh(xyxy);
  if (out_fmt == "cxcywh") return xyxy_to_cxcywh(xyxy);
  return xyxy;
}

at::Tensor box_area(const at::Tensor& boxes) {
  check_boxes(boxes, "box_area");
  return (boxes.select(1, 2) - boxes.select(1, 0)) * (boxes.select(1, 3) - boxes.select(1, 1));
}

at::Tensor box_iou(const at::Tensor& boxes1, const at::Tensor& boxes2) {
  check_boxes(boxes1, "box_iou");
  check_boxes(boxes2, "box_iou");
  using namespace at::indexing;
  const at::Tensor area1 = box_area(boxes1);
  const at::Tensor area2 = box_area(boxes2);
  const at::Tensor lt = at::max(boxes1.index({Slice(), None, Slice(None, 2)}), boxes2.index({Slice(), Slice(None, 2)}));
  const at::Tensor rb = at::min(boxes1.index({Slice(), None, Slice(2, None)}), boxes2.index({Slice(), Slice(2, None)}));
  const at::Tensor wh = (rb - lt).clamp_min(0);
  const at::Tensor inter = wh.select(2, 0) * wh.select(2, 1);
  const at::Tensor uni = area1.index({Slice(), None}) + area2 - inter;
  return inter / uni;
}

at::Tensor clip_boxes_to_image(const at::Tensor& boxes, std::pair<int64_t, int64_t> size) {
  if (!boxes.defined() || boxes.dim() < 1 || boxes.size(-1) % 2 != 0) {
    throw Error("clip_boxes_to_image: boxes must have an even last dimension, got " +
                (boxes.defined() ? shape_of(boxes) : std::string("an undefined tensor")));
  }
  using namespace at::indexing;
  const int64_t dim = boxes.dim();
  const at::Tensor bx = boxes.index({"...", Slice(0, None, 2)}).clamp(0, size.second);
  const at::Tensor by = boxes.index({"...", Slice(1, None, 2)}).clamp(0, size.first);
  return at::stack({bx, by}, dim).reshape(boxes.sizes());
}

at::Tensor remove_small_boxes(const at::Tensor& boxes, double min_size) {
  check_boxes(boxes, "remove_small_boxes");
  const at::Tensor ws = boxes.select(1, 2) - boxes.select(1, 0);
  const at::Tensor hs = boxes.select(1, 3) - boxes.select(1, 1);
  return at::where(ws.ge(min_size).logical_and(hs.ge(min_size)))[0];
}

at::Tensor nms(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold) {
  check_boxes(boxes, "nms");
  if (!scores.defined() || scores.dim() != 1 || scores.size(0) != boxes.size(0)) {
    throw Error("nms: scores must be a vector of " + std::to_string(boxes.size(0)) + " values, got " +
                (scores.defined() ? shape_of(scores) : std::string("an undefined tensor")));
  }
  if (boxes.scalar_type() != scores.scalar_type()) {
    throw Error("nms: boxes and scores must have the same dtype");
  }
  if (boxes.numel() == 0) return at::empty({0}, boxes.options().dtype(at::kLong));
  const at::Tensor dets = boxes.contiguous();
  const at::Tensor sc = scores.contiguous();
  at::Tensor out;
  AT_DISPATCH_FLOATING_TYPES(dets.scalar_type(), "modelzoo_nms", [&] {
    out = nms_kernel<scalar_t>(dets, sc, iou_threshold);
  });
  return out;
}

at::Tensor batched_nms(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs,
                       double iou_threshold) {
  check_boxes(boxes, "batched_nms");
  if (!idxs.defined() || idxs.dim() != 1 || idxs.size(0) != boxes.size(0)) {
    throw Error("batched_nms: idxs must be a vector of " + std::to_string(boxes.size(0)) + " values, got " +
                (idxs.defined() ? shape_of(idxs) : std::string("an undefined tensor")));
  }
  if (boxes.numel() > 4000) {
    // Per category, then the union sorted by score.
    at::Tensor keep_mask = at::zeros_like(scores, scores.options().dtype(at::kBool));
    const at::Tensor classes = std::get<0>(at::_unique(idxs));
    for (int64_t c = 0; c < classes.size(0); ++c) {
      const at::Tensor curr = at::where(idxs.eq(classes[c]))[0];
      const at::Tensor kept = nms(boxes.index_select(0, curr), scores.index_select(0, curr), iou_threshold);
      keep_mask.index_put_({curr.index_select(0, kept)}, true);
    }
    const at::Tensor keep = at::where(keep_mask)[0];
    return keep.index_select(0, std::get<1>(scores.index_select(0, keep).sort(0, /*descending=*/true)));
  }
  if (boxes.numel() == 0) return at::empty({0}, boxes.options().dtype(at::kLong));
  // Offsets every category's boxes beyond the others, then one nms().
  const at::Tensor max_coordinate = boxes.max();
  const at::Tensor offsets = idxs.to(boxes.options()) * (max_coordinate + at::ones({}, boxes.options()));
  return nms(boxes + offsets.unsqueeze(1), scores, iou_threshold);
}

BoxCoder::BoxCoder(std::array<double, 4> weights, double bbox_xform_clip)
    : weights_(weights), clip_(bbox_xform_clip) {}

at::Tensor BoxCoder::encode_single(const at::Tensor& reference_boxes, const at::Tensor& proposals) const {
  check_boxes(reference_boxes, "BoxCoder::encode");
  check_boxes(proposals, "BoxCoder::encode");
  const at::Tensor w = at::tensor(std::vector<double>(weights_.begin(), weights_.end()))
                           .to(reference_boxes.scalar_type());
  auto col = [](const at::Tensor& t, int64_t i) { return t.select(1, i).unsqueeze(1); };
  const at::Tensor ex_w = col(proposals, 2) - col(proposals, 0);
  const at::Tensor ex_h = col(proposals, 3) - col(proposals, 1);
  const at::Tensor ex_cx = col(proposals, 0) + 0.5 * ex_w;
  const at::Tensor ex_cy = col(proposals, 1) + 0.5 * ex_h;
  const at::Tensor gt_w = col(reference_boxes, 2) - col(reference_boxes, 0);
  const at::Tensor gt_h = col(reference_boxes, 3) - col(reference_boxes, 1);
  const at::Tensor gt_cx = col(reference_boxes, 0) + 0.5 * gt_w;
  const at::Tensor gt_cy = col(reference_boxes, 1) + 0.5 * gt_h;
  const at::Tensor dx = w[0] * (gt_cx - ex_cx) / ex_w;
  const at::Tensor dy = w[1] * (gt_cy - ex_cy) / ex_h;
  const at::Tensor dw = w[2] * at::log(gt_w / ex_w);
  const at::Tensor dh = w[3] * at::log(gt_h / ex_h);
  return at::cat({dx, dy, dw, dh}, 1);
}

at::Tensor BoxCoder::decode_single(const at::Tensor& rel_codes, const at::Tensor& boxes_in) const {
  using namespace at::indexing;
  const at::Tensor boxes = boxes_in.to(rel_codes.scalar_type());
  const at::Tensor widths = boxes.select(1, 2) - boxes.select(1, 0);
  const at::Tensor heights = boxes.select(1, 3) - boxes.select(1, 1);
  const at::Tensor ctr_x = boxes.select(1, 0) + 0.5 * widths;
  const at::Tensor ctr_y = boxes.select(1, 1) + 0.5 * heights;
  const at::Tensor dx = rel_codes.index({Slice(), Slice(0, None, 4)}) / weights_[0];
  const at::Tensor dy = rel_codes.index({Slice(), Slice(1, None, 4)}) / weights_[1];
  const at::Tensor dw = (rel_codes.index({Slice(), Slice(2, None, 4)}) / weights_[2]).clamp_max(clip_);
  const at::Tensor dh = (rel_codes.index({Slice(), Slice(3, None, 4)}) / weights_[3]).clamp_max(clip_);
  const at::Tensor pred_ctr_x = dx * widths.unsqueeze(1) + ctr_x.unsqueeze(1);
  const at::Tensor pred_ctr_y = dy * heights.unsqueeze(1) + ctr_y.unsqueeze(1);
  const at::Tensor pred_w = at::exp(dw) * widths.unsqueeze(1);
  const at::Tensor pred_h = at::exp(dh) * heights.unsqueeze(1);
  const at::Tensor half = at::full({}, 0.5, pred_w.options());
  const at::Tensor c_h = half * pred_h;
  const at::Tensor c_w = half * pred_w;
  return at::stack({pred_ctr_x - c_w, pred_ctr_y - c_h, pred_ctr_x + c_w, pred_ctr_y + c_h}, 2).flatten(1);
}

at::Tensor BoxCoder::decode(const at::Tensor& rel_codes, const std::vector<at::Tensor>& boxes) const {
  int64_t total = 0;
  for (const auto& b : boxes) total += b.size(0);
  const at::Tensor concat = boxes.empty() ? at::empty({0, 4}, rel_codes.options()) : at::cat(boxes, 0);
  at::Tensor codes = rel_codes;
  if (total > 0) codes = codes.reshape({total, -1});
  at::Tensor pred = decode_single(codes, concat);
  if (total > 0) pred = pred.reshape({total, -1, 4});
  return pred;
}

at::Tensor BoxLinearCoder::encode(const at::Tensor& reference_boxes, const at::Tensor& proposals) const {
  using namespace at::indexing;
  auto c = [](const at::Tensor& t, int64_t i) { return t.index({"...", i}); };
  const at::Tensor cx = 0.5 * (c(reference_boxes, 0) + c(reference_boxes, 2));
  const at::Tensor cy = 0.5 * (c(reference_boxes, 1) + c(reference_boxes, 3));
  at::Tensor targets = at::stack({cx - c(proposals, 0), cy - c(proposals, 1), c(proposals, 2) - cx,
                                  c(proposals, 3) - cy}, -1);
  if (normalize_) {
    const at::Tensor w = c(reference_boxes, 2) - c(reference_boxes, 0);
    const at::Tensor h = c(reference_boxes, 3) - c(reference_boxes, 1);
    targets = targets / at::stack({w, h, w, h}, -1);
  }
  return targets;
}

at::Tensor BoxLinearCoder::decode(const at::Tensor& rel_codes_in, const at::Tensor& boxes_in) const {
  using namespace at::indexing;
  auto c = [](const at::Tensor& t, int64_t i) { return t.index({"...", i}); };
  const at::Tensor boxes = boxes_in.to(rel_codes_in.scalar_type());
  const at::Tensor cx = 0.5 * (c(boxes, 0) + c(boxes, 2));
  const at::Tensor cy = 0.5 * (c(boxes, 1) + c(boxes, 3));
  at::Tensor rel = rel_codes_in;
  if (normalize_) {
    const at::Tensor w = c(boxes, 2) - c(boxes, 0);
    const at::Tensor h = c(boxes, 3) - c(boxes, 1);
    rel = rel * at::stack({w, h, w, h}, -1);
  }
  return at::stack({cx - c(rel, 0), cy - c(rel, 1), cx + c(rel, 2), cy + c(rel, 3)}, -1);
}

}  // namespace modelzoo::ops
