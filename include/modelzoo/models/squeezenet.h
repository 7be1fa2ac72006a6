#pragma once
/// \file
/// SqueezeNet 1.0 (Iandola et al., 2016) and 1.1 as torchvision 0.14 builds
/// them: `features` (a stem convolution, ReLU, ceil-mode max pools and Fire
/// modules) and `classifier` (Dropout, a 1x1 convolution to num_classes,
/// ReLU, adaptive 1x1 average pool), then flatten. Parameter names and their
/// order are those of torchvision's state_dict(), so its weight files load as
/// they are.

#include <cstdint>
#include <string>

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/pimpl.h>

#include "modelzoo/models/catalog.h"
#include "modelzoo/models/classifier.h"
#include "modelzoo/models/layers.h"

namespace modelzoo::models {

/// torchvision's Fire module: `squeeze` (1x1) -> ReLU, then the channel
/// concatenation of `expand1x1` (1x1) -> ReLU and `expand3x3` (3x3, padding 1)
/// -> ReLU. Children `squeeze`, `squeeze_activation`, `expand1x1`,
/// `expand1x1_activation`, `expand3x3`, `expand3x3_activation`.
class FireImpl : public LayerImpl {
 public:
  /// Input channels and the width of each branch; the output has
  /// expand1x1_planes + expand3x3_planes channels.
  FireImpl(int64_t inplanes, int64_t squeeze_planes, int64_t expand1x1_planes,
           int64_t expand3x3_planes, const InitPolicy& init);
  /// cat([relu(expand1x1(s)), relu(expand3x3(s))], 1) with s = relu(squeeze(x)).
  at::Tensor forward(const at::Tensor& x) override;

  Conv2d squeeze{nullptr};               ///< 1x1 reduce
  ReLU squeeze_activation{nullptr};      ///< after squeeze
  Conv2d expand1x1{nullptr};             ///< 1x1 branch
  ReLU expand1x1_activation{nullptr};    ///< after expand1x1
  Conv2d expand3x3{nullptr};             ///< 3x3 branch
  ReLU expand3x3_activation{nullptr};    ///< after expand3x3
};
/// Handle of FireImpl.
TORCH_MODULE(Fire);

/// Options of SqueezeNet.
struct SqueezeNetOptions {
  /// `version`: "1_0" or "1_1", as torchvision spells it.
  /* implicit */ SqueezeNetOptions(std::string version = "1_0") : version_(std::move(version)) {}
  /// "1_0" or "1_1".
  TORCH_ARG(std::string, version);
  /// Output channels of the final convolution.
  TORCH_ARG(int64_t, num_classes) = 1000;
  /// Dropout probability before the final convolution.
  TORCH_ARG(double, dropout) = 0.5;
  /// false: parameters stay uninitialised (to be loaded); true: torchvision's
  /// init (kaiming_uniform_ convolutions, normal(0, 0.01) final convolution,
  /// zero biases).
  TORCH_ARG(bool, init_weights) = true;
};

/// SqueezeNet; children `features` and `classifier` as in torchvision.
class SqueezeNetImpl : public ClassifierImpl {
 public:
  /// Builds the network; modelzoo::Error for an unknown version,
  /// num_classes < 1 or dropout outside [0, 1].
  explicit SqueezeNetImpl(const SqueezeNetOptions& options = {});
  /// features -> classifier -> flatten(1). Accepts N x 3 x H x W with H, W at
  /// least min_input_size().
  at::Tensor forward(at::Tensor x) override;
  /// Smallest input height/width the network can pool down: 21 for 1.0, 17 for 1.1.
  int64_t min_input_size() const;
  /// The options it was built with.
  const SqueezeNetOptions& options() const { return options_; }

  Sequential features{nullptr};    ///< stem, pools and Fire modules
  Sequential classifier{nullptr};  ///< dropout, final 1x1 conv, ReLU, global pool

 private:
  SqueezeNetOptions options_;
};
/// Handle of SqueezeNetImpl.
TORCH_MODULE(SqueezeNet);

/// SqueezeNet 1.0, random init unless args.init_weights is false.
/// `args.extra` may hold {"dropout": p}; "image_size" is accepted and has no effect.
SqueezeNet squeezenet1_0(const ArchArgs& args = {});
/// SqueezeNet 1.1 (2.4x less computation than 1.0, same accuracy).
SqueezeNet squeezenet1_1(const ArchArgs& args = {});

}  // namespace modelzoo::models
