#include "modelzoo/segmentation/output.h"

#include <algorithm>

#include <ATen/ATen.h>

#include "modelzoo/error.h"

namespace modelzoo::segmentation {
namespace {

std::string shape_of(const at::Tensor& t) {
  std::string s;
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? " x " : "") + std::to_string(t.size(i));
  return s.empty() ? "a scalar" : s;
}

void check_logits(const at::Tensor& logits, const char* what) {
  if (logits.dim() != 3 && logits.dim() != 4) {
    throw Error(std::string(what) + ": expected [N x] K x H x W logits, got " + shape_of(logits));
  }
}

}  // namespace

at::Tensor class_map(const at::Tensor& logits) {
  check_logits(logits, "class_map");
  return logits.argmax(-3);
}

at::Tensor resize_logits(const at::Tensor& logits, int64_t height, int64_t width) {
  check_logits(logits, "resize_logits");
  if (height < 1 || width < 1) throw Error("resize_logits: size must be positive");
  if (logits.size(-2) == height && logits.size(-1) == width) return logits;
  const bool squeeze = logits.dim() == 3;
  at::Tensor x = squeeze ? logits.unsqueeze(0) : logits;
  x = at::upsample_bilinear2d(x.to(at::kFloat), {height, width}, false);
  return squeeze ? x.squeeze(0) : x;
}

std::vector<ClassShare> class_shares(const at::Tensor& map, const std::vector<std::string>& categories) {
  if (map.dim() != 2 || at::isFloatingType(map.scalar_type()) || map.numel() == 0) {
    throw Error("class_shares: expected a non-empty H x W integer class map, got " + shape_of(map));
  }
  const at::Tensor flat = map.reshape({-1}).to(at::kLong);
  if (flat.min().item<int64_t>() < 0) throw Error("class_shares: the class map holds negative labels");
  const at::Tensor counts = at::bincount(flat);
  const auto* c = counts.data_ptr<int64_t>();
  const double total = static_cast<double>(flat.numel());
  std::vector<ClassShare> out;
  for (int64_t i = 0; i < counts.numel(); ++i) {
    if (c[i] == 0) continue;
    ClassShare s;
    s.index = i;
    s.name = i < static_cast<int64_t>(categories.size()) ? categories[i] : "class " + std::to_string(i);
    s.pixels = c[i];
    s.share = static_cast<double>(c[i]) / total;
    out.push_back(std::move(s));
  }
  std::stable_sort(out.begin(), out.end(), [](const ClassShare& a, const ClassShare& b) { return a.pixels > b.pixels; });
  return out;
}

std::array<uint8_t, 3> palette_color(int64_t index) {
  if (index < 0) throw Error("palette_color: class index must be >= 0, got " + std::to_string(index));
  std::array<int, 3> rgb{0, 0, 0};
  int64_t c = index;
  for (int shift = 7; shift >= 0 && c > 0; --shift) {
    for (int ch = 0; ch < 3; ++ch) rgb[ch] |= static_cast<int>((c >> ch) & 1) << shift;
    c >>= 3;
  }
  return {static_cast<uint8_t>(rgb[0]), static_cast<uint8_t>(rgb[1]), static_cast<uint8_t>(rgb[2])};
}

at::Tensor blend_class_map(const at::Tensor& image, const at::Tensor& map, double alpha) {
  if (image.dim() != 3 || image.size(0) != 3 || image.scalar_type() != at::kByte) {
    throw Error("blend_class_map: expected a 3 x H x W uint8 image, got " + shape_of(image));
  }
  if (map.dim() != 2 || map.size(0) != image.size(1) || map.size(1) != image.size(2)) {
    throw Error("blend_class_map: the class map is " + shape_of(map) + " but the image is " + shape_of(image));
  }
  if (!(alpha >= 0.0 && alpha <= 1.0)) throw Error("blend_class_map: alpha must be in [0, 1], got " + std::to_string(alpha));
  const at::Tensor labels = map.to(at::kLong);
  const int64_t classes = labels.numel() ? labels.max().item<int64_t>() + 1 : 1;
  if (labels.numel() && labels.min().item<int64_t>() < 0) throw Error("blend_class_map: negative labels");
  std::vector<float> table;
  table.reserve(static_cast<std::size_t>(classes) * 3);
  for (int64_t i = 0; i < classes; ++i) {
    const auto col = palette_color(i);
    table.insert(table.end(), {float(col[0]), float(col[1]), float(col[2])});
  }
  const at::Tensor palette = at::tensor(table).view({classes, 3});
  const at::Tensor colours = palette.index_select(0, labels.reshape({-1})).t().reshape({3, map.size(0), map.size(1)});
  const at::Tensor img = image.to(at::kFloat);
  const at::Tensor mixed = img * (1.0 - alpha) + colours * alpha;
  const at::Tensor fg = (labels != 0).unsqueeze(0);
  return at::where(fg, mixed, img).round_().clamp_(0, 255).to(at::kByte);
}

}  // namespace modelzoo::segmentation
