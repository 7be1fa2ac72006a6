#include "modelzoo/models/blocks.h"

#include <algorithm>
#include <ostream>
#include <sstream>

#include <ATen/ops/empty.h>
#include <ATen/ops/layer_norm.h>

#include "modelzoo/error.h"
#include "shape_str.h"

namespace modelzoo::models {
namespace {

void require_positive(const char* block, const char* field, int64_t v) {
  if (v <= 0) {
    throw Error(std::string(block) + ": " + field + " must be positive, got " + std::to_string(v));
  }
}

LayerPtr make_required(const ActivationFactory& f, const char* block, const char* field) {
  if (!f) throw Error(std::string(block) + ": " + field + " must not be empty");
  LayerPtr layer = f();
  if (!layer) throw Error(std::string(block) + ": " + field + " returned no layer");
  return layer;
}

}  // namespace

// ---------------------------------------------------------------------------
// Factories
// ---------------------------------------------------------------------------

NormFactory batch_norm2d_factory(double eps, c10::optional<double> momentum) {
  return [eps, momentum](int64_t channels, const InitPolicy& policy) {
    return LayerPtr(BatchNorm2d(BatchNorm2dOptions(channels).eps(eps).momentum(momentum), policy).ptr());
  };
}

NormFactory layer_norm_factory(double eps) {
  return [eps](int64_t channels, const InitPolicy& policy) {
    return LayerPtr(LayerNorm(LayerNormOptions({channels}).eps(eps), policy).ptr());
  };
}

NormFactory layer_norm2d_factory(double eps) {
  return [eps](int64_t channels, const InitPolicy& policy) {
    return LayerPtr(LayerNorm2d(channels, eps, policy).ptr());
  };
}

// ---------------------------------------------------------------------------
// Conv2dNormActivation
// ---------------------------------------------------------------------------

Conv2dNormActivationImpl::Conv2dNormActivationImpl(const Conv2dNormActivationOptions& o,
                                                   const InitPolicy& policy)
    : LayerImpl("Conv2dNormActivation"), options_(o) {
  torch::ExpandingArray<2> padding(0);
  if (o.padding()) {
    padding = *o.padding();
  } else {
    for (std::size_t i = 0; i < 2; ++i) {
      (*padding)[i] = ((*o.kernel_size())[i] - 1) / 2 * (*o.dilation())[i];
    }
  }
  const bool bias = o.bias().value_or(!o.norm());
  conv = Conv2d(Conv2dOptions(o.in_channels(), o.out_channels(), o.kernel_size())
                    .stride(o.stride())
                    .padding(padding)
                    .dilation(o.dilation())
                    .groups(o.groups())
                    .bias(bias),
                policy);
  register_module("0", conv);
  int index = 1;
  if (o.norm()) {
    norm = o.norm()(o.out_channels(), policy);
    if (!norm) throw Error("Conv2dNormActivation: the norm factory returned no layer");
    register_module(std::to_string(index++), norm);
  }
  if (o.activation()) {
    activation = make_required(o.activation(), "Conv2dNormActivation", "activation");
    register_module(std::to_string(index++), activation);
  }
}

at::Tensor Conv2dNormActivationImpl::forward(const at::Tensor& x) {
  at::Tensor y = conv->forward(x);
  if (norm) apply_to_temporary(*norm, y);
  if (activation) apply_to_temporary(*activation, y);
  return y;
}

// ---------------------------------------------------------------------------
// SqueezeExcitation
// ---------------------------------------------------------------------------

SqueezeExcitationImpl::SqueezeExcitationImpl(const SqueezeExcitationOptions& o,
                                             const InitPolicy& policy)
    : LayerImpl("SqueezeExcitation"), options_(o) {
  require_positive("SqueezeExcitation", "input_channels", o.input_channels());
  require_positive("SqueezeExcitation", "squeeze_channels", o.squeeze_channels());
  avgpool = register_module("avgpool", AdaptiveAvgPool2d(1));
  fc1 = register_module("fc1", Conv2d(Conv2dOptions(o.input_channels(), o.squeeze_channels(), 1), policy));
  fc2 = register_module("fc2", Conv2d(Conv2dOptions(o.squeeze_channels(), o.input_channels(), 1), policy));
  activation = register_module(
      "activation", make_required(o.activation(), "SqueezeExcitation", "activation"));
  scale_activation = register_module(
      "scale_activation", make_required(o.scale_activation(), "SqueezeExcitation", "scale_activation"));
}

at::Tensor SqueezeExcitationImpl::forward(const at::Tensor& x) {
  return scale(x) * x;
}

at::Tensor SqueezeExcitationImpl::scale(const at::Tensor& x) {
  if (x.dim() != 4 || x.size(1) != options_.input_channels()) {
    throw Error("SqueezeExcitation: expected an N x " + std::to_string(options_.input_channels()) +
                " x H x W input, got shape " + shape_str(x.sizes()));
  }
  at::Tensor s = avgpool->forward(x);
  s = fc1->forward(s);
  apply_to_temporary(*activation, s);
  s = fc2->forward(s);
  apply_to_temporary(*scale_activation, s);
  return s;
}

bool SqueezeExcitationImpl::forward_in_place(at::Tensor& x) {
  x.mul_(scale(x));
  return true;
}

// ---------------------------------------------------------------------------
// StochasticDepth
// ---------------------------------------------------------------------------

StochasticDepthImpl::StochasticDepthImpl(double p, std::string mode)
    : LayerImpl("StochasticDepth"), p_(p), mode_(std::move(mode)) {
  if (!(p_ >= 0.0 && p_ <= 1.0)) {
    throw Error("StochasticDepth: drop probability has to be between 0 and 1, got " +
                std::to_string(p_));
  }
  if (mode_ != "batch" && mode_ != "row") {
    throw Error("StochasticDepth: mode has to be either 'batch' or 'row', got '" + mode_ + "'");
  }
}

at::Tensor StochasticDepthImpl::forward(const at::Tensor& x) {
  if (!is_training() || p_ == 0.0) return x;
  const double survival = 1.0 - p_;
  std::vector<int64_t> size(static_cast<std::size_t>(x.dim()), 1);
  if (mode_ == "row" && x.dim() > 0) size[0] = x.size(0);
  at::Tensor noise = at::empty(size, x.options());
  noise.bernoulli_(survival);
  if (survival > 0.0) noise.div_(survival);
  return x * noise;
}

void StochasticDepthImpl::pretty_print(std::ostream& os) const {
  os << "StochasticDepth(p=" << p_ << ", mode=" << mode_ << ")";
}

// ---------------------------------------------------------------------------
// LayerNorm2d, Permute
// ---------------------------------------------------------------------------

LayerNorm2dImpl::LayerNorm2dImpl(int64_t channels, double eps, const InitPolicy& policy)
    : LayerNormImpl(LayerNormOptions({channels}).eps(eps), policy) {}

at::Tensor LayerNorm2dImpl::forward(const at::Tensor& x) {
  const int64_t c = options().normalized_shape()[0];
  if (x.dim() != 4 || x.size(1) != c) {
    throw Error("LayerNorm2d: expected an N x " + std::to_string(c) + " x H x W input, got shape " +
                shape_str(x.sizes()));
  }
  at::Tensor y = x.permute({0, 2, 3, 1});
  y = at::layer_norm(y, options().normalized_shape(), weight, bias, options().eps());
  return y.permute({0, 3, 1, 2});
}

void LayerNorm2dImpl::pretty_print(std::ostream& os) const {
  os << "LayerNorm2d((" << options().normalized_shape()[0] << ",), eps=" << options().eps()
     << ", elementwise_affine=" << (options().elementwise_affine() ? "True" : "False") << ")";
}

PermuteImpl::PermuteImpl(std::vector<int64_t> dims) : LayerImpl("Permute"), dims_(std::move(dims)) {
  std::vector<int64_t> sorted = dims_;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i] != static_cast<int64_t>(i)) {
      throw Error("Permute: dims " + shape_str(dims_) + " are not a permutation of 0.." +
                  std::to_string(static_cast<int64_t>(dims_.size()) - 1));
    }
  }
}

at::Tensor PermuteImpl::forward(const at::Tensor& x) {
  if (x.dim() != static_cast<int64_t>(dims_.size())) {
    throw Error("Permute" + shape_str(dims_) + ": expected a " + std::to_string(dims_.size()) +
                "-D input, got shape " + shape_str(x.sizes()));
  }
  return x.permute(dims_);
}

void PermuteImpl::pretty_print(std::ostream& os) const { os << "Permute(dims=" << shape_str(dims_) << ")"; }

// ---------------------------------------------------------------------------
// MLP
// ---------------------------------------------------------------------------

MLPImpl::MLPImpl(const MLPOptions& o, const InitPolicy& policy) : options_(o) {
  const auto& hidden = o.hidden_channels();
  if (hidden.empty()) throw Error("MLP: hidden_channels must not be empty");
  if (!(o.dropout() >= 0.0 && o.dropout() <= 1.0)) {
    throw Error("MLP: dropout must be in [0, 1], got " + std::to_string(o.dropout()));
  }
  int64_t in_dim = o.in_channels();
  for (std::size_t i = 0; i + 1 < hidden.size(); ++i) {
    push_back(Linear(LinearOptions(in_dim, hidden[i]).bias(o.bias()), policy));
    if (o.norm()) {
      LayerPtr norm = o.norm()(hidden[i], policy);
      if (!norm) throw Error("MLP: the norm factory returned no layer");
      push_back(norm);
    }
    push_back(make_required(o.activation(), "MLP", "activation"));
    push_back(Dropout(o.dropout()));
    in_dim = hidden[i];
  }
  push_back(Linear(LinearOptions(in_dim, hidden.back()).bias(o.bias()), policy));
  push_back(Dropout(o.dropout()));
}

}  // namespace modelzoo::models
