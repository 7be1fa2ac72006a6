#include "modelzoo/transforms/presets.h"

#include <ATen/ATen.h>

#include "modelzoo/error.h"

namespace modelzoo::transforms {
namespace {

std::string shape_of(const at::Tensor& t) {
  std::string s;
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? " x " : "") + std::to_string(t.size(i));
  return s.empty() ? "a scalar" : s;
}

void check_pixels(const at::Tensor& x, const char* what) {
  if (x.scalar_type() != at::kByte && !x.is_floating_point()) {
    throw Error(std::string(what) + ": expected uint8 or floating-point pixels, got " +
                std::string(c10::toString(x.scalar_type())));
  }
}

// F.convert_image_dtype(x, torch.float): uint8 / 255, floats kept.
at::Tensor to_float(const at::Tensor& x) {
  return x.scalar_type() == at::kByte ? x.to(at::kFloat).div_(255.0) : x.to(at::kFloat);
}

// F.normalize on [..., C, H, W].
at::Tensor normalize(const at::Tensor& x, const std::vector<double>& mean, const std::vector<double>& std) {
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  const at::Tensor m = at::tensor(mean, f32).view({-1, 1, 1});
  const at::Tensor s = at::tensor(std, f32).view({-1, 1, 1});
  return x.sub(m).div_(s);
}

void check_spec(const PresetSpec& s, const char* expected_name) {
  if (s.name != expected_name) {
    throw Error(std::string("preset: expected a ") + expected_name + " preset, got \"" + s.name + "\"");
  }
  for (const auto* sizes : {&s.resize_size, &s.crop_size}) {
    if (sizes->size() > 2) throw Error(std::string(expected_name) + ": a size has one or two values");
    for (int64_t v : *sizes) {
      if (v <= 0) throw Error(std::string(expected_name) + ": sizes must be positive, got " + std::to_string(v));
    }
  }
  if (s.mean.size() != 3 || s.std.size() != 3) {
    throw Error(std::string(expected_name) + ": mean and std need 3 values each");
  }
  for (double v : s.std) {
    if (!(v > 0)) throw Error(std::string(expected_name) + ": every std value must be > 0, got " + std::to_string(v));
  }
  if (s.interpolation != "bilinear" && s.interpolation != "bicubic" && s.interpolation != "nearest") {
    throw Error(std::string(expected_name) + ": unknown interpolation \"" + s.interpolation + "\"");
  }
}

template <typename T>
std::vector<T> list_field(const nlohmann::json& j, const char* key, const std::string& origin) {
  std::vector<T> out;
  const auto& v = j.at(key);
  if (!v.is_array()) throw Error(origin + ": preset field '" + key + "' must be an array, got " + v.dump());
  for (const auto& x : v) {
    if (!x.is_number()) throw Error(origin + ": preset field '" + key + "' must hold numbers, got " + v.dump());
    out.push_back(x.get<T>());
  }
  return out;
}

}  // namespace

PresetSpec PresetSpec::from_json(const nlohmann::json& preset, const std::string& origin) {
  if (!preset.is_object()) throw Error(origin + ": preset must be an object, got " + preset.dump());
  PresetSpec s;
  if (!preset.contains("name") || !preset["name"].is_string()) {
    throw Error(origin + ": preset has no string field 'name'");
  }
  s.name = preset["name"].get<std::string>();
  if (preset.contains("resize_size")) s.resize_size = list_field<int64_t>(preset, "resize_size", origin);
  if (preset.contains("crop_size")) s.crop_size = list_field<int64_t>(preset, "crop_size", origin);
  if (preset.contains("mean")) s.mean = list_field<double>(preset, "mean", origin);
  if (preset.contains("std")) s.std = list_field<double>(preset, "std", origin);
  if (preset.contains("interpolation")) {
    if (!preset["interpolation"].is_string()) throw Error(origin + ": preset field 'interpolation' must be a string");
    s.interpolation = preset["interpolation"].get<std::string>();
  }
  return s;
}

PresetSpec PresetSpec::of(const registry::WeightsEntry& weights) {
  auto it = weights.meta.find("preset");
  if (it == weights.meta.end()) throw Error("weights " + weights.tag + " have no meta.preset");
  return from_json(*it, "weights " + weights.tag + " meta.preset");
}

at::Tensor resize_to(const at::Tensor& image, const std::vector<int64_t>& size, const std::string& interpolation,
                     bool antialias) {
  if (size.size() == 1) return resize_shorter_side(image, size[0], interpolation, antialias);
  if (size.size() != 2) throw Error("resize: expected one or two sizes, got " + std::to_string(size.size()));
  if (image.dim() < 3) throw Error("resize: expected a [N x] C x H x W tensor, got " + shape_of(image));
  return resize(image, size[0], size[1], interpolation, antialias);
}

SegmentationPreset::SegmentationPreset(PresetSpec spec, PreprocessOptions options)
    : spec_(std::move(spec)), options_(options) {
  check_spec(spec_, "SemanticSegmentation");
}

at::Tensor SegmentationPreset::operator()(const at::Tensor& image) const {
  if ((image.dim() != 3 && image.dim() != 4) || image.size(-3) != 3) {
    throw Error("SemanticSegmentation: expected a 3 x H x W image or an N x 3 x H x W batch, got " + shape_of(image));
  }
  check_pixels(image, "SemanticSegmentation");
  at::Tensor x = image;
  if (!spec_.resize_size.empty()) x = resize_to(x, spec_.resize_size, spec_.interpolation, options_.antialias);
  return normalize(to_float(x), spec_.mean, spec_.std).contiguous();
}

VideoPreset::VideoPreset(PresetSpec spec, PreprocessOptions options) : spec_(std::move(spec)), options_(options) {
  check_spec(spec_, "VideoClassification");
  if (spec_.crop_size.empty() || spec_.resize_size.empty()) {
    throw Error("VideoClassification: resize_size and crop_size are required");
  }
}

at::Tensor VideoPreset::operator()(const at::Tensor& clip) const {
  if ((clip.dim() != 4 && clip.dim() != 5) || clip.size(-3) != 3 || clip.size(-4) < 1) {
    throw Error("VideoClassification: expected a T x 3 x H x W clip or an N x T x 3 x H x W batch, got " +
                shape_of(clip));
  }
  check_pixels(clip, "VideoClassification");
  const bool squeeze = clip.dim() == 4;
  const at::Tensor v = squeeze ? clip.unsqueeze(0) : clip;
  const int64_t n = v.size(0), t = v.size(1);
  at::Tensor x = v.reshape({n * t, 3, v.size(3), v.size(4)});
  x = resize_to(x, spec_.resize_size, spec_.interpolation, options_.antialias);
  const int64_t ch = spec_.crop_size[0];
  const int64_t cw = spec_.crop_size.size() == 2 ? spec_.crop_size[1] : ch;
  x = center_crop(x, ch, cw);
  x = normalize(to_float(x), spec_.mean, spec_.std);
  x = x.view({n, t, 3, ch, cw}).permute({0, 2, 1, 3, 4});
  if (squeeze) x = x.squeeze(0);
  return x.contiguous();
}

std::pair<at::Tensor, at::Tensor> optical_flow_preset(const at::Tensor& frame1, const at::Tensor& frame2) {
  for (const auto* f : {&frame1, &frame2}) {
    if ((f->dim() != 3 && f->dim() != 4) || f->size(-3) != 3) {
      throw Error("OpticalFlow: expected 3 x H x W frames or N x 3 x H x W batches, got " + shape_of(*f));
    }
    check_pixels(*f, "OpticalFlow");
  }
  if (frame1.sizes() != frame2.sizes()) {
    throw Error("OpticalFlow: the two frames differ in shape: " + shape_of(frame1) + " and " + shape_of(frame2));
  }
  const std::vector<double> half{0.5, 0.5, 0.5};
  return {normalize(to_float(frame1), half, half).contiguous(), normalize(to_float(frame2), half, half).contiguous()};
}

}  // namespace modelzoo::transforms
