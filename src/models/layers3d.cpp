#include "modelzoo/models/layers3d.h"

#include <cmath>

#include <ATen/ATen.h>

#include "modelzoo/error.h"

namespace modelzoo::models {
namespace {

std::string shape_of(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

void check_5d(const at::Tensor& x, const char* layer) {
  if (x.dim() != 5) throw Error(std::string(layer) + ": expected an N x C x T x H x W input, got shape " + shape_of(x));
}

void require_positive(const torch::ExpandingArray<3>& v, const char* field, bool allow_zero = false) {
  for (int64_t x : *v) {
    if (x < (allow_zero ? 0 : 1)) throw Error(std::string("Conv3d: ") + field + " must be " + (allow_zero ? ">= 0" : "positive"));
  }
}

}  // namespace

Conv3dImpl::Conv3dImpl(const Conv3dOptions& o, const InitPolicy& policy)
    : LayerImpl("Conv3d"), options_(o) {
  if (o.in_channels() < 1 || o.out_channels() < 1) throw Error("Conv3d: channels must be positive");
  if (o.groups() < 1 || o.in_channels() % o.groups() != 0 || o.out_channels() % o.groups() != 0) {
    throw Error("Conv3d: in_channels (" + std::to_string(o.in_channels()) + ") and out_channels (" +
                std::to_string(o.out_channels()) + ") must be divisible by groups (" + std::to_string(o.groups()) + ")");
  }
  require_positive(o.kernel_size(), "kernel_size");
  require_positive(o.stride(), "stride");
  require_positive(o.padding(), "padding", true);
  const auto& k = *o.kernel_size();
  const int64_t in_per_group = o.in_channels() / o.groups();
  const int64_t fan_in = in_per_group * k[0] * k[1] * k[2];
  ParamInit w_init = policy.conv_weight;
  if (w_init.kind() == ParamInit::Kind::TorchDefault) {
    w_init = ParamInit::kaiming_uniform(FanMode::FanIn, Nonlinearity::LeakyReLU, std::sqrt(5.0));
  }
  weight = register_parameter("weight", new_parameter({o.out_channels(), in_per_group, k[0], k[1], k[2]},
                                                          w_init, policy));
  if (o.bias()) {
    ParamInit b_init = policy.conv_bias;
    if (b_init.kind() == ParamInit::Kind::TorchDefault) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
      b_init = ParamInit::uniform(-bound, bound);
    }
    bias = register_parameter("bias", new_parameter({o.out_channels()}, b_init, policy));
  }
}

at::Tensor Conv3dImpl::forward(const at::Tensor& x) {
  check_5d(x, "Conv3d");
  if (x.size(1) != options_.in_channels()) {
    throw Error("Conv3d: expected " + std::to_string(options_.in_channels()) + " input channels, got input of shape " +
                shape_of(x));
  }
  if (at::Tensor y = try_inference_kernel(x); y.defined()) return y;
  return at::conv3d(x, weight, bias, *options_.stride(), *options_.padding(), 1, options_.groups());
}

BatchNorm3dImpl::BatchNorm3dImpl(int64_t num_features, const InitPolicy& policy, double eps, double momentum)
    : LayerImpl("BatchNorm3d"), num_features_(num_features), eps_(eps), momentum_(momentum) {
  if (num_features < 1) throw Error("BatchNorm3d: num_features must be positive");
  weight = register_parameter("weight", new_parameter({num_features}, policy.norm_weight, policy));
  bias = register_parameter("bias", new_parameter({num_features}, policy.norm_bias, policy));
  running_mean = register_buffer("running_mean", at::zeros({num_features}));
  running_var = register_buffer("running_var", at::ones({num_features}));
  num_batches_tracked = register_buffer("num_batches_tracked", at::zeros({}, at::kLong));
}

at::Tensor BatchNorm3dImpl::forward(const at::Tensor& x) {
  check_5d(x, "BatchNorm3d");
  if (x.size(1) != num_features_) {
    throw Error("BatchNorm3d: expected " + std::to_string(num_features_) + " channels, got input of shape " + shape_of(x));
  }
  if (at::Tensor y = try_inference_kernel(x); y.defined()) return y;
  if (is_training()) num_batches_tracked.add_(1);
  return at::batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum_, eps_, true);
}

at::Tensor MaxPool3dImpl::forward(const at::Tensor& x) {
  check_5d(x, "MaxPool3d");
  return at::max_pool3d(x, *options_.kernel_size(), *options_.stride(), *options_.padding());
}

at::Tensor AvgPool3dImpl::forward(const at::Tensor& x) {
  check_5d(x, "AvgPool3d");
  const auto& k = *options_.kernel_size();
  for (int d = 0; d < 3; ++d) {
    if (x.size(2 + d) + 2 * (*options_.padding())[d] < k[d]) {
      throw Error("AvgPool3d: the input " + shape_of(x) + " is smaller than the kernel (" + std::to_string(k[0]) + ", " +
                  std::to_string(k[1]) + ", " + std::to_string(k[2]) + ")");
    }
  }
  return at::avg_pool3d(x, k, *options_.stride(), *options_.padding());
}

at::Tensor GlobalAvgPool3dImpl::forward(const at::Tensor& x) {
  check_5d(x, "AdaptiveAvgPool3d");
  return at::adaptive_avg_pool3d(x, {1, 1, 1});
}

}  // namespace modelzoo::models
