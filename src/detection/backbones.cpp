#include "modelzoo/detection/backbones.h"

#include <sstream>

#include <ATen/ATen.h>

#include "modelzoo/error.h"
#include "modelzoo/models/mobilenetv2.h"
#include "modelzoo/models/mobilenetv3.h"

namespace modelzoo::detection {
namespace {

using models::Conv2d;
using models::Conv2dOptions;
using models::InitPolicy;
using models::LayerPtr;
using models::NormFactory;
using models::ParamInit;

InitPolicy kaiming_fan_out(const InitPolicy& policy) {
  InitPolicy p = policy;
  p.conv_weight = ParamInit::kaiming_normal(models::FanMode::FanOut, models::Nonlinearity::ReLU);
  return p;
}

// torchvision.models.resnet.Bottleneck with its norm layer.
class BottleneckImpl : public models::LayerImpl {
 public:
  BottleneckImpl(int64_t inplanes, int64_t planes, int64_t stride, bool downsample, const NormFactory& norm,
                 const InitPolicy& init)
      : models::LayerImpl("Bottleneck") {
    const int64_t width = planes;
    conv1 = register_module("conv1", Conv2d(Conv2dOptions(inplanes, width, 1).bias(false), init));
    bn1 = register_module("bn1", norm(width, init));
    conv2 = register_module("conv2", Conv2d(Conv2dOptions(width, width, 3).stride(stride).padding(1).bias(false), init));
    bn2 = register_module("bn2", norm(width, init));
    conv3 = register_module("conv3", Conv2d(Conv2dOptions(width, planes * 4, 1).bias(false), init));
    bn3 = register_module("bn3", norm(planes * 4, init));
    register_module("relu", models::ReLU());
    if (downsample) {
      models::Sequential d;
      d->push_back(Conv2d(Conv2dOptions(inplanes, planes * 4, 1).stride(stride).bias(false), init));
      d->push_back(norm(planes * 4, init));
      this->downsample = register_module("downsample", d);
    }
  }
  at::Tensor forward(const at::Tensor& x) override {
    at::Tensor out = bn1->forward(conv1->forward(x)).relu_();
    out = bn2->forward(conv2->forward(out)).relu_();
    out = bn3->forward(conv3->forward(out));
    out = out + (downsample ? downsample->forward(x) : x);
    return out.relu_();
  }
  Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  LayerPtr bn1, bn2, bn3;
  models::Sequential downsample{nullptr};
};
TORCH_MODULE(Bottleneck);

// One MobileNet v3 InvertedResidual with a given norm layer.
class InvertedResidualImpl : public models::LayerImpl {
 public:
  InvertedResidualImpl(const models::MobileNetV3BlockConfig& c, const NormFactory& norm, const InitPolicy& init)
      : models::LayerImpl("InvertedResidual"),
        residual_(c.stride == 1 && c.input_channels == c.out_channels) {
    using models::Conv2dNormActivation;
    using models::Conv2dNormActivationOptions;
    const models::ActivationFactory act =
        c.use_hs ? models::activation_factory<models::Hardswish>() : models::activation_factory<models::ReLU>();
    models::Sequential layers;
    if (c.expanded_channels != c.input_channels) {
      layers->push_back(Conv2dNormActivation(
          Conv2dNormActivationOptions(c.input_channels, c.expanded_channels, 1).norm(norm).activation(act), init));
    }
    const int64_t stride = c.dilation > 1 ? 1 : c.stride;
    layers->push_back(Conv2dNormActivation(Conv2dNormActivationOptions(c.expanded_channels, c.expanded_channels, c.kernel)
                                               .stride(stride)
                                               .dilation(c.dilation)
                                               .groups(c.expanded_channels)
                                               .norm(norm)
                                               .activation(act),
                                           init));
    if (c.use_se) {
      const int64_t squeeze = models::make_divisible(static_cast<double>(c.expanded_channels / 4), 8);
      layers->push_back(models::SqueezeExcitation(
          models::SqueezeExcitationOptions(c.expanded_channels, squeeze)
              .scale_activation(models::activation_factory<models::Hardsigmoid>()),
          init));
    }
    layers->push_back(Conv2dNormActivation(
        Conv2dNormActivationOptions(c.expanded_channels, c.out_channels, 1).norm(norm).activation(nullptr), init));
    block = register_module("block", layers);
  }
  at::Tensor forward(const at::Tensor& x) override {
    at::Tensor out = block->forward(x);
    return residual_ ? out + x : out;
  }
  models::Sequential block{nullptr};

 private:
  bool residual_;
};
TORCH_MODULE(InvertedResidual);

}  // namespace

ResNetBodyImpl::ResNetBodyImpl(const ResNetBodyOptions& options, const InitPolicy& policy) : options_(options) {
  if (options.layers().size() != 4) throw Error("ResNetBody: layers must hold four block counts");
  for (int64_t r : options.returned_layers()) {
    if (r < 1 || r > 4) throw Error("ResNetBody: returned layers must be in [1, 4], got " + std::to_string(r));
  }
  const InitPolicy init = kaiming_fan_out(policy);
  const NormFactory& norm = options.norm();
  stem_.push_back(register_module("conv1", Conv2d(Conv2dOptions(3, 64, 7).stride(2).padding(3).bias(false), init)));
  stem_.push_back(register_module("bn1", norm(64, init)));
  stem_.push_back(register_module("relu", models::ReLU()));
  stem_.push_back(register_module("maxpool", models::MaxPool2d(models::MaxPool2dOptions(3).stride(2).padding(1))));
  int64_t inplanes = 64;
  const int64_t last = *std::max_element(options.returned_layers().begin(), options.returned_layers().end());
  for (int64_t s = 0; s < last; ++s) {
    const int64_t planes = 64 << s;
    const int64_t stride = s == 0 ? 1 : 2;
    models::Sequential stage;
    for (int64_t b = 0; b < options.layers()[static_cast<std::size_t>(s)]; ++b) {
      stage->push_back(Bottleneck(inplanes, planes, b == 0 ? stride : 1, b == 0, norm, init));
      inplanes = planes * 4;
    }
    stages_.push_back(register_module("layer" + std::to_string(s + 1), stage));
  }
}

ops::FeatureMaps ResNetBodyImpl::forward(const at::Tensor& x) {
  at::Tensor y = x;
  for (const auto& l : stem_) y = l->forward(y);
  ops::FeatureMaps out;
  for (std::size_t s = 0; s < stages_.size(); ++s) {
    y = stages_[s]->forward(y);
    const auto& r = options_.returned_layers();
    for (std::size_t k = 0; k < r.size(); ++k) {
      if (r[k] == static_cast<int64_t>(s + 1)) out.emplace_back(std::to_string(k), y);
    }
  }
  return out;
}

std::vector<int64_t> ResNetBodyImpl::out_channels() const {
  std::vector<int64_t> out;
  for (int64_t r : options_.returned_layers()) out.push_back(256 << (r - 1));
  return out;
}

std::vector<std::pair<LayerPtr, int64_t>> mobilenet_v3_large_features(const NormFactory& norm, bool reduced_tail,
                                                                       const InitPolicy& init) {
  const models::MobileNetV3Config cfg = models::mobilenet_v3_config("mobilenet_v3_large", 1.0, reduced_tail);
  using models::Conv2dNormActivation;
  using models::Conv2dNormActivationOptions;
  std::vector<std::pair<LayerPtr, int64_t>> layers;
  const int64_t first = cfg.blocks.front().input_channels;
  layers.emplace_back(Conv2dNormActivation(Conv2dNormActivationOptions(3, first, 3)
                                               .stride(2)
                                               .norm(norm)
                                               .activation(models::activation_factory<models::Hardswish>()),
                                           init)
                          .ptr(),
                      first);
  for (const auto& b : cfg.blocks) layers.emplace_back(InvertedResidual(b, norm, init).ptr(), b.out_channels);
  const int64_t last_in = cfg.blocks.back().out_channels;
  layers.emplace_back(Conv2dNormActivation(Conv2dNormActivationOptions(last_in, 6 * last_in, 1)
                                               .norm(norm)
                                               .activation(models::activation_factory<models::Hardswish>()),
                                           init)
                          .ptr(),
                      6 * last_in);
  return layers;
}

MobileNetV3BodyImpl::MobileNetV3BodyImpl(NormFactory norm, std::vector<int64_t> returned, const InitPolicy& policy)
    : returned_(std::move(returned)) {
  InitPolicy init = policy;
  init.conv_weight = ParamInit::kaiming_normal(models::FanMode::FanOut);
  init.conv_bias = ParamInit::zeros();
  for (auto& [layer, channels] : mobilenet_v3_large_features(norm, /*reduced_tail=*/false, init)) {
    layers_.push_back(register_module(std::to_string(layers_.size()), layer));
    channels_.push_back(channels);
  }
  for (int64_t r : returned_) {
    if (r < 0 || r >= static_cast<int64_t>(layers_.size())) {
      throw Error("MobileNetV3Body: returned layer " + std::to_string(r) + " is outside the features");
    }
  }
}

at::Tensor MobileNetV3BodyImpl::run(const at::Tensor& x, std::size_t begin, std::size_t end) {
  at::Tensor y = x;
  for (std::size_t i = begin; i < end; ++i) y = layers_[i]->forward(y);
  return y;
}

ops::FeatureMaps MobileNetV3BodyImpl::forward(const at::Tensor& x) {
  ops::FeatureMaps out;
  at::Tensor y = x;
  const int64_t last = *std::max_element(returned_.begin(), returned_.end());
  for (int64_t i = 0; i <= last; ++i) {
    y = layers_[static_cast<std::size_t>(i)]->forward(y);
    for (std::size_t k = 0; k < returned_.size(); ++k) {
      if (returned_[k] == i) out.emplace_back(std::to_string(k), y);
    }
  }
  return out;
}

std::vector<int64_t> MobileNetV3BodyImpl::out_channels() const {
  std::vector<int64_t> out;
  for (int64_t r : returned_) out.push_back(channels_[static_cast<std::size_t>(r)]);
  return out;
}

BackboneWithFPNImpl::BackboneWithFPNImpl(std::shared_ptr<BodyImpl> b, ops::FeaturePyramidNetworkOptions fpn_options,
                                         const InitPolicy& policy)
    : body(register_module("body", std::move(b))) {
  fpn = register_module("fpn", ops::FeaturePyramidNetwork(fpn_options.in_channels_list(body->out_channels()), policy));
}

ops::FeatureMaps BackboneWithFPNImpl::forward(const at::Tensor& x) { return fpn->forward(body->forward(x)); }

ConvTranspose2dImpl::ConvTranspose2dImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding,
                                         const InitPolicy& policy)
    : models::LayerImpl("ConvTranspose2d"), stride_(stride), padding_(padding) {
  weight = register_parameter("weight", models::new_parameter({in, out, kernel, kernel},
                                                              ParamInit::kaiming_normal(models::FanMode::FanOut,
                                                                                        models::Nonlinearity::ReLU),
                                                              policy));
  // nn.ConvTranspose2d's default bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = out * k * k.
  const double bound = 1.0 / std::sqrt(static_cast<double>(out * kernel * kernel));
  bias = register_parameter("bias", models::new_parameter({out}, ParamInit::uniform(-bound, bound), policy));
}

at::Tensor ConvTranspose2dImpl::forward(const at::Tensor& x) {
  return at::conv_transpose2d(x, weight, bias, {stride_, stride_}, {padding_, padding_});
}

GroupNormImpl::GroupNormImpl(int64_t num_groups, int64_t channels, double eps)
    : models::LayerImpl("GroupNorm"), groups_(num_groups), eps_(eps) {
  if (num_groups < 1 || channels % num_groups != 0) {
    throw Error("GroupNorm: " + std::to_string(channels) + " channels are not divisible into " +
                std::to_string(num_groups) + " groups");
  }
  weight = register_parameter("weight", at::ones({channels}));
  bias = register_parameter("bias", at::zeros({channels}));
}

at::Tensor GroupNormImpl::forward(const at::Tensor& x) { return at::group_norm(x, groups_, weight, bias, eps_); }

models::NormFactory group_norm_factory(int64_t num_groups) {
  return [num_groups](int64_t channels, const InitPolicy&) { return LayerPtr(GroupNorm(num_groups, channels).ptr()); };
}

}  // namespace modelzoo::detection
