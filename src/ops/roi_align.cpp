#include "modelzoo/ops/roi_align.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include "modelzoo/error.h"
#include "modelzoo/ops/boxes.h"

namespace modelzoo::ops {
namespace {

std::string shape_of(const at::Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

// One sampling point: four neighbours and their bilinear weights.
template <typename T>
struct Sample {
  int64_t pos1, pos2, pos3, pos4;
  T w1, w2, w3, w4;
};

// The bilinear sampling points of one roi, bin by bin (torchvision's
// pre_calc_for_bilinear_interpolate, same arithmetic and types).
template <typename T>
void sample_points(int64_t height, int64_t width, int64_t pooled_h, int64_t pooled_w, T start_h, T start_w,
                   T bin_h, T bin_w, int grid_h, int grid_w, std::vector<Sample<T>>& out) {
  std::size_t k = 0;
  for (int64_t ph = 0; ph < pooled_h; ++ph) {
    for (int64_t pw = 0; pw < pooled_w; ++pw) {
      for (int iy = 0; iy < grid_h; ++iy) {
        const T yy = start_h + static_cast<T>(ph) * bin_h +
                     static_cast<T>(iy + .5f) * bin_h / static_cast<T>(grid_h);
        for (int ix = 0; ix < grid_w; ++ix) {
          const T xx = start_w + static_cast<T>(pw) * bin_w +
                       static_cast<T>(ix + .5f) * bin_w / static_cast<T>(grid_w);
          T x = xx, y = yy;
          Sample<T>& s = out[k++];
          if (y < -1.0 || y > height || x < -1.0 || x > width) {
            s = Sample<T>{0, 0, 0, 0, 0, 0, 0, 0};
            continue;
          }
          if (y <= 0) y = 0;
          if (x <= 0) x = 0;
          int64_t y_low = static_cast<int>(y), x_low = static_cast<int>(x), y_high, x_high;
          if (y_low >= height - 1) {
            y_high = y_low = height - 1;
            y = static_cast<T>(y_low);
          } else {
            y_high = y_low + 1;
          }
          if (x_low >= width - 1) {
            x_high = x_low = width - 1;
            x = static_cast<T>(x_low);
          } else {
            x_high = x_low + 1;
          }
          const T ly = y - y_low, lx = x - x_low;
          const T hy = 1. - ly, hx = 1. - lx;
          s.pos1 = y_low * width + x_low;
          s.pos2 = y_low * width + x_high;
          s.pos3 = y_high * width + x_low;
          s.pos4 = y_high * width + x_high;
          s.w1 = hy * hx;
          s.w2 = hy * lx;
          s.w3 = ly * hx;
          s.w4 = ly * lx;
        }
      }
    }
  }
}

template <typename T>
void roi_align_kernel(const at::Tensor& input, const at::Tensor& rois, const RoIAlignOptions& o, at::Tensor& output) {
  const int64_t channels = input.size(1), height = input.size(2), width = input.size(3);
  const int64_t ph_n = o.output_height, pw_n = o.output_width;
  const T* in = input.data_ptr<T>();
  const T* r = rois.data_ptr<T>();
  T* out = output.data_ptr<T>();
  const T scale = static_cast<T>(o.spatial_scale);
  at::parallel_for(0, rois.size(0), 1, [&](int64_t begin, int64_t end) {
    std::vector<Sample<T>> samples;
    for (int64_t n = begin; n < end; ++n) {
      const T* roi = r + n * 5;
      const int64_t batch = static_cast<int64_t>(roi[0]);
      const T offset = o.aligned ? static_cast<T>(0.5) : static_cast<T>(0.0);
      const T start_w = roi[1] * scale - offset;
      const T start_h = roi[2] * scale - offset;
      const T end_w = roi[3] * scale - offset;
      const T end_h = roi[4] * scale - offset;
      T roi_w = end_w - start_w;
      T roi_h = end_h - start_h;
      if (!o.aligned) {
        roi_w = std::max(roi_w, static_cast<T>(1.));
        roi_h = std::max(roi_h, static_cast<T>(1.));
      }
      const T bin_h = roi_h / static_cast<T>(ph_n);
      const T bin_w = roi_w / static_cast<T>(pw_n);
      const int grid_h = o.sampling_ratio > 0 ? static_cast<int>(o.sampling_ratio)
                                              : static_cast<int>(std::ceil(roi_h / ph_n));
      const int grid_w = o.sampling_ratio > 0 ? static_cast<int>(o.sampling_ratio)
                                              : static_cast<int>(std::ceil(roi_w / pw_n));
      const T count = static_cast<T>(std::max(grid_h * grid_w, 1));
      samples.resize(static_cast<std::size_t>(std::max(grid_h, 0)) * std::max(grid_w, 0) * ph_n * pw_n);
      sample_points<T>(height, width, ph_n, pw_n, start_h, start_w, bin_h, bin_w, grid_h, grid_w, samples);
      for (int64_t c = 0; c < channels; ++c) {
        const T* plane = in + (batch * channels + c) * height * width;
        T* dst = out + (n * channels + c) * ph_n * pw_n;
        std::size_t k = 0;
        for (int64_t p = 0; p < ph_n * pw_n; ++p) {
          T v = 0.;
          for (int i = 0; i < grid_h * grid_w; ++i, ++k) {
            const Sample<T>& s = samples[k];
            v += s.w1 * plane[s.pos1] + s.w2 * plane[s.pos2] + s.w3 * plane[s.pos3] + s.w4 * plane[s.pos4];
          }
          v /= count;
          dst[p] = v;
        }
      }
    }
  });
}

}  // namespace

at::Tensor roi_align(const at::Tensor& input, const at::Tensor& rois, const RoIAlignOptions& options) {
  if (!input.defined() || input.dim() != 4) {
    throw Error("roi_align: input must be N x C x H x W, got " +
                (input.defined() ? shape_of(input) : std::string("an undefined tensor")));
  }
  if (!rois.defined() || rois.dim() != 2 || rois.size(1) != 5) {
    throw Error("roi_align: rois must be K x 5 (batch index, x1, y1, x2, y2), got " +
                (rois.defined() ? shape_of(rois) : std::string("an undefined tensor")));
  }
  if (options.output_height < 1 || options.output_width < 1) {
    throw Error("roi_align: output size must be positive, got " + std::to_string(options.output_height) + "x" +
                std::to_string(options.output_width));
  }
  if (input.scalar_type() != rois.scalar_type()) throw Error("roi_align: input and rois must have the same dtype");
  const at::Tensor in = input.contiguous();
  const at::Tensor r = rois.contiguous();
  if (r.size(0) > 0) {
    const at::Tensor idx = r.select(1, 0);
    const double lo = idx.min().item<double>(), hi = idx.max().item<double>();
    if (lo < 0 || hi >= static_cast<double>(in.size(0))) {
      throw Error("roi_align: roi batch index " + std::to_string(lo < 0 ? lo : hi) + " is outside the batch of " +
                  std::to_string(in.size(0)));
    }
  }
  at::Tensor output = at::zeros({r.size(0), in.size(1), options.output_height, options.output_width}, in.options());
  if (r.size(0) == 0 || in.numel() == 0) return output;
  AT_DISPATCH_FLOATING_TYPES(in.scalar_type(), "modelzoo_roi_align", [&] {
    roi_align_kernel<scalar_t>(in, r, options, output);
  });
  return output;
}

at::Tensor boxes_to_rois(const std::vector<at::Tensor>& boxes) {
  if (boxes.empty()) return at::empty({0, 5});
  std::vector<at::Tensor> ids;
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    if (boxes[i].dim() != 2 || boxes[i].size(1) != 4) {
      throw Error("roi_align: boxes of image " + std::to_string(i) + " must be L x 4, got " + shape_of(boxes[i]));
    }
    ids.push_back(at::full_like(boxes[i].narrow(1, 0, 1), static_cast<double>(i)));
  }
  return at::cat({at::cat(ids, 0), at::cat(boxes, 0)}, 1);
}

at::Tensor roi_align(const at::Tensor& input, const std::vector<at::Tensor>& boxes, const RoIAlignOptions& options) {
  return roi_align(input, boxes_to_rois(boxes), options);
}

LevelMapper::LevelMapper(int64_t k_min, int64_t k_max, int64_t canonical_scale, int64_t canonical_level, double eps)
    : k_min_(k_min), k_max_(k_max), s0_(canonical_scale), lvl0_(canonical_level), eps_(eps) {}

at::Tensor LevelMapper::operator()(const std::vector<at::Tensor>& boxes) const {
  std::vector<at::Tensor> areas;
  for (const auto& b : boxes) areas.push_back(box_area(b));
  const at::Tensor s = at::sqrt(at::cat(areas));
  const at::Tensor lvls = at::floor(at::log2(s / s0_) + lvl0_ + at::scalar_tensor(eps_, s.options()));
  return lvls.clamp(k_min_, k_max_).to(at::kLong) - k_min_;
}

MultiScaleRoIAlign::MultiScaleRoIAlign(std::vector<std::string> featmap_names, std::pair<int64_t, int64_t> output_size,
                                       int64_t sampling_ratio, int64_t canonical_scale, int64_t canonical_level)
    : names_(std::move(featmap_names)),
      output_size_(output_size),
      sampling_ratio_(sampling_ratio),
      canonical_scale_(canonical_scale),
      canonical_level_(canonical_level) {}

std::vector<at::Tensor> MultiScaleRoIAlign::select(const FeatureMaps& features) const {
  // In the order of `features`, as torchvision's _filter_input.
  std::vector<at::Tensor> out;
  for (const auto& [name, t] : features) {
    if (std::find(names_.begin(), names_.end(), name) != names_.end()) out.push_back(t);
  }
  if (out.empty()) {
    std::string have;
    for (const auto& f : features) have += (have.empty() ? "" : ", ") + f.first;
    std::string want;
    for (const auto& n : names_) want += (want.empty() ? "" : ", ") + n;
    throw Error("MultiScaleRoIAlign: needs feature maps [" + want + "], got [" + have + "]");
  }
  return out;
}

std::vector<double> MultiScaleRoIAlign::scales(const FeatureMaps& features,
                                               const std::vector<std::pair<int64_t, int64_t>>& image_shapes) const {
  if (image_shapes.empty()) throw Error("MultiScaleRoIAlign: the list of image shapes is empty");
  int64_t max_h = 0;
  for (const auto& s : image_shapes) max_h = std::max(max_h, s.first);
  std::vector<double> out;
  for (const auto& f : select(features)) {
    const float approx = static_cast<float>(static_cast<double>(f.size(-2)) / static_cast<double>(max_h));
    const double lg = at::scalar_tensor(approx, at::kFloat).log2().round().item<double>();
    out.push_back(std::pow(2.0, lg));
  }
  return out;
}

at::Tensor MultiScaleRoIAlign::operator()(const FeatureMaps& features, const std::vector<at::Tensor>& boxes,
                                          const std::vector<std::pair<int64_t, int64_t>>& image_shapes) const {
  const std::vector<at::Tensor> maps = select(features);
  const std::vector<double> sc = scales(features, image_shapes);
  const at::Tensor rois = boxes_to_rois(boxes).to(maps[0].scalar_type());
  RoIAlignOptions o;
  o.output_height = output_size_.first;
  o.output_width = output_size_.second;
  o.sampling_ratio = sampling_ratio_;
  if (maps.size() == 1) {
    o.spatial_scale = sc[0];
    return roi_align(maps[0], rois, o);
  }
  auto level_of = [](double scale) {
    return static_cast<int64_t>(-at::scalar_tensor(scale, at::kFloat).log2().item<double>());
  };
  const LevelMapper mapper(level_of(sc.front()), level_of(sc.back()), canonical_scale_, canonical_level_);
  const at::Tensor levels = mapper(boxes);
  at::Tensor result = at::zeros({rois.size(0), maps[0].size(1), o.output_height, o.output_width}, maps[0].options());
  for (std::size_t level = 0; level < maps.size(); ++level) {
    const at::Tensor idx = at::where(levels.eq(static_cast<int64_t>(level)))[0];
    o.spatial_scale = sc[level];
    result.index_put_({idx}, roi_align(maps[level], rois.index_select(0, idx), o));
  }
  return result;
}

}  // namespace modelzoo::ops
