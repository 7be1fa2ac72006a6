#include "modelzoo/models/mobilenetv2.h"

#include <algorithm>
#include <cmath>
#include <string>

#include <ATen/ops/adaptive_avg_pool2d.h>

#include "modelzoo/error.h"

namespace modelzoo::models {
namespace {

// torchvision's MobileNetV2 init loop: kaiming_normal_(mode="fan_out")
// convolutions (default nonlinearity leaky_relu, a=0), zero conv biases,
// BatchNorm ones/zeros, normal(0, 0.01) Linear weights, zero Linear biases.
InitPolicy mobilenet_v2_init(bool enabled) {
  InitPolicy p = InitPolicy::torch_default(enabled);
  p.conv_weight = ParamInit::kaiming_normal(FanMode::FanOut);
  p.conv_bias = ParamInit::zeros();
  p.linear_weight = ParamInit::normal(0.0, 0.01);
  p.linear_bias = ParamInit::zeros();
  return p;
}

std::string stage_str(const MobileNetV2Stage& s) {
  return "[" + std::to_string(s[0]) + ", " + std::to_string(s[1]) + ", " + std::to_string(s[2]) +
         ", " + std::to_string(s[3]) + "]";
}

}  // namespace

int64_t make_divisible(double v, int64_t divisor, c10::optional<int64_t> min_value) {
  if (divisor < 1) {
    throw Error("make_divisible: divisor must be at least 1, got " + std::to_string(divisor));
  }
  if (!(v >= 0.0)) throw Error("make_divisible: value must be non-negative, got " + std::to_string(v));
  // max(min_value, int(v + divisor / 2) // divisor * divisor)
  const auto rounded = static_cast<int64_t>(v + static_cast<double>(divisor) / 2.0) / divisor * divisor;
  int64_t new_v = std::max(min_value.value_or(divisor), rounded);
  if (static_cast<double>(new_v) < 0.9 * v) new_v += divisor;
  return new_v;
}

const std::vector<MobileNetV2Stage>& mobilenet_v2_default_setting() {
  static const std::vector<MobileNetV2Stage> table = {
      {1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
      {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1},
  };
  return table;
}

MobileNetV2InvertedResidualImpl::MobileNetV2InvertedResidualImpl(int64_t inp, int64_t oup,
                                                                 int64_t stride,
                                                                 int64_t expand_ratio,
                                                                 const InitPolicy& init)
    : LayerImpl("InvertedResidual") {
  if (stride != 1 && stride != 2) {
    throw Error("MobileNetV2 InvertedResidual: stride must be 1 or 2, got " + std::to_string(stride));
  }
  if (inp < 1 || oup < 1 || expand_ratio < 1) {
    throw Error("MobileNetV2 InvertedResidual: channels and expand ratio must be positive, got inp=" +
                std::to_string(inp) + " oup=" + std::to_string(oup) +
                " expand_ratio=" + std::to_string(expand_ratio));
  }
  // hidden_dim = int(round(inp * expand_ratio)): exact for integer ratios.
  const int64_t hidden = inp * expand_ratio;
  use_res_connect_ = stride == 1 && inp == oup;

  Sequential layers;
  if (expand_ratio != 1) {
    layers->push_back(Conv2dNormActivation(
        Conv2dNormActivationOptions(inp, hidden, 1).activation(activation_factory<ReLU6>()), init));
  }
  layers->push_back(Conv2dNormActivation(Conv2dNormActivationOptions(hidden, hidden)
                                             .stride(stride)
                                             .groups(hidden)
                                             .activation(activation_factory<ReLU6>()),
                                         init));
  layers->push_back(Conv2d(Conv2dOptions(hidden, oup, 1).bias(false), init));
  layers->push_back(BatchNorm2d(BatchNorm2dOptions(oup), init));
  conv = register_module("conv", layers);
}

at::Tensor MobileNetV2InvertedResidualImpl::forward(const at::Tensor& x) {
  if (use_res_connect_) return x.add(conv->forward(x));
  return conv->forward(x);
}

MobileNetV2Impl::MobileNetV2Impl(const MobileNetV2Options& o) : options_(o) {
  if (o.num_classes() < 1) {
    throw Error("MobileNetV2: num_classes must be at least 1, got " + std::to_string(o.num_classes()));
  }
  if (!(o.width_mult() > 0.0)) {
    throw Error("MobileNetV2: width_mult must be positive, got " + std::to_string(o.width_mult()));
  }
  if (o.round_nearest() < 1) {
    throw Error("MobileNetV2: round_nearest must be at least 1, got " +
                std::to_string(o.round_nearest()));
  }
  if (!(o.dropout() >= 0.0 && o.dropout() <= 1.0)) {
    throw Error("MobileNetV2: dropout must be in [0, 1], got " + std::to_string(o.dropout()));
  }
  const auto& setting = o.inverted_residual_setting();
  if (setting.empty()) {
    throw Error("MobileNetV2: inverted_residual_setting must not be empty");
  }
  for (const auto& s : setting) {
    if (s[0] < 1 || s[1] < 1 || s[2] < 1 || (s[3] != 1 && s[3] != 2)) {
      throw Error("MobileNetV2: inverted_residual_setting row " + stage_str(s) +
                  " is invalid (expected t >= 1, c >= 1, n >= 1, s in {1, 2})");
    }
  }
  const InitPolicy init = mobilenet_v2_init(o.init_weights());

  int64_t input_channel = make_divisible(32 * o.width_mult(), o.round_nearest());
  last_channel_ = make_divisible(1280 * std::max(1.0, o.width_mult()), o.round_nearest());

  Sequential trunk;
  trunk->push_back(Conv2dNormActivation(
      Conv2dNormActivationOptions(3, input_channel).stride(2).activation(activation_factory<ReLU6>()),
      init));
  for (const auto& [t, c, n, s] : setting) {
    const int64_t output_channel = make_divisible(static_cast<double>(c) * o.width_mult(), o.round_nearest());
    for (int64_t i = 0; i < n; ++i) {
      trunk->push_back(MobileNetV2InvertedResidual(input_channel, output_channel, i == 0 ? s : 1, t, init));
      input_channel = output_channel;
    }
  }
  trunk->push_back(Conv2dNormActivation(
      Conv2dNormActivationOptions(input_channel, last_channel_, 1).activation(activation_factory<ReLU6>()),
      init));
  features = register_module("features", trunk);

  Sequential head;
  head->push_back(Dropout(o.dropout()));
  head->push_back(Linear(LinearOptions(last_channel_, o.num_classes()), init));
  classifier = register_module("classifier", head);
}

at::Tensor MobileNetV2Impl::forward(at::Tensor x) {
  x = features->forward(x);
  x = at::adaptive_avg_pool2d(x, {1, 1});
  x = x.flatten(1);
  return classifier->forward(x);
}

MobileNetV2 mobilenet_v2(const ArchArgs& args) {
  const std::string arch = "mobilenet_v2";
  check_extra_keys(args, arch, {"width_mult", "round_nearest", "dropout", "image_size"});
  const double round_nearest = extra_number(args, arch, "round_nearest", 8);
  if (round_nearest != std::floor(round_nearest)) {
    throw Error(arch + ": extra argument 'round_nearest' must be an integer, got " +
                std::to_string(round_nearest));
  }
  return MobileNetV2(MobileNetV2Options()
                         .num_classes(args.num_classes)
                         .width_mult(extra_number(args, arch, "width_mult", 1.0))
                         .round_nearest(static_cast<int64_t>(round_nearest))
                         .dropout(extra_number(args, arch, "dropout", 0.2))
                         .init_weights(args.init_weights));
}

}  // namespace modelzoo::models
