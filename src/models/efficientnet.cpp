#include "modelzoo/models/efficientnet.h"

#include <algorithm>
#include <cmath>

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

// EfficientNet.__init__'s initialisation: kaiming_normal_(fan_out) convolutions
// (default nonlinearity leaky_relu with a=0, i.e. gain sqrt(2)), zero conv
// biases, BatchNorm ones/zeros; Linear layers get their own uniform range.
InitPolicy efficientnet_init(bool enabled) {
  InitPolicy p = InitPolicy::torch_default(enabled);
  p.conv_weight = ParamInit::kaiming_normal(FanMode::FanOut, Nonlinearity::LeakyReLU, 0.0);
  p.conv_bias = ParamInit::zeros();
  p.norm_weight = ParamInit::ones();
  p.norm_bias = ParamInit::zeros();
  p.linear_bias = ParamInit::zeros();
  return p;
}

void check_stride(const char* block, const MBConvConfig& c) {
  if (c.stride < 1 || c.stride > 2) {
    throw Error(std::string(block) + ": illegal stride value " + std::to_string(c.stride) +
                " (expected 1 or 2)");
  }
}

void check_probability(const char* what, double p) {
  if (!(p >= 0.0 && p <= 1.0)) {
    throw Error(std::string("EfficientNet: ") + what + " must be in [0, 1], got " +
                std::to_string(p));
  }
}

Conv2dNormActivationOptions cna(int64_t in, int64_t out, int64_t kernel, const NormFactory& norm,
                                bool silu) {
  return Conv2dNormActivationOptions(in, out, kernel)
      .norm(norm)
      .activation(silu ? activation_factory<SiLU>() : ActivationFactory());
}

EfficientNet make(const std::string& arch, double width_mult, double depth_mult, double dropout,
                  double norm_eps, double norm_momentum, const ArchArgs& args) {
  check_extra_keys(args, arch, {"dropout", "stochastic_depth_prob", "image_size"});
  auto [setting, last_channel] = efficientnet_config(arch, width_mult, depth_mult);
  return EfficientNet(EfficientNetOptions(std::move(setting), extra_number(args, arch, "dropout", dropout))
                          .stochastic_depth_prob(extra_number(args, arch, "stochastic_depth_prob", 0.2))
                          .num_classes(args.num_classes)
                          .last_channel(last_channel)
                          .norm_eps(norm_eps)
                          .norm_momentum(norm_momentum)
                          .init_weights(args.init_weights));
}

}  // namespace

// ---------------------------------------------------------------------------
// Configurations
// ---------------------------------------------------------------------------

int64_t MBConvConfig::adjust_channels(int64_t channels, double width_mult) {
  return make_divisible(static_cast<double>(channels) * width_mult, 8);
}

MBConvConfig MBConvConfig::mbconv(double expand_ratio, int64_t kernel, int64_t stride,
                                  int64_t input_channels, int64_t out_channels,
                                  int64_t num_layers, double width_mult, double depth_mult) {
  MBConvConfig c;
  c.expand_ratio = expand_ratio;
  c.kernel = kernel;
  c.stride = stride;
  c.input_channels = adjust_channels(input_channels, width_mult);
  c.out_channels = adjust_channels(out_channels, width_mult);
  c.num_layers = static_cast<int64_t>(std::ceil(static_cast<double>(num_layers) * depth_mult));
  c.fused = false;
  return c;
}

MBConvConfig MBConvConfig::fused_mbconv(double expand_ratio, int64_t kernel, int64_t stride,
                                        int64_t input_channels, int64_t out_channels,
                                        int64_t num_layers) {
  MBConvConfig c;
  c.expand_ratio = expand_ratio;
  c.kernel = kernel;
  c.stride = stride;
  c.input_channels = input_channels;
  c.out_channels = out_channels;
  c.num_layers = num_layers;
  c.fused = true;
  return c;
}

std::pair<std::vector<MBConvConfig>, c10::optional<int64_t>> efficientnet_config(
    const std::string& arch, double w, double d) {
  using C = MBConvConfig;
  if (arch.rfind("efficientnet_b", 0) == 0) {
    return {{C::mbconv(1, 3, 1, 32, 16, 1, w, d), C::mbconv(6, 3, 2, 16, 24, 2, w, d),
             C::mbconv(6, 5, 2, 24, 40, 2, w, d), C::mbconv(6, 3, 2, 40, 80, 3, w, d),
             C::mbconv(6, 5, 1, 80, 112, 3, w, d), C::mbconv(6, 5, 2, 112, 192, 4, w, d),
             C::mbconv(6, 3, 1, 192, 320, 1, w, d)},
            c10::nullopt};
  }
  if (arch.rfind("efficientnet_v2_s", 0) == 0) {
    return {{C::fused_mbconv(1, 3, 1, 24, 24, 2), C::fused_mbconv(4, 3, 2, 24, 48, 4),
             C::fused_mbconv(4, 3, 2, 48, 64, 4), C::mbconv(4, 3, 2, 64, 128, 6),
             C::mbconv(6, 3, 1, 128, 160, 9), C::mbconv(6, 3, 2, 160, 256, 15)},
            1280};
  }
  if (arch.rfind("efficientnet_v2_m", 0) == 0) {
    return {{C::fused_mbconv(1, 3, 1, 24, 24, 3), C::fused_mbconv(4, 3, 2, 24, 48, 5),
             C::fused_mbconv(4, 3, 2, 48, 80, 5), C::mbconv(4, 3, 2, 80, 160, 7),
             C::mbconv(6, 3, 1, 160, 176, 14), C::mbconv(6, 3, 2, 176, 304, 18),
             C::mbconv(6, 3, 1, 304, 512, 5)},
            1280};
  }
  if (arch.rfind("efficientnet_v2_l", 0) == 0) {
    return {{C::fused_mbconv(1, 3, 1, 32, 32, 4), C::fused_mbconv(4, 3, 2, 32, 64, 7),
             C::fused_mbconv(4, 3, 2, 64, 96, 7), C::mbconv(4, 3, 2, 96, 192, 10),
             C::mbconv(6, 3, 1, 192, 224, 19), C::mbconv(6, 3, 2, 224, 384, 25),
             C::mbconv(6, 3, 1, 384, 640, 7)},
            1280};
  }
  throw Error("EfficientNet: unsupported model type '" + arch +
              "' (expected efficientnet_b0..b7 or efficientnet_v2_s/m/l)");
}

// ---------------------------------------------------------------------------
// Blocks
// ---------------------------------------------------------------------------

EfficientNetMBConvImpl::EfficientNetMBConvImpl(const MBConvConfig& c, double sd_prob,
                                               const NormFactory& norm, const InitPolicy& policy)
    : LayerImpl("MBConv") {
  check_stride("MBConv", c);
  use_res_connect_ = c.stride == 1 && c.input_channels == c.out_channels;
  Sequential layers;
  const int64_t expanded = MBConvConfig::adjust_channels(c.input_channels, c.expand_ratio);
  if (expanded != c.input_channels) {
    layers->push_back(Conv2dNormActivation(cna(c.input_channels, expanded, 1, norm, true), policy));
  }
  layers->push_back(Conv2dNormActivation(
      cna(expanded, expanded, c.kernel, norm, true).stride(c.stride).groups(expanded), policy));
  const int64_t squeeze = std::max<int64_t>(1, c.input_channels / 4);
  layers->push_back(SqueezeExcitation(
      SqueezeExcitationOptions(expanded, squeeze).activation(activation_factory<SiLU>()), policy));
  layers->push_back(Conv2dNormActivation(cna(expanded, c.out_channels, 1, norm, false), policy));
  block = register_module("block", layers);
  stochastic_depth = register_module("stochastic_depth", StochasticDepth(sd_prob, "row"));
}

at::Tensor EfficientNetMBConvImpl::forward(const at::Tensor& x) {
  at::Tensor result = block->forward(x);
  if (use_res_connect_) {
    result = stochastic_depth->forward(result);
    result += x;
  }
  return result;
}

FusedMBConvImpl::FusedMBConvImpl(const MBConvConfig& c, double sd_prob, const NormFactory& norm,
                                 const InitPolicy& policy)
    : LayerImpl("FusedMBConv") {
  check_stride("FusedMBConv", c);
  use_res_connect_ = c.stride == 1 && c.input_channels == c.out_channels;
  Sequential layers;
  const int64_t expanded = MBConvConfig::adjust_channels(c.input_channels, c.expand_ratio);
  if (expanded != c.input_channels) {
    layers->push_back(Conv2dNormActivation(
        cna(c.input_channels, expanded, c.kernel, norm, true).stride(c.stride), policy));
    layers->push_back(Conv2dNormActivation(cna(expanded, c.out_channels, 1, norm, false), policy));
  } else {
    layers->push_back(Conv2dNormActivation(
        cna(c.input_channels, c.out_channels, c.kernel, norm, true).stride(c.stride), policy));
  }
  block = register_module("block", layers);
  stochastic_depth = register_module("stochastic_depth", StochasticDepth(sd_prob, "row"));
}

at::Tensor FusedMBConvImpl::forward(const at::Tensor& x) {
  at::Tensor result = block->forward(x);
  if (use_res_connect_) {
    result = stochastic_depth->forward(result);
    result += x;
  }
  return result;
}

// ---------------------------------------------------------------------------
// EfficientNet
// ---------------------------------------------------------------------------

EfficientNetImpl::EfficientNetImpl(const EfficientNetOptions& o) : options_(o) {
  const auto& setting = o.inverted_residual_setting();
  if (setting.empty()) throw Error("EfficientNet: the inverted_residual_setting should not be empty");
  if (o.num_classes() < 1) {
    throw Error("EfficientNet: num_classes must be at least 1, got " + std::to_string(o.num_classes()));
  }
  check_probability("dropout", o.dropout());
  check_probability("stochastic_depth_prob", o.stochastic_depth_prob());
  for (std::size_t i = 0; i < setting.size(); ++i) {
    const auto& c = setting[i];
    if (c.input_channels < 1 || c.out_channels < 1 || c.num_layers < 1 || c.kernel < 1 ||
        !(c.expand_ratio > 0)) {
      throw Error("EfficientNet: stage " + std::to_string(i) +
                  " needs positive channels, layers, kernel and expand_ratio (got in=" +
                  std::to_string(c.input_channels) + " out=" + std::to_string(c.out_channels) +
                  " layers=" + std::to_string(c.num_layers) + " kernel=" + std::to_string(c.kernel) +
                  " expand_ratio=" + std::to_string(c.expand_ratio) + ")");
    }
  }
  const InitPolicy init = efficientnet_init(o.init_weights());
  const NormFactory norm = batch_norm2d_factory(o.norm_eps(), o.norm_momentum());

  Sequential layers;
  layers->push_back(Conv2dNormActivation(
      cna(3, setting.front().input_channels, 3, norm, true).stride(2), init));

  int64_t total_blocks = 0;
  for (const auto& c : setting) total_blocks += c.num_layers;
  int64_t block_id = 0;
  for (const auto& c : setting) {
    Sequential stage;
    for (int64_t i = 0; i < c.num_layers; ++i) {
      MBConvConfig bc = c;
      if (i > 0) {
        bc.input_channels = bc.out_channels;
        bc.stride = 1;
      }
      const double sd_prob = o.stochastic_depth_prob() * static_cast<double>(block_id) /
                             static_cast<double>(total_blocks);
      if (bc.fused) {
        stage->push_back(FusedMBConv(bc, sd_prob, norm, init));
      } else {
        stage->push_back(EfficientNetMBConv(bc, sd_prob, norm, init));
      }
      ++block_id;
    }
    layers->push_back(stage);
  }
  const int64_t last_in = setting.back().out_channels;
  const int64_t last_out = o.last_channel().value_or(4 * last_in);
  layers->push_back(Conv2dNormActivation(cna(last_in, last_out, 1, norm, true), init));

  features = register_module("features", layers);
  avgpool = register_module("avgpool", AdaptiveAvgPool2d(1));
  Sequential head;
  head->push_back(Dropout(o.dropout()));
  const double range = 1.0 / std::sqrt(static_cast<double>(o.num_classes()));
  head->push_back(Linear(LinearOptions(last_out, o.num_classes())
                             .weight_init(ParamInit::uniform(-range, range)),
                         init));
  classifier = register_module("classifier", head);
}

at::Tensor EfficientNetImpl::forward(at::Tensor x) {
  x = features->forward(x);
  x = avgpool->forward(x);
  x = x.flatten(1);
  return classifier->forward(x);
}

// ---------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------

EfficientNet efficientnet_b0(const ArchArgs& a) { return make("efficientnet_b0", 1.0, 1.0, 0.2, 1e-5, 0.1, a); }
EfficientNet efficientnet_b1(const ArchArgs& a) { return make("efficientnet_b1", 1.0, 1.1, 0.2, 1e-5, 0.1, a); }
EfficientNet efficientnet_b2(const ArchArgs& a) { return make("efficientnet_b2", 1.1, 1.2, 0.3, 1e-5, 0.1, a); }
EfficientNet efficientnet_b3(const ArchArgs& a) { return make("efficientnet_b3", 1.2, 1.4, 0.3, 1e-5, 0.1, a); }
EfficientNet efficientnet_b4(const ArchArgs& a) { return make("efficientnet_b4", 1.4, 1.8, 0.4, 1e-5, 0.1, a); }
EfficientNet efficientnet_b5(const ArchArgs& a) { return make("efficientnet_b5", 1.6, 2.2, 0.4, 1e-3, 0.01, a); }
EfficientNet efficientnet_b6(const ArchArgs& a) { return make("efficientnet_b6", 1.8, 2.6, 0.5, 1e-3, 0.01, a); }
EfficientNet efficientnet_b7(const ArchArgs& a) { return make("efficientnet_b7", 2.0, 3.1, 0.5, 1e-3, 0.01, a); }
EfficientNet efficientnet_v2_s(const ArchArgs& a) { return make("efficientnet_v2_s", 1.0, 1.0, 0.2, 1e-3, 0.1, a); }
EfficientNet efficientnet_v2_m(const ArchArgs& a) { return make("efficientnet_v2_m", 1.0, 1.0, 0.3, 1e-3, 0.1, a); }
EfficientNet efficientnet_v2_l(const ArchArgs& a) { return make("efficientnet_v2_l", 1.0, 1.0, 0.4, 1e-3, 0.1, a); }

}  // namespace modelzoo::models
