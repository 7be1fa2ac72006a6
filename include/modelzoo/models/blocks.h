#pragma once
/// \file
/// Composite blocks that several torchvision families share, built on the
/// layers of layers.h and named as torchvision.ops names them:
///
/// | block                | torchvision                        | used by (torchvision)                    |
/// |----------------------|------------------------------------|------------------------------------------|
/// | Conv2dNormActivation | ops.misc.Conv2dNormActivation      | EfficientNet, RegNet, ConvNeXt, MobileNet, MaxViT, ... |
/// | SqueezeExcitation    | ops.misc.SqueezeExcitation         | EfficientNet, RegNet-Y, MobileNet v3, MaxViT |
/// | StochasticDepth      | ops.StochasticDepth                | EfficientNet, ConvNeXt, Swin, MaxViT     |
/// | LayerNorm2d          | models.convnext.LayerNorm2d        | ConvNeXt (and MaxViT's own copy)         |
/// | Permute              | ops.misc.Permute                   | ConvNeXt, Swin                           |
/// | MLP                  | ops.misc.MLP                       | ViT (MLPBlock), Swin, MaxViT             |
///
/// torchvision passes layer *constructors* around (`norm_layer=partial(
/// nn.BatchNorm2d, eps=1e-3)`, `activation_layer=nn.SiLU`); here the same role
/// is played by two small function types, NormFactory and ActivationFactory,
/// with helpers for the common cases:
/// \code
///   InitPolicy init = ...;
///   Conv2dNormActivation stem(Conv2dNormActivationOptions(3, 32, 3)
///                                 .stride(2)
///                                 .norm(batch_norm2d_factory(1e-3))
///                                 .activation(activation_factory<SiLU>()),
///                             init);
///   // children "0" (Conv2d), "1" (BatchNorm2d), "2" (SiLU): keys stem.0.weight, stem.1.running_mean, ...
/// \endcode
/// An empty factory (nullptr) means "no such layer", as None does in Python.

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>
#include <torch/arg.h>
#include <torch/expanding_array.h>
#include <torch/nn/pimpl.h>

#include "modelzoo/models/layers.h"

namespace modelzoo::models {

// ---------------------------------------------------------------------------
// Layer factories (torchvision's norm_layer / activation_layer callables)
// ---------------------------------------------------------------------------

/// Makes a normalisation layer for `channels` features, allocating its
/// parameters per `policy` (Python: `norm_layer(channels)`).
using NormFactory = std::function<LayerPtr(int64_t channels, const InitPolicy& policy)>;
/// Makes an activation layer (Python: `activation_layer()`).
using ActivationFactory = std::function<LayerPtr()>;

/// nn.BatchNorm2d with the given eps and momentum
/// (`partial(nn.BatchNorm2d, eps=..., momentum=...)`).
NormFactory batch_norm2d_factory(double eps = 1e-5, c10::optional<double> momentum = 0.1);
/// nn.LayerNorm over the last dimension (`partial(nn.LayerNorm, eps=...)`).
NormFactory layer_norm_factory(double eps = 1e-5);
/// LayerNorm2d, i.e. LayerNorm over the channels of an N x C x H x W tensor
/// (`partial(LayerNorm2d, eps=...)`).
NormFactory layer_norm2d_factory(double eps = 1e-5);

/// A factory for a default-constructible layer handle: activation_factory<SiLU>(),
/// activation_factory<ReLU>(), activation_factory<GELU>() (exact GELU), ...
template <typename Holder>
ActivationFactory activation_factory() {
  return [] { return LayerPtr(Holder().ptr()); };
}

// ---------------------------------------------------------------------------
// Conv2dNormActivation
// ---------------------------------------------------------------------------

/// Options of Conv2dNormActivation; defaults as torchvision's (kernel 3,
/// stride 1, "same"-style padding, BatchNorm2d, ReLU, bias only without norm).
struct Conv2dNormActivationOptions {
  /// Required: channels in/out; kernel size defaults to 3.
  Conv2dNormActivationOptions(int64_t in_channels, int64_t out_channels,
                              torch::ExpandingArray<2> kernel_size = 3)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(torch::ExpandingArray<2>, kernel_size);
  TORCH_ARG(torch::ExpandingArray<2>, stride) = 1;
  /// nullopt: (kernel_size - 1) / 2 * dilation per dimension, as torchvision.
  TORCH_ARG(c10::optional<torch::ExpandingArray<2>>, padding) = c10::nullopt;
  TORCH_ARG(int64_t, groups) = 1;
  TORCH_ARG(torch::ExpandingArray<2>, dilation) = 1;
  /// nullopt: a bias exactly when there is no norm layer.
  TORCH_ARG(c10::optional<bool>, bias) = c10::nullopt;
  /// Normalisation after the convolution; nullptr for none.
  TORCH_ARG(NormFactory, norm) = batch_norm2d_factory();
  /// Activation after the normalisation; nullptr for none.
  TORCH_ARG(ActivationFactory, activation) = activation_factory<ReLU>();
};

/// torchvision.ops.Conv2dNormActivation: an nn.Sequential of Conv2d, then the
/// norm layer (if any), then the activation (if any), named "0", "1", "2" in
/// that order (so without a norm layer the activation is "1").
class Conv2dNormActivationImpl : public LayerImpl {
 public:
  /// Builds the layers; `policy` initialises the convolution and the norm
  /// layer. modelzoo::Error for invalid sizes (see Conv2d).
  Conv2dNormActivationImpl(const Conv2dNormActivationOptions& options, const InitPolicy& policy);
  /// conv -> norm -> activation.
  at::Tensor forward(const at::Tensor& x) override;
  /// The options it was built with.
  const Conv2dNormActivationOptions& options() const { return options_; }
  /// out_channels, as the Python attribute of the same name.
  int64_t out_channels() const { return options_.out_channels(); }

  Conv2d conv{nullptr};  ///< child "0"
  LayerPtr norm;         ///< child "1", null without a norm layer
  LayerPtr activation;   ///< the last child, null without an activation

 private:
  Conv2dNormActivationOptions options_;
};
/// Handle of Conv2dNormActivationImpl.
TORCH_MODULE(Conv2dNormActivation);

// ---------------------------------------------------------------------------
// SqueezeExcitation
// ---------------------------------------------------------------------------

/// Options of SqueezeExcitation (Hu et al., 2017).
struct SqueezeExcitationOptions {
  /// Required: channels of the input and of the squeezed representation.
  SqueezeExcitationOptions(int64_t input_channels, int64_t squeeze_channels)
      : input_channels_(input_channels), squeeze_channels_(squeeze_channels) {}
  TORCH_ARG(int64_t, input_channels);
  TORCH_ARG(int64_t, squeeze_channels);
  /// delta (between fc1 and fc2); torchvision's default ReLU, EfficientNet uses SiLU.
  TORCH_ARG(ActivationFactory, activation) = activation_factory<ReLU>();
  /// sigma (the gate); default Sigmoid, MobileNet v3 uses Hardsigmoid.
  TORCH_ARG(ActivationFactory, scale_activation) = activation_factory<Sigmoid>();
};

/// torchvision.ops.SqueezeExcitation: children `avgpool` (AdaptiveAvgPool2d(1)),
/// `fc1` (1x1 Conv2d input->squeeze, bias), `fc2` (1x1 Conv2d squeeze->input,
/// bias), `activation`, `scale_activation`; forward(x) =
/// scale_activation(fc2(activation(fc1(avgpool(x))))) * x.
class SqueezeExcitationImpl : public LayerImpl {
 public:
  /// Builds the block; `policy` initialises fc1 and fc2 (as Conv2d layers).
  /// modelzoo::Error when a channel count is not positive or a factory is empty.
  SqueezeExcitationImpl(const SqueezeExcitationOptions& options, const InitPolicy& policy);
  /// Rescales the channels of an N x C x H x W input.
  at::Tensor forward(const at::Tensor& x) override;
  /// x *= the scale (inside a Sequential, on the layer before's output).
  bool forward_in_place(at::Tensor& x) override;
  /// The options it was built with.
  const SqueezeExcitationOptions& options() const { return options_; }

  AdaptiveAvgPool2d avgpool{nullptr};  ///< global average pool
  Conv2d fc1{nullptr};                 ///< squeeze
  Conv2d fc2{nullptr};                 ///< excite
  LayerPtr activation;                 ///< delta
  LayerPtr scale_activation;           ///< sigma

 private:
  at::Tensor scale(const at::Tensor& x);  // sigmoid(fc2(act(fc1(pool(x))))), after checking x

  SqueezeExcitationOptions options_;
};
/// Handle of SqueezeExcitationImpl.
TORCH_MODULE(SqueezeExcitation);

// ---------------------------------------------------------------------------
// StochasticDepth
// ---------------------------------------------------------------------------

/// torchvision.ops.StochasticDepth (Huang et al., 2016): in training mode
/// zeroes the whole input ("batch") or whole samples ("row") with probability
/// p and scales survivors by 1 / (1 - p); identity in eval mode or when p == 0.
class StochasticDepthImpl : public LayerImpl {
 public:
  /// `p` in [0, 1] and `mode` "batch" or "row"; modelzoo::Error otherwise.
  StochasticDepthImpl(double p, std::string mode);
  /// Applies stochastic depth (training) or returns x (eval).
  at::Tensor forward(const at::Tensor& x) override;
  /// Python-style description, "StochasticDepth(p=0.1, mode=row)".
  void pretty_print(std::ostream& stream) const override;
  /// The drop probability.
  double p() const { return p_; }
  /// "batch" or "row".
  const std::string& mode() const { return mode_; }

 private:
  double p_;
  std::string mode_;
};
/// Handle of StochasticDepthImpl.
TORCH_MODULE(StochasticDepth);

// ---------------------------------------------------------------------------
// LayerNorm2d, Permute
// ---------------------------------------------------------------------------

/// torchvision.models.convnext.LayerNorm2d: nn.LayerNorm((C,)) applied over
/// the channel dimension of an N x C x H x W tensor (permute to NHWC,
/// layer_norm, permute back). Parameters `weight`, `bias` of shape [C].
class LayerNorm2dImpl : public LayerNormImpl {
 public:
  /// LayerNorm over `channels` with `eps`; parameters per `policy`.
  LayerNorm2dImpl(int64_t channels, double eps, const InitPolicy& policy);
  /// Normalises each pixel's channel vector; checks that x is 4-D with C channels.
  at::Tensor forward(const at::Tensor& x) override;
  /// Python-style description.
  void pretty_print(std::ostream& stream) const override;
};
/// Handle of LayerNorm2dImpl.
TORCH_MODULE(LayerNorm2d);

/// torchvision.ops.misc.Permute: x.permute(dims).
class PermuteImpl : public LayerImpl {
 public:
  /// The permutation; modelzoo::Error unless it is a permutation of 0..n-1.
  explicit PermuteImpl(std::vector<int64_t> dims);
  /// x.permute(dims); modelzoo::Error when x has another number of dimensions.
  at::Tensor forward(const at::Tensor& x) override;
  /// Python-style description.
  void pretty_print(std::ostream& stream) const override;

 private:
  std::vector<int64_t> dims_;
};
/// Handle of PermuteImpl.
TORCH_MODULE(Permute);

// ---------------------------------------------------------------------------
// MLP
// ---------------------------------------------------------------------------

/// Options of MLP.
struct MLPOptions {
  /// Required: input features and the width of every Linear layer in order
  /// (the last one is the output width).
  MLPOptions(int64_t in_channels, std::vector<int64_t> hidden_channels)
      : in_channels_(in_channels), hidden_channels_(std::move(hidden_channels)) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(std::vector<int64_t>, hidden_channels);
  /// Norm after each hidden Linear; nullptr (the default) for none.
  TORCH_ARG(NormFactory, norm) = nullptr;
  /// Activation after each hidden Linear (and its norm).
  TORCH_ARG(ActivationFactory, activation) = activation_factory<ReLU>();
  TORCH_ARG(bool, bias) = true;
  /// Probability of every Dropout layer.
  TORCH_ARG(double, dropout) = 0.0;
};

/// torchvision.ops.MLP, an nn.Sequential: for each hidden width but the last,
/// Linear, [norm], activation, Dropout; then Linear to the last width and
/// Dropout. Children are numbered "0", "1", ... as in Python, so ViT's
/// `mlp.0.weight` / `mlp.3.weight` keys come out right.
class MLPImpl : public SequentialImpl {
 public:
  /// Builds the layers; `policy` initialises Linear and norm layers.
  /// modelzoo::Error when hidden_channels is empty or dropout is outside [0, 1].
  MLPImpl(const MLPOptions& options, const InitPolicy& policy);
  /// The options it was built with.
  const MLPOptions& options() const { return options_; }

 private:
  MLPOptions options_;
};
/// Handle of MLPImpl.
TORCH_MODULE(MLP);

}  // namespace modelzoo::models
