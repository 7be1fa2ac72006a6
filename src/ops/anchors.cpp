#include "modelzoo/ops/anchors.h"

#include <cmath>

#include <ATen/ATen.h>

#include "modelzoo/error.h"

namespace modelzoo::ops {

AnchorGenerator::AnchorGenerator(std::vector<std::vector<double>> sizes, std::vector<std::vector<double>> aspect_ratios)
    : sizes_(std::move(sizes)), ratios_(std::move(aspect_ratios)) {
  if (sizes_.size() != ratios_.size() || sizes_.empty()) {
    throw Error("AnchorGenerator: needs one list of sizes and one of aspect ratios per feature map, got " +
                std::to_string(sizes_.size()) + " and " + std::to_string(ratios_.size()));
  }
  for (std::size_t i = 0; i < sizes_.size(); ++i) {
    if (sizes_[i].empty() || ratios_[i].empty()) {
      throw Error("AnchorGenerator: feature map " + std::to_string(i) + " has no sizes or no aspect ratios");
    }
    const at::Tensor scales = at::tensor(sizes_[i]).to(at::kFloat);
    const at::Tensor ratios = at::tensor(ratios_[i]).to(at::kFloat);
    const at::Tensor h_ratios = at::sqrt(ratios);
    const at::Tensor w_ratios = h_ratios.reciprocal() * 1;
    const at::Tensor ws = (w_ratios.unsqueeze(1) * scales.unsqueeze(0)).view(-1);
    const at::Tensor hs = (h_ratios.unsqueeze(1) * scales.unsqueeze(0)).view(-1);
    cell_anchors_.push_back((at::stack({-ws, -hs, ws, hs}, 1) / 2).round());
  }
}

std::vector<int64_t> AnchorGenerator::num_anchors_per_location() const {
  std::vector<int64_t> out;
  for (std::size_t i = 0; i < sizes_.size(); ++i) out.push_back(static_cast<int64_t>(sizes_[i].size() * ratios_[i].size()));
  return out;
}

std::vector<at::Tensor> AnchorGenerator::operator()(std::pair<int64_t, int64_t> image_size,
                                                    const std::vector<at::Tensor>& feature_maps,
                                                    int64_t num_images) const {
  if (feature_maps.size() != cell_anchors_.size()) {
    throw Error("AnchorGenerator: built for " + std::to_string(cell_anchors_.size()) + " feature maps, got " +
                std::to_string(feature_maps.size()));
  }
  std::vector<at::Tensor> per_level;
  for (std::size_t i = 0; i < feature_maps.size(); ++i) {
    const int64_t gh = feature_maps[i].size(-2), gw = feature_maps[i].size(-1);
    const at::Tensor stride_h = at::scalar_tensor(image_size.first / gh, at::kLong);
    const at::Tensor stride_w = at::scalar_tensor(image_size.second / gw, at::kLong);
    const at::Tensor shifts_x = at::arange(0, gw, at::kInt) * stride_w;
    const at::Tensor shifts_y = at::arange(0, gh, at::kInt) * stride_h;
    auto grid = at::meshgrid({shifts_y, shifts_x}, "ij");
    const at::Tensor sx = grid[1].reshape(-1), sy = grid[0].reshape(-1);
    const at::Tensor shifts = at::stack({sx, sy, sx, sy}, 1);
    const at::Tensor base = cell_anchors_[i].to(feature_maps[i].scalar_type());
    per_level.push_back((shifts.view({-1, 1, 4}) + base.view({1, -1, 4})).reshape({-1, 4}));
  }
  const at::Tensor all = at::cat(per_level);
  return std::vector<at::Tensor>(static_cast<std::size_t>(num_images), all);
}

DefaultBoxGenerator::DefaultBoxGenerator(std::vector<std::vector<double>> aspect_ratios, double min_ratio,
                                         double max_ratio, std::vector<double> scales,
                                         std::optional<std::vector<int64_t>> steps, bool clip)
    : ratios_(std::move(aspect_ratios)), scales_(std::move(scales)), steps_(std::move(steps)), clip_(clip) {
  if (steps_ && steps_->size() != ratios_.size()) {
    throw Error("DefaultBoxGenerator: aspect_ratios and steps should have the same length, got " +
                std::to_string(ratios_.size()) + " and " + std::to_string(steps_->size()));
  }
  const std::size_t n = ratios_.size();
  if (scales_.empty()) {
    if (n > 1) {
      const double range = max_ratio - min_ratio;
      for (std::size_t k = 0; k < n; ++k) scales_.push_back(min_ratio + range * static_cast<double>(k) / (n - 1.0));
      scales_.push_back(1.0);
    } else {
      scales_ = {min_ratio, max_ratio};
    }
  }
  if (scales_.size() < n + 1) {
    throw Error("DefaultBoxGenerator: needs " + std::to_string(n + 1) + " scales, got " + std::to_string(scales_.size()));
  }
  for (std::size_t k = 0; k < n; ++k) {
    const double s_k = scales_[k];
    const double s_prime = std::sqrt(scales_[k] * scales_[k + 1]);
    std::vector<double> wh = {s_k, s_k, s_prime, s_prime};
    for (double ar : ratios_[k]) {
      const double sq = std::sqrt(ar);
      const double w = scales_[k] * sq, h = scales_[k] / sq;
      wh.insert(wh.end(), {w, h, h, w});
    }
    wh_pairs_.push_back(at::tensor(wh).to(at::kFloat).view({-1, 2}));
  }
}

std::vector<int64_t> DefaultBoxGenerator::num_anchors_per_location() const {
  std::vector<int64_t> out;
  for (const auto& r : ratios_) out.push_back(2 + 2 * static_cast<int64_t>(r.size()));
  return out;
}

std::vector<at::Tensor> DefaultBoxGenerator::operator()(std::pair<int64_t, int64_t> image_size,
                                                        const std::vector<at::Tensor>& feature_maps,
                                                        int64_t num_images) const {
  if (feature_maps.size() != wh_pairs_.size()) {
    throw Error("DefaultBoxGenerator: built for " + std::to_string(wh_pairs_.size()) + " feature maps, got " +
                std::to_string(feature_maps.size()));
  }
  std::vector<at::Tensor> boxes;
  for (std::size_t k = 0; k < feature_maps.size(); ++k) {
    const int64_t fh = feature_maps[k].size(-2), fw = feature_maps[k].size(-1);
    double x_f = static_cast<double>(fw), y_f = static_cast<double>(fh);
    if (steps_) {
      x_f = static_cast<double>(image_size.second) / static_cast<double>((*steps_)[k]);
      y_f = static_cast<double>(image_size.first) / static_cast<double>((*steps_)[k]);
    }
    const at::Tensor shifts_x = ((at::arange(0, fw, at::kLong) + 0.5) / x_f).to(at::kFloat);
    const at::Tensor shifts_y = ((at::arange(0, fh, at::kLong) + 0.5) / y_f).to(at::kFloat);
    auto grid = at::meshgrid({shifts_y, shifts_x}, "ij");
    const at::Tensor sx = grid[1].reshape(-1), sy = grid[0].reshape(-1);
    std::vector<at::Tensor> parts;
    for (int64_t i = 0; i < wh_pairs_[k].size(0); ++i) {
      parts.push_back(sx);
      parts.push_back(sy);
    }
    const at::Tensor shifts = at::stack(parts, -1).reshape({-1, 2});
    const at::Tensor wh = clip_ ? wh_pairs_[k].clamp(0, 1) : wh_pairs_[k];
    boxes.push_back(at::cat({shifts, wh.repeat({fh * fw, 1})}, 1));
  }
  const at::Tensor d = at::cat(boxes, 0).to(feature_maps[0].scalar_type());
  const at::Tensor xy_size = at::tensor(std::vector<int64_t>{image_size.second, image_size.first});
  using namespace at::indexing;
  const at::Tensor xy = d.index({Slice(), Slice(None, 2)});
  const at::Tensor half = 0.5 * d.index({Slice(), Slice(2, None)});
  const at::Tensor out = at::cat({(xy - half) * xy_size, (xy + half) * xy_size}, -1);
  return std::vector<at::Tensor>(static_cast<std::size_t>(num_images), out);
}

}  // namespace modelzoo::ops
