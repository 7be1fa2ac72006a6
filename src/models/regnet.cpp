#include "modelzoo/models/regnet.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <ATen/ops/arange.h>
#include <ATen/ops/divide.h>
#include <ATen/ops/log.h>
#include <ATen/ops/pow.h>
#include <ATen/ops/round.h>

#include "modelzoo/error.h"

namespace modelzoo::models {
namespace {

// torchvision.models._utils._make_divisible(v, divisor) with min_value = divisor.
int64_t make_divisible(double v, int64_t divisor) {
  int64_t new_v = std::max(divisor, static_cast<int64_t>(v + static_cast<double>(divisor) / 2.0) /
                                        divisor * divisor);
  if (static_cast<double>(new_v) < 0.9 * v) new_v += divisor;
  return new_v;
}

// Python's round() on a float: half to even (nearbyint in the default mode).
int64_t py_round(double v) { return static_cast<int64_t>(std::nearbyint(v)); }

// RegNet.__init__'s ResNet-style initialisation: normal(0, sqrt(2 / fan_out))
// convolutions with fan_out = k * k * out_channels (kaiming_normal_ fan_out
// relu), BatchNorm ones/zeros, Linear normal(0, 0.01) with zero bias. Conv
// biases (only SqueezeExcitation's) keep torch.nn's default.
InitPolicy regnet_init(bool enabled) {
  InitPolicy p = InitPolicy::torch_default(enabled);
  p.conv_weight = ParamInit::kaiming_normal(FanMode::FanOut, Nonlinearity::ReLU);
  p.norm_weight = ParamInit::ones();
  p.norm_bias = ParamInit::zeros();
  p.linear_weight = ParamInit::normal(0.0, 0.01);
  p.linear_bias = ParamInit::zeros();
  return p;
}

std::string list_str(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

RegNet make(const std::string& arch, int64_t depth, int64_t w_0, double w_a, double w_m,
            int64_t group_width, c10::optional<double> se_ratio, const ArchArgs& args) {
  check_extra_keys(args, arch, {"image_size"});
  return RegNet(RegNetOptions(BlockParams::from_init_params(depth, w_0, w_a, w_m, group_width, 1.0,
                                                            se_ratio))
                    .num_classes(args.num_classes)
                    .init_weights(args.init_weights));
}

}  // namespace

// ---------------------------------------------------------------------------
// BlockParams
// ---------------------------------------------------------------------------

BlockParams BlockParams::from_init_params(int64_t depth, int64_t w_0, double w_a, double w_m,
                                          int64_t group_width, double bottleneck_multiplier,
                                          c10::optional<double> se_ratio) {
  constexpr int64_t QUANT = 8;
  constexpr int64_t STRIDE = 2;
  if (w_a < 0 || w_0 <= 0 || w_m <= 1 || w_0 % 8 != 0) {
    throw Error("RegNet: invalid settings w_0=" + std::to_string(w_0) + " w_a=" +
                std::to_string(w_a) + " w_m=" + std::to_string(w_m) +
                " (expected w_a >= 0, w_0 > 0 and a multiple of 8, w_m > 1)");
  }
  if (depth < 1 || group_width < 1 || !(bottleneck_multiplier > 0)) {
    throw Error("RegNet: depth (" + std::to_string(depth) + "), group_width (" +
                std::to_string(group_width) + ") and bottleneck_multiplier (" +
                std::to_string(bottleneck_multiplier) + ") must be positive");
  }
  // The same tensor operations, dtypes and scalar kinds as torchvision, so
  // float32 rounding gives the same block widths.
  const at::Tensor widths_cont = at::arange(depth, at::kLong) * w_a + w_0;
  const at::Tensor block_capacity = at::round(at::log(widths_cont / w_0) / std::log(w_m));
  const at::Tensor block_widths_t =
      (at::round(at::divide(w_0 * at::pow(w_m, block_capacity), QUANT)) * QUANT).to(at::kInt);
  std::vector<int64_t> block_widths;
  for (int64_t i = 0; i < depth; ++i) block_widths.push_back(block_widths_t[i].item<int32_t>());
  const std::size_t num_stages = std::set<int64_t>(block_widths.begin(), block_widths.end()).size();

  // Stage boundaries: where the width changes (plus both ends).
  std::vector<int64_t> ext = block_widths, prev = {0};
  ext.push_back(0);
  prev.insert(prev.end(), block_widths.begin(), block_widths.end());
  std::vector<int64_t> stage_widths, split_at;
  for (std::size_t i = 0; i < ext.size(); ++i) {
    const bool split = ext[i] != prev[i];
    if (split) split_at.push_back(static_cast<int64_t>(i));
    if (split && i < block_widths.size()) stage_widths.push_back(block_widths[i]);
  }
  BlockParams p;
  for (std::size_t i = 1; i < split_at.size(); ++i) p.depths.push_back(split_at[i] - split_at[i - 1]);

  // _adjust_widths_groups_compatibilty (zip: the shorter list counts).
  const std::size_t n = std::min(stage_widths.size(), num_stages);
  for (std::size_t i = 0; i < n; ++i) {
    const auto w_bot = static_cast<int64_t>(static_cast<double>(stage_widths[i]) * bottleneck_multiplier);
    const int64_t g = std::min(group_width, w_bot);
    const int64_t w_bot_adj = make_divisible(static_cast<double>(w_bot), g);
    p.widths.push_back(static_cast<int64_t>(static_cast<double>(w_bot_adj) / bottleneck_multiplier));
    p.group_widths.push_back(g);
  }
  p.strides.assign(num_stages, STRIDE);
  p.bottleneck_multipliers.assign(num_stages, bottleneck_multiplier);
  p.se_ratio = se_ratio;
  return p;
}

std::size_t BlockParams::num_stages() const {
  return std::min({widths.size(), strides.size(), depths.size(), group_widths.size(),
                   bottleneck_multipliers.size()});
}

// ---------------------------------------------------------------------------
// ResBottleneckBlock
// ---------------------------------------------------------------------------

ResBottleneckBlockImpl::ResBottleneckBlockImpl(int64_t width_in, int64_t width_out, int64_t stride,
                                               const NormFactory& norm, int64_t group_width,
                                               double bottleneck_multiplier,
                                               c10::optional<double> se_ratio,
                                               const InitPolicy& policy)
    : LayerImpl("ResBottleneckBlock") {
  if (width_out != width_in || stride != 1) {
    proj = register_module(
        "proj", Conv2dNormActivation(Conv2dNormActivationOptions(width_in, width_out, 1)
                                         .stride(stride)
                                         .norm(norm)
                                         .activation(nullptr),
                                     policy));
  }
  // BottleneckTransform.
  const int64_t w_b = py_round(static_cast<double>(width_out) * bottleneck_multiplier);
  if (group_width < 1 || w_b % group_width != 0) {
    throw Error("RegNet: bottleneck width " + std::to_string(w_b) +
                " is not divisible by the group width " + std::to_string(group_width));
  }
  const int64_t groups = w_b / group_width;
  Sequential transform;
  transform->push_back("a", Conv2dNormActivation(
                                Conv2dNormActivationOptions(width_in, w_b, 1).norm(norm), policy));
  transform->push_back("b", Conv2dNormActivation(Conv2dNormActivationOptions(w_b, w_b, 3)
                                                     .stride(stride)
                                                     .groups(groups)
                                                     .norm(norm),
                                                 policy));
  if (se_ratio && *se_ratio != 0.0) {
    const int64_t width_se_out = py_round(*se_ratio * static_cast<double>(width_in));
    transform->push_back("se", SqueezeExcitation(SqueezeExcitationOptions(w_b, width_se_out), policy));
  }
  transform->push_back("c", Conv2dNormActivation(Conv2dNormActivationOptions(w_b, width_out, 1)
                                                     .norm(norm)
                                                     .activation(nullptr),
                                                 policy));
  f = register_module("f", transform);
  activation = register_module("activation", ReLU());
}

at::Tensor ResBottleneckBlockImpl::forward(const at::Tensor& x) {
  at::Tensor y = proj ? proj->forward(x) + f->forward(x) : x + f->forward(x);
  return activation->forward(y);
}

// ---------------------------------------------------------------------------
// RegNet
// ---------------------------------------------------------------------------

RegNetImpl::RegNetImpl(const RegNetOptions& o) : options_(o) {
  const BlockParams& bp = o.block_params();
  const std::size_t stages = bp.num_stages();
  if (stages == 0) {
    throw Error("RegNet: block parameters describe no stage (widths " + list_str(bp.widths) +
                ", depths " + list_str(bp.depths) + ")");
  }
  if (o.num_classes() < 1) {
    throw Error("RegNet: num_classes must be at least 1, got " + std::to_string(o.num_classes()));
  }
  if (o.stem_width() < 1) {
    throw Error("RegNet: stem_width must be positive, got " + std::to_string(o.stem_width()));
  }
  const InitPolicy init = regnet_init(o.init_weights());
  const NormFactory norm = batch_norm2d_factory(o.norm_eps(), o.norm_momentum());

  stem = register_module(
      "stem", Conv2dNormActivation(Conv2dNormActivationOptions(3, o.stem_width(), 3).stride(2).norm(norm),
                                   init));
  int64_t current = o.stem_width();
  Sequential trunk;
  for (std::size_t i = 0; i < stages; ++i) {
    const std::string stage_name = "block" + std::to_string(i + 1);
    if (bp.depths[i] < 1 || bp.widths[i] < 1) {
      throw Error("RegNet: stage " + stage_name + " needs a positive depth and width, got depth " +
                  std::to_string(bp.depths[i]) + " width " + std::to_string(bp.widths[i]));
    }
    Sequential stage;
    for (int64_t j = 0; j < bp.depths[i]; ++j) {
      stage->push_back(stage_name + "-" + std::to_string(j),
                       ResBottleneckBlock(j == 0 ? current : bp.widths[i], bp.widths[i],
                                          j == 0 ? bp.strides[i] : 1, norm, bp.group_widths[i],
                                          bp.bottleneck_multipliers[i], bp.se_ratio, init));
    }
    trunk->push_back(stage_name, stage);
    current = bp.widths[i];
  }
  trunk_output = register_module("trunk_output", trunk);
  avgpool = register_module("avgpool", AdaptiveAvgPool2d(1));
  fc = register_module("fc", Linear(LinearOptions(current, o.num_classes()), init));
}

at::Tensor RegNetImpl::forward(at::Tensor x) {
  x = stem->forward(x);
  x = trunk_output->forward(x);
  x = avgpool->forward(x);
  x = x.flatten(1);
  return fc->forward(x);
}

// ---------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------

RegNet regnet_y_400mf(const ArchArgs& a) { return make("regnet_y_400mf", 16, 48, 27.89, 2.09, 8, 0.25, a); }
RegNet regnet_y_800mf(const ArchArgs& a) { return make("regnet_y_800mf", 14, 56, 38.84, 2.4, 16, 0.25, a); }
RegNet regnet_y_1_6gf(const ArchArgs& a) { return make("regnet_y_1_6gf", 27, 48, 20.71, 2.65, 24, 0.25, a); }
RegNet regnet_y_3_2gf(const ArchArgs& a) { return make("regnet_y_3_2gf", 21, 80, 42.63, 2.66, 24, 0.25, a); }
RegNet regnet_y_8gf(const ArchArgs& a) { return make("regnet_y_8gf", 17, 192, 76.82, 2.19, 56, 0.25, a); }
RegNet regnet_y_16gf(const ArchArgs& a) { return make("regnet_y_16gf", 18, 200, 106.23, 2.48, 112, 0.25, a); }
RegNet regnet_y_32gf(const ArchArgs& a) { return make("regnet_y_32gf", 20, 232, 115.89, 2.53, 232, 0.25, a); }
RegNet regnet_y_128gf(const ArchArgs& a) { return make("regnet_y_128gf", 27, 456, 160.83, 2.52, 264, 0.25, a); }
RegNet regnet_x_400mf(const ArchArgs& a) { return make("regnet_x_400mf", 22, 24, 24.48, 2.54, 16, c10::nullopt, a); }
RegNet regnet_x_800mf(const ArchArgs& a) { return make("regnet_x_800mf", 16, 56, 35.73, 2.28, 16, c10::nullopt, a); }
RegNet regnet_x_1_6gf(const ArchArgs& a) { return make("regnet_x_1_6gf", 18, 80, 34.01, 2.25, 24, c10::nullopt, a); }
RegNet regnet_x_3_2gf(const ArchArgs& a) { return make("regnet_x_3_2gf", 25, 88, 26.31, 2.25, 48, c10::nullopt, a); }
RegNet regnet_x_8gf(const ArchArgs& a) { return make("regnet_x_8gf", 23, 80, 49.56, 2.88, 120, c10::nullopt, a); }
RegNet regnet_x_16gf(const ArchArgs& a) { return make("regnet_x_16gf", 22, 216, 55.59, 2.1, 128, c10::nullopt, a); }
RegNet regnet_x_32gf(const ArchArgs& a) { return make("regnet_x_32gf", 23, 320, 69.86, 2.0, 168, c10::nullopt, a); }

}  // namespace modelzoo::models
