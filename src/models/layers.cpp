#include "modelzoo/models/layers.h"

#include <array>
#include <cmath>
#include <numeric>
#include <ostream>
#include <sstream>

#include <ATen/core/grad_mode.h>
#include <ATen/ops/adaptive_avg_pool2d.h>
#include <ATen/ops/avg_pool2d.h>
#include <ATen/ops/batch_norm.h>
#include <ATen/ops/conv2d.h>
#include <ATen/ops/dropout.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/hardsigmoid.h>
#include <ATen/ops/hardswish.h>
#include <ATen/ops/hardtanh.h>
#include <ATen/ops/layer_norm.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/max_pool2d.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/relu.h>
#include <ATen/ops/sigmoid.h>
#include <ATen/ops/silu.h>
#include <ATen/ops/tanh.h>
#include <ATen/ops/zeros.h>

#include "modelzoo/error.h"
#include "shape_str.h"

namespace modelzoo::models {
namespace {

template <std::size_t D>
std::string tuple_str(const torch::ExpandingArray<D>& a) {
  std::ostringstream os;
  os << '(';
  for (std::size_t i = 0; i < D; ++i) os << (i ? ", " : "") << (*a)[i];
  os << ')';
  return os.str();
}

const char* bool_str(bool b) { return b ? "True" : "False"; }

const char* mode_str(FanMode m) { return m == FanMode::FanIn ? "fan_in" : "fan_out"; }

const char* nonlinearity_str(Nonlinearity n) {
  switch (n) {
    case Nonlinearity::Linear: return "linear";
    case Nonlinearity::Sigmoid: return "sigmoid";
    case Nonlinearity::Tanh: return "tanh";
    case Nonlinearity::ReLU: return "relu";
    case Nonlinearity::LeakyReLU: return "leaky_relu";
    case Nonlinearity::SELU: return "selu";
  }
  return "?";
}

// torch.nn.init.calculate_gain.
double gain(Nonlinearity n, double a) {
  switch (n) {
    case Nonlinearity::Linear:
    case Nonlinearity::Sigmoid: return 1.0;
    case Nonlinearity::Tanh: return 5.0 / 3.0;
    case Nonlinearity::ReLU: return std::sqrt(2.0);
    case Nonlinearity::LeakyReLU: return std::sqrt(2.0 / (1.0 + a * a));
    case Nonlinearity::SELU: return 3.0 / 4.0;
  }
  return 1.0;
}

// torch.nn.init._calculate_fan_in_and_fan_out.
std::pair<int64_t, int64_t> fans(const at::Tensor& t, const ParamInit& init) {
  if (t.dim() < 2) {
    throw Error("cannot apply " + init.describe() + " to a tensor of shape " +
                shape_str(t.sizes()) + ": fan in and fan out need at least 2 dimensions");
  }
  int64_t receptive = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

double norm_cdf(double x) { return (1.0 + std::erf(x / std::sqrt(2.0))) / 2.0; }

// Allocates a float tensor of `shape`; initialised with `init` when enabled.
at::Tensor make_tensor(c10::IntArrayRef shape, const ParamInit& init, bool enabled) {
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(at::kFloat));
  if (enabled) init.fill(t);
  return t;
}

// Weight of Conv2d/Linear: TorchDefault = kaiming_uniform_(a=sqrt(5)).
at::Tensor make_weight(c10::IntArrayRef shape, const ParamInit& init, bool enabled) {
  if (init.kind() == ParamInit::Kind::TorchDefault) {
    return make_tensor(shape,
                       ParamInit::kaiming_uniform(FanMode::FanIn, Nonlinearity::LeakyReLU,
                                                  std::sqrt(5.0)),
                       enabled);
  }
  return make_tensor(shape, init, enabled);
}

// Bias of Conv2d/Linear: TorchDefault = uniform_(-1/sqrt(fan_in), 1/sqrt(fan_in)).
at::Tensor make_bias(int64_t n, int64_t fan_in, const ParamInit& init, bool enabled) {
  if (init.kind() == ParamInit::Kind::TorchDefault) {
    const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
    return make_tensor({n}, ParamInit::uniform(-bound, bound), enabled);
  }
  return make_tensor({n}, init, enabled);
}

// Weight/bias of normalisation layers: TorchDefault = ones / zeros.
at::Tensor make_norm_param(c10::IntArrayRef shape, const ParamInit& init, bool enabled,
                           double default_value) {
  if (init.kind() == ParamInit::Kind::TorchDefault) {
    return make_tensor(shape, ParamInit::constant(default_value), enabled);
  }
  return make_tensor(shape, init, enabled);
}

void require_positive(const char* layer, const char* field, int64_t v) {
  if (v <= 0) {
    throw Error(std::string(layer) + ": " + field + " must be positive, got " + std::to_string(v));
  }
}

template <std::size_t D>
void require_positive(const char* layer, const char* field, const torch::ExpandingArray<D>& a,
                      bool allow_zero = false) {
  for (std::size_t i = 0; i < D; ++i) {
    if ((*a)[i] < 0 || (!allow_zero && (*a)[i] == 0)) {
      throw Error(std::string(layer) + ": " + field + " must be " +
                  (allow_zero ? "non-negative" : "positive") + ", got " + tuple_str(a));
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// ParamInit
// ---------------------------------------------------------------------------

ParamInit ParamInit::constant(double value) {
  ParamInit p(Kind::Constant);
  p.v0_ = value;
  return p;
}

ParamInit ParamInit::normal(double mean, double stddev) {
  if (!(stddev >= 0)) {
    throw Error("ParamInit::normal: std must be >= 0, got " + std::to_string(stddev));
  }
  ParamInit p(Kind::Normal);
  p.v0_ = mean;
  p.v1_ = stddev;
  return p;
}

ParamInit ParamInit::uniform(double low, double high) {
  if (!(low <= high)) {
    throw Error("ParamInit::uniform: expected low <= high, got low=" + std::to_string(low) +
                " high=" + std::to_string(high));
  }
  ParamInit p(Kind::Uniform);
  p.v0_ = low;
  p.v1_ = high;
  return p;
}

ParamInit ParamInit::trunc_normal(double mean, double stddev, double a, double b) {
  if (!(stddev > 0) || !(a < b)) {
    throw Error("ParamInit::trunc_normal: expected std > 0 and a < b, got std=" +
                std::to_string(stddev) + " a=" + std::to_string(a) + " b=" + std::to_string(b));
  }
  ParamInit p(Kind::TruncNormal);
  p.v0_ = mean;
  p.v1_ = stddev;
  p.v2_ = a;
  p.v3_ = b;
  return p;
}

ParamInit ParamInit::kaiming_normal(FanMode mode, Nonlinearity nonlinearity, double a) {
  ParamInit p(Kind::KaimingNormal);
  p.mode_ = mode;
  p.nonlinearity_ = nonlinearity;
  p.v0_ = a;
  return p;
}

ParamInit ParamInit::kaiming_uniform(FanMode mode, Nonlinearity nonlinearity, double a) {
  ParamInit p(Kind::KaimingUniform);
  p.mode_ = mode;
  p.nonlinearity_ = nonlinearity;
  p.v0_ = a;
  return p;
}

ParamInit ParamInit::xavier_normal(double g) {
  ParamInit p(Kind::XavierNormal);
  p.v0_ = g;
  return p;
}

ParamInit ParamInit::xavier_uniform(double g) {
  ParamInit p(Kind::XavierUniform);
  p.v0_ = g;
  return p;
}

std::string ParamInit::describe() const {
  std::ostringstream os;
  switch (kind_) {
    case Kind::TorchDefault: os << "torch_default()"; break;
    case Kind::Constant: os << "constant_(" << v0_ << ")"; break;
    case Kind::Normal: os << "normal_(mean=" << v0_ << ", std=" << v1_ << ")"; break;
    case Kind::Uniform: os << "uniform_(a=" << v0_ << ", b=" << v1_ << ")"; break;
    case Kind::TruncNormal:
      os << "trunc_normal_(mean=" << v0_ << ", std=" << v1_ << ", a=" << v2_ << ", b=" << v3_ << ")";
      break;
    case Kind::KaimingNormal:
    case Kind::KaimingUniform:
      os << (kind_ == Kind::KaimingNormal ? "kaiming_normal_" : "kaiming_uniform_") << "(a=" << v0_
         << ", mode='" << mode_str(mode_) << "', nonlinearity='" << nonlinearity_str(nonlinearity_)
         << "')";
      break;
    case Kind::XavierNormal: os << "xavier_normal_(gain=" << v0_ << ")"; break;
    case Kind::XavierUniform: os << "xavier_uniform_(gain=" << v0_ << ")"; break;
  }
  return os.str();
}

void ParamInit::fill(at::Tensor& t) const {
  at::NoGradGuard no_grad;
  switch (kind_) {
    case Kind::TorchDefault:
      throw Error("ParamInit::torch_default() depends on the layer; it cannot fill a tensor of "
                  "shape " + shape_str(t.sizes()) + " directly (use a concrete ParamInit)");
    case Kind::Constant: t.fill_(v0_); return;
    case Kind::Normal: t.normal_(v0_, v1_); return;
    case Kind::Uniform: t.uniform_(v0_, v1_); return;
    case Kind::TruncNormal: {
      // torch.nn.init.trunc_normal_: inverse-CDF sampling, then clamp.
      const double lo = norm_cdf((v2_ - v0_) / v1_), hi = norm_cdf((v3_ - v0_) / v1_);
      t.uniform_(2 * lo - 1, 2 * hi - 1);
      t.erfinv_();
      t.mul_(v1_ * std::sqrt(2.0));
      t.add_(v0_);
      t.clamp_(v2_, v3_);
      return;
    }
    case Kind::KaimingNormal:
    case Kind::KaimingUniform: {
      const auto [fan_in, fan_out] = fans(t, *this);
      const int64_t fan = mode_ == FanMode::FanIn ? fan_in : fan_out;
      if (fan == 0) return;  // torch warns and leaves the (empty) tensor alone
      const double sd = gain(nonlinearity_, v0_) / std::sqrt(static_cast<double>(fan));
      if (kind_ == Kind::KaimingNormal) {
        t.normal_(0.0, sd);
      } else {
        const double bound = std::sqrt(3.0) * sd;
        t.uniform_(-bound, bound);
      }
      return;
    }
    case Kind::XavierNormal:
    case Kind::XavierUniform: {
      const auto [fan_in, fan_out] = fans(t, *this);
      if (fan_in + fan_out == 0) return;
      const double sd = v0_ * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
      if (kind_ == Kind::XavierNormal) {
        t.normal_(0.0, sd);
      } else {
        const double bound = std::sqrt(3.0) * sd;
        t.uniform_(-bound, bound);
      }
      return;
    }
  }
}

at::Tensor new_parameter(c10::IntArrayRef shape, const ParamInit& init, const InitPolicy& policy) {
  return make_tensor(shape, init, policy.enabled);
}

// ---------------------------------------------------------------------------
// Sequential
// ---------------------------------------------------------------------------

void SequentialImpl::push_back(LayerPtr layer) { push_back(std::to_string(layers_.size()), std::move(layer)); }

void SequentialImpl::push_back(const std::string& name, LayerPtr layer) {
  if (!layer) throw Error("Sequential::push_back: layer '" + name + "' is empty (nullptr)");
  if (name.empty() || name.find('.') != std::string::npos) {
    throw Error("Sequential::push_back: invalid child name '" + name +
                "' (expected a non-empty name without '.')");
  }
  if (named_children().contains(name)) {
    throw Error("Sequential::push_back: a child named '" + name + "' already exists");
  }
  register_module(name, layer);
  layers_.push_back(std::move(layer));
}

namespace {

// Whether a layer may write its result over y: nothing but the one handle
// refers to the tensor or its storage (inside a Sequential, the output of the
// layer before, which no one else can see), and no gradient is recorded
// through it. The same kernel computes either way; the activation is not
// allocated and paged in anew on every call.
bool overwritable(const at::Tensor& y) {
  return y.defined() && y.layout() == at::kStrided && !y.requires_grad() && y.use_count() == 1 &&
         y.storage().use_count() == 1 && y.is_non_overlapping_and_dense();
}

}  // namespace

void apply_to_temporary(LayerImpl& layer, at::Tensor& y) {
  if (overwritable(y) && layer.forward_in_place(y)) return;
  y = layer.forward(y);
}

at::Tensor SequentialImpl::forward(const at::Tensor& x) {
  if (at::Tensor y = try_inference_kernel(x); y.defined()) return y;
  // y starts as a second handle on the caller's x, so the first layer never
  // overwrites it; each later y is the previous layer's result.
  at::Tensor y = x;
  for (const auto& layer : layers_) apply_to_temporary(*layer, y);
  return y;
}

const LayerPtr& SequentialImpl::operator[](std::size_t i) const {
  if (i >= layers_.size()) {
    throw Error("Sequential: index " + std::to_string(i) + " out of range (size " +
                std::to_string(layers_.size()) + ")");
  }
  return layers_[i];
}

void SequentialImpl::throw_wrong_type(std::size_t i) const {
  throw Error("Sequential: layer " + std::to_string(i) + " is a " + layers_[i]->name() +
              ", not the requested type");
}

// ---------------------------------------------------------------------------
// Conv2d
// ---------------------------------------------------------------------------

Conv2dImpl::Conv2dImpl(const Conv2dOptions& o, const InitPolicy& policy)
    : LayerImpl("Conv2d"), options_(o) {
  require_positive("Conv2d", "in_channels", o.in_channels());
  require_positive("Conv2d", "out_channels", o.out_channels());
  require_positive("Conv2d", "groups", o.groups());
  require_positive("Conv2d", "kernel_size", o.kernel_size());
  require_positive("Conv2d", "stride", o.stride());
  require_positive("Conv2d", "dilation", o.dilation());
  require_positive("Conv2d", "padding", o.padding(), /*allow_zero=*/true);
  if (o.in_channels() % o.groups() != 0 || o.out_channels() % o.groups() != 0) {
    throw Error("Conv2d: in_channels (" + std::to_string(o.in_channels()) + ") and out_channels (" +
                std::to_string(o.out_channels()) + ") must be divisible by groups (" +
                std::to_string(o.groups()) + ")");
  }
  const int64_t kh = (*o.kernel_size())[0], kw = (*o.kernel_size())[1];
  const int64_t in_per_group = o.in_channels() / o.groups();
  weight = register_parameter(
      "weight", make_weight({o.out_channels(), in_per_group, kh, kw},
                            o.weight_init().value_or(policy.conv_weight), policy.enabled));
  if (o.bias()) {
    bias = register_parameter("bias", make_bias(o.out_channels(), in_per_group * kh * kw,
                                                o.bias_init().value_or(policy.conv_bias),
                                                policy.enabled));
  }
}

at::Tensor Conv2dImpl::forward(const at::Tensor& x) {
  if (x.dim() != 3 && x.dim() != 4) {
    throw Error("Conv2d: expected a 3D or 4D input, got shape " + shape_str(x.sizes()));
  }
  if (x.size(-3) != options_.in_channels()) {
    throw Error("Conv2d: expected " + std::to_string(options_.in_channels()) +
                " input channels, got input of shape " + shape_str(x.sizes()));
  }
  if (at::Tensor y = try_inference_kernel(x); y.defined()) return y;
  return at::conv2d(x, weight, bias, *options_.stride(), *options_.padding(),
                    *options_.dilation(), options_.groups());
}

void Conv2dImpl::pretty_print(std::ostream& os) const {
  os << "Conv2d(" << options_.in_channels() << ", " << options_.out_channels()
     << ", kernel_size=" << tuple_str(options_.kernel_size())
     << ", stride=" << tuple_str(options_.stride());
  if (*options_.padding() != std::array<int64_t, 2>{0, 0}) os << ", padding=" << tuple_str(options_.padding());
  if (*options_.dilation() != std::array<int64_t, 2>{1, 1}) os << ", dilation=" << tuple_str(options_.dilation());
  if (options_.groups() != 1) os << ", groups=" << options_.groups();
  if (!options_.bias()) os << ", bias=False";
  os << ")";
}

// ---------------------------------------------------------------------------
// Linear
// ---------------------------------------------------------------------------

LinearImpl::LinearImpl(const LinearOptions& o, const InitPolicy& policy)
    : LayerImpl("Linear"), options_(o) {
  require_positive("Linear", "in_features", o.in_features());
  require_positive("Linear", "out_features", o.out_features());
  weight = register_parameter("weight", make_weight({o.out_features(), o.in_features()},
                                                    o.weight_init().value_or(policy.linear_weight),
                                                    policy.enabled));
  if (o.bias()) {
    bias = register_parameter("bias", make_bias(o.out_features(), o.in_features(),
                                                o.bias_init().value_or(policy.linear_bias),
                                                policy.enabled));
  }
}

at::Tensor LinearImpl::forward(const at::Tensor& x) {
  if (x.dim() < 1 || x.size(-1) != options_.in_features()) {
    throw Error("Linear(" + std::to_string(options_.in_features()) + " -> " +
                std::to_string(options_.out_features()) + "): expected input whose last dimension is " +
                std::to_string(options_.in_features()) + ", got shape " + shape_str(x.sizes()));
  }
  if (at::Tensor y = try_inference_kernel(x); y.defined()) return y;
  return at::linear(x, weight, bias);
}

void LinearImpl::pretty_print(std::ostream& os) const {
  os << "Linear(in_features=" << options_.in_features()
     << ", out_features=" << options_.out_features() << ", bias=" << bool_str(options_.bias())
     << ")";
}

// ---------------------------------------------------------------------------
// BatchNorm2d
// ---------------------------------------------------------------------------

BatchNorm2dImpl::BatchNorm2dImpl(const BatchNorm2dOptions& o, const InitPolicy& policy)
    : LayerImpl("BatchNorm2d"), options_(o) {
  require_positive("BatchNorm2d", "num_features", o.num_features());
  if (!(o.eps() > 0)) throw Error("BatchNorm2d: eps must be positive, got " + std::to_string(o.eps()));
  const int64_t c = o.num_features();
  if (o.affine()) {
    weight = register_parameter(
        "weight", make_norm_param({c}, o.weight_init().value_or(policy.norm_weight), policy.enabled, 1.0));
    bias = register_parameter(
        "bias", make_norm_param({c}, o.bias_init().value_or(policy.norm_bias), policy.enabled, 0.0));
  }
  running_mean = register_buffer("running_mean", at::zeros({c}, at::kFloat));
  running_var = register_buffer("running_var", at::ones({c}, at::kFloat));
  num_batches_tracked = register_buffer("num_batches_tracked", at::zeros({}, at::kLong));
}

at::Tensor BatchNorm2dImpl::forward(const at::Tensor& x) {
  if (x.dim() != 4) {
    throw Error("BatchNorm2d: expected a 4D input, got shape " + shape_str(x.sizes()));
  }
  if (x.size(1) != options_.num_features()) {
    throw Error("BatchNorm2d: expected " + std::to_string(options_.num_features()) +
                " channels, got input of shape " + shape_str(x.sizes()));
  }
  if (at::Tensor y = try_inference_kernel(x); y.defined()) return y;
  double factor = 0.0;
  if (is_training()) {
    at::NoGradGuard no_grad;
    num_batches_tracked.add_(1);
    factor = options_.momentum().has_value()
                 ? *options_.momentum()
                 : 1.0 / static_cast<double>(num_batches_tracked.item<int64_t>());
  }
  return at::batch_norm(x, weight, bias, running_mean, running_var, is_training(), factor,
                        options_.eps(), /*cudnn_enabled=*/true);
}

void BatchNorm2dImpl::pretty_print(std::ostream& os) const {
  os << "BatchNorm2d(" << options_.num_features() << ", eps=" << options_.eps() << ", momentum=";
  if (options_.momentum()) {
    os << *options_.momentum();
  } else {
    os << "None";
  }
  os << ", affine=" << bool_str(options_.affine()) << ", track_running_stats=True)";
}

// ---------------------------------------------------------------------------
// LayerNorm
// ---------------------------------------------------------------------------

LayerNormImpl::LayerNormImpl(const LayerNormOptions& o, const InitPolicy& policy)
    : LayerImpl("LayerNorm"), options_(o) {
  if (o.normalized_shape().empty()) throw Error("LayerNorm: normalized_shape must not be empty");
  for (int64_t d : o.normalized_shape()) require_positive("LayerNorm", "normalized_shape", d);
  if (!(o.eps() > 0)) throw Error("LayerNorm: eps must be positive, got " + std::to_string(o.eps()));
  if (o.elementwise_affine()) {
    weight = register_parameter("weight", make_norm_param(o.normalized_shape(),
                                                          o.weight_init().value_or(policy.norm_weight),
                                                          policy.enabled, 1.0));
    bias = register_parameter("bias", make_norm_param(o.normalized_shape(),
                                                      o.bias_init().value_or(policy.norm_bias),
                                                      policy.enabled, 0.0));
  }
}

at::Tensor LayerNormImpl::forward(const at::Tensor& x) {
  const auto& ns = options_.normalized_shape();
  const auto n = static_cast<int64_t>(ns.size());
  bool ok = x.dim() >= n;
  for (int64_t i = 0; ok && i < n; ++i) ok = x.size(x.dim() - n + i) == ns[i];
  if (!ok) {
    throw Error("LayerNorm: expected input ending in " + shape_str(ns) + ", got shape " +
                shape_str(x.sizes()));
  }
  return at::layer_norm(x, ns, weight, bias, options_.eps());
}

void LayerNormImpl::pretty_print(std::ostream& os) const {
  const auto& ns = options_.normalized_shape();
  os << "LayerNorm((";
  for (std::size_t i = 0; i < ns.size(); ++i) os << (i ? ", " : "") << ns[i];
  os << (ns.size() == 1 ? ",)" : ")") << ", eps=" << options_.eps()
     << ", elementwise_affine=" << bool_str(options_.elementwise_affine()) << ")";
}

// ---------------------------------------------------------------------------
// Parameter-free layers
// ---------------------------------------------------------------------------

at::Tensor MaxPool2dImpl::forward(const at::Tensor& x) {
  return at::max_pool2d(x, *options_.kernel_size(), *options_.stride(), *options_.padding(),
                        *options_.dilation(), options_.ceil_mode());
}

void MaxPool2dImpl::pretty_print(std::ostream& os) const {
  os << "MaxPool2d(kernel_size=" << tuple_str(options_.kernel_size())
     << ", stride=" << tuple_str(options_.stride()) << ", padding=" << tuple_str(options_.padding())
     << ", dilation=" << tuple_str(options_.dilation())
     << ", ceil_mode=" << bool_str(options_.ceil_mode()) << ")";
}

at::Tensor AvgPool2dImpl::forward(const at::Tensor& x) {
  return at::avg_pool2d(x, *options_.kernel_size(), *options_.stride(), *options_.padding(),
                        options_.ceil_mode(), options_.count_include_pad());
}

void AvgPool2dImpl::pretty_print(std::ostream& os) const {
  os << "AvgPool2d(kernel_size=" << tuple_str(options_.kernel_size())
     << ", stride=" << tuple_str(options_.stride()) << ", padding=" << tuple_str(options_.padding())
     << ", ceil_mode=" << bool_str(options_.ceil_mode())
     << ", count_include_pad=" << bool_str(options_.count_include_pad()) << ")";
}

at::Tensor AdaptiveAvgPool2dImpl::forward(const at::Tensor& x) {
  return at::adaptive_avg_pool2d(x, *output_size_);
}

void AdaptiveAvgPool2dImpl::pretty_print(std::ostream& os) const {
  os << "AdaptiveAvgPool2d(output_size=" << tuple_str(output_size_) << ")";
}

DropoutImpl::DropoutImpl(double p) : LayerImpl("Dropout"), p_(p) {
  if (!(p >= 0.0 && p <= 1.0)) {
    throw Error("Dropout: probability must be in [0, 1], got " + std::to_string(p));
  }
}

at::Tensor DropoutImpl::forward(const at::Tensor& x) { return at::dropout(x, p_, is_training()); }

void DropoutImpl::pretty_print(std::ostream& os) const { os << "Dropout(p=" << p_ << ")"; }

at::Tensor FlattenImpl::forward(const at::Tensor& x) { return x.flatten(start_dim_, end_dim_); }

void FlattenImpl::pretty_print(std::ostream& os) const {
  os << "Flatten(start_dim=" << start_dim_ << ", end_dim=" << end_dim_ << ")";
}


GELUImpl::GELUImpl(std::string approximate) : LayerImpl("GELU"), approximate_(std::move(approximate)) {
  if (approximate_ != "none" && approximate_ != "tanh") {
    throw Error("GELU: approximate must be 'none' or 'tanh', got '" + approximate_ + "'");
  }
}

at::Tensor GELUImpl::forward(const at::Tensor& x) { return at::gelu(x, approximate_); }
bool GELUImpl::forward_in_place(at::Tensor& x) {
  at::gelu_(x, approximate_);
  return true;
}

void GELUImpl::pretty_print(std::ostream& os) const {
  os << "GELU(approximate='" << approximate_ << "')";
}


#define MODELZOO_ACTIVATION_FORWARD(Name, out_of_place, in_place)             \
  at::Tensor Name##Impl::forward(const at::Tensor& x) { return out_of_place; } \
  bool Name##Impl::forward_in_place(at::Tensor& x) {                          \
    in_place;                                                                  \
    return true;                                                               \
  }

MODELZOO_ACTIVATION_FORWARD(ReLU, at::relu(x), at::relu_(x))
MODELZOO_ACTIVATION_FORWARD(ReLU6, at::hardtanh(x, 0.0, 6.0), at::hardtanh_(x, 0.0, 6.0))
MODELZOO_ACTIVATION_FORWARD(SiLU, at::silu(x), at::silu_(x))
MODELZOO_ACTIVATION_FORWARD(Hardswish, at::hardswish(x), at::hardswish_(x))
MODELZOO_ACTIVATION_FORWARD(Hardsigmoid, at::hardsigmoid(x), at::hardsigmoid_(x))
MODELZOO_ACTIVATION_FORWARD(Sigmoid, at::sigmoid(x), at::sigmoid_(x))
MODELZOO_ACTIVATION_FORWARD(Tanh, at::tanh(x), at::tanh_(x))

#undef MODELZOO_ACTIVATION_FORWARD

at::Tensor IdentityImpl::forward(const at::Tensor& x) { return x; }
bool IdentityImpl::forward_in_place(at::Tensor& /*x*/) { return true; }

}  // namespace modelzoo::models
