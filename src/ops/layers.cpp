#include "modelzoo/ops/layers.h"

#include <ostream>
#include <sstream>

#include <ATen/ATen.h>

#include "modelzoo/error.h"

namespace modelzoo::ops {

FrozenBatchNorm2dImpl::FrozenBatchNorm2dImpl(int64_t num_features, double eps)
    : models::LayerImpl("FrozenBatchNorm2d"), eps_(eps) {
  if (num_features < 1) throw Error("FrozenBatchNorm2d: num_features must be positive, got " + std::to_string(num_features));
  weight = register_buffer("weight", at::ones({num_features}));
  bias = register_buffer("bias", at::zeros({num_features}));
  running_mean = register_buffer("running_mean", at::zeros({num_features}));
  running_var = register_buffer("running_var", at::ones({num_features}));
}

at::Tensor FrozenBatchNorm2dImpl::forward(const at::Tensor& x) {
  if (x.dim() < 2 || x.size(1) != weight.size(0)) {
    std::ostringstream os;
    os << "FrozenBatchNorm2d(" << weight.size(0) << "): expected " << weight.size(0) << " channels, got input of shape "
       << x.sizes();
    throw Error(os.str());
  }
  if (at::Tensor y = try_inference_kernel(x); y.defined()) return y;
  const at::Tensor w = weight.reshape({1, -1, 1, 1});
  const at::Tensor b = bias.reshape({1, -1, 1, 1});
  const at::Tensor rv = running_var.reshape({1, -1, 1, 1});
  const at::Tensor rm = running_mean.reshape({1, -1, 1, 1});
  const at::Tensor scale = w * (rv + eps_).rsqrt();
  const at::Tensor shift = b - rm * scale;
  return x * scale + shift;
}

void FrozenBatchNorm2dImpl::pretty_print(std::ostream& stream) const {
  stream << "FrozenBatchNorm2d(" << weight.size(0) << ", eps=" << eps_ << ")";
}

models::NormFactory frozen_batch_norm2d_factory(double eps) {
  return [eps](int64_t channels, const models::InitPolicy&) {
    return models::LayerPtr(FrozenBatchNorm2d(channels, eps).ptr());
  };
}

void overwrite_eps(torch::nn::Module& module, double eps) {
  for (const auto& m : module.modules(/*include_self=*/true)) {
    if (auto* f = dynamic_cast<FrozenBatchNorm2dImpl*>(m.get())) f->set_eps(eps);
  }
}

namespace {

models::InitPolicy fpn_init(const models::InitPolicy& policy) {
  models::InitPolicy p = policy;
  p.conv_weight = models::ParamInit::kaiming_uniform(models::FanMode::FanIn, models::Nonlinearity::LeakyReLU, 1.0);
  p.conv_bias = models::ParamInit::zeros();
  return p;
}

}  // namespace

LastLevelP6P7Impl::LastLevelP6P7Impl(int64_t in_channels, int64_t out_channels, const models::InitPolicy& policy)
    : use_p5_(in_channels == out_channels) {
  const models::InitPolicy init = fpn_init(policy);
  p6 = register_module("p6", models::Conv2d(models::Conv2dOptions(in_channels, out_channels, 3).stride(2).padding(1), init));
  p7 = register_module("p7", models::Conv2d(models::Conv2dOptions(out_channels, out_channels, 3).stride(2).padding(1), init));
}

void LastLevelP6P7Impl::forward(FeatureMaps& results, const at::Tensor& c5) {
  const at::Tensor x = use_p5_ ? results.back().second : c5;
  at::Tensor p6_out = p6->forward(x);
  at::Tensor p7_out = p7->forward(at::relu(p6_out));
  results.emplace_back("p6", std::move(p6_out));
  results.emplace_back("p7", std::move(p7_out));
}

FeaturePyramidNetworkImpl::FeaturePyramidNetworkImpl(const FeaturePyramidNetworkOptions& options,
                                                     const models::InitPolicy& policy)
    : options_(options) {
  if (options.in_channels_list().empty()) throw Error("FeaturePyramidNetwork: in_channels_list is empty");
  const models::InitPolicy init = fpn_init(policy);
  inner_blocks = register_module("inner_blocks", models::Sequential());
  layer_blocks = register_module("layer_blocks", models::Sequential());
  const int64_t out = options.out_channels();
  for (int64_t in : options.in_channels_list()) {
    if (in < 1) throw Error("FeaturePyramidNetwork: in_channels must be positive, got " + std::to_string(in));
    inner_blocks->push_back(models::Conv2dNormActivation(
        models::Conv2dNormActivationOptions(in, out, 1).padding(0).norm(options.norm()).activation(nullptr), init));
    layer_blocks->push_back(models::Conv2dNormActivation(
        models::Conv2dNormActivationOptions(out, out, 3).norm(options.norm()).activation(nullptr), init));
  }
  if (options.extra_block() == ExtraFPNBlock::LastLevelP6P7) {
    extra_blocks = register_module("extra_blocks", LastLevelP6P7(options.p6p7_in_channels(), out, policy));
  }
}

FeatureMaps FeaturePyramidNetworkImpl::forward(const FeatureMaps& x) {
  const std::size_t n = inner_blocks->size();
  if (x.size() != n) {
    throw Error("FeaturePyramidNetwork: expected " + std::to_string(n) + " feature maps, got " + std::to_string(x.size()));
  }
  FeatureMaps results(n);
  at::Tensor last_inner = (*inner_blocks)[n - 1]->forward(x[n - 1].second);
  results[n - 1] = {x[n - 1].first, (*layer_blocks)[n - 1]->forward(last_inner)};
  for (std::size_t k = n - 1; k-- > 0;) {
    const at::Tensor lateral = (*inner_blocks)[k]->forward(x[k].second);
    const at::Tensor top_down =
        at::upsample_nearest2d(last_inner, {lateral.size(-2), lateral.size(-1)}, c10::nullopt, c10::nullopt);
    last_inner = lateral + top_down;
    results[k] = {x[k].first, (*layer_blocks)[k]->forward(last_inner)};
  }
  switch (options_.extra_block()) {
    case ExtraFPNBlock::None:
      break;
    case ExtraFPNBlock::LastLevelMaxPool:
      results.emplace_back("pool", at::max_pool2d(results.back().second, {1, 1}, {2, 2}, {0, 0}));
      break;
    case ExtraFPNBlock::LastLevelP6P7:
      extra_blocks->forward(results, x.back().second);
      break;
  }
  return results;
}

std::vector<std::pair<std::string, std::string>> fpn_legacy_key_renames() {
  return {{R"((.*fpn\.(?:inner|layer)_blocks\.[0-9]+)\.(weight|bias))", "$1.0.$2"}};
}

}  // namespace modelzoo::ops
