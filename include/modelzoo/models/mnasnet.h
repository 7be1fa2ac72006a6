#pragma once
/// \file
/// MNASNet B1 (Tan et al., 2018) as torchvision 0.14 builds it: `layers`, an
/// nn.Sequential of a stem (conv 3x3/2, depthwise 3x3, conv 1x1, with
/// BatchNorm and ReLU), six stacks of inverted residuals, a 1x1 convolution
/// to 1280 channels; then the spatial mean and `classifier` = (Dropout,
/// Linear). Every BatchNorm uses momentum 1 - 0.9997. Channel counts scale
/// with `alpha` (depths 32, 16, 24, 40, 80, 96, 192, 320, rounded to
/// multiples of 8).
///
/// torchvision's MNASNet has a state-dict `_version`: version 2 (the current
/// class, and the published mnasnet0_5 / 0_75 / 1_0 / 1_3 weights) scales the
/// stem with alpha; version 1 checkpoints (saved before torchvision 0.5.0)
/// kept a 32/16-channel stem for every alpha. MNASNetOptions::version(1)
/// builds that old stem so such files load; for alpha 1.0 both are the same.

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/pimpl.h>

#include "modelzoo/models/catalog.h"
#include "modelzoo/models/classifier.h"
#include "modelzoo/models/layers.h"

namespace modelzoo::models {

/// Options of MNASNet.
struct MNASNetOptions {
  /// Required: the depth multiplier (> 0).
  /* implicit */ MNASNetOptions(double alpha = 1.0) : alpha_(alpha) {}
  TORCH_ARG(double, alpha);
  TORCH_ARG(int64_t, num_classes) = 1000;
  /// Dropout probability before the Linear layer.
  TORCH_ARG(double, dropout) = 0.2;
  /// Layout of the stem: 2 (current) or 1 (checkpoints saved before
  /// torchvision 0.5.0; differs only for alpha != 1).
  TORCH_ARG(int64_t, version) = 2;
  /// false: parameters stay uninitialised (to be loaded); true: torchvision's
  /// init (kaiming_normal_(fan_out, relu) convolutions, kaiming_uniform_(fan_out,
  /// sigmoid) Linear weight, zero biases).
  TORCH_ARG(bool, init_weights) = true;
};

/// torchvision's mnasnet._get_depths(alpha): the eight channel counts.
std::vector<int64_t> mnasnet_depths(double alpha);

/// MNASNet's _InvertedResidual: child `layers` = Sequential(Conv 1x1,
/// BN, ReLU, depthwise Conv kxk, BN, ReLU, Conv 1x1, BN); adds the input when
/// stride is 1 and channels in == out.
class MNASNetInvertedResidualImpl : public LayerImpl {
 public:
  /// modelzoo::Error for a stride other than 1 or 2, a kernel other than 3
  /// or 5, or non-positive channels / expansion.
  MNASNetInvertedResidualImpl(int64_t in_ch, int64_t out_ch, int64_t kernel_size, int64_t stride,
                              int64_t expansion_factor, double bn_momentum, const InitPolicy& init);
  /// layers(x), plus x for residual blocks.
  at::Tensor forward(const at::Tensor& x) override;
  /// Whether the input is added to the output.
  bool apply_residual() const { return apply_residual_; }

  Sequential layers{nullptr};  ///< the block's layers

 private:
  bool apply_residual_;
};
/// Handle of MNASNetInvertedResidualImpl.
TORCH_MODULE(MNASNetInvertedResidual);

/// MNASNet; children `layers`, `classifier` as in torchvision.
class MNASNetImpl : public ClassifierImpl {
 public:
  /// Builds the network; modelzoo::Error for alpha <= 0, num_classes < 1,
  /// dropout outside [0, 1] or a version other than 1 or 2.
  explicit MNASNetImpl(const MNASNetOptions& options = {});
  /// layers -> mean over H, W -> classifier.
  at::Tensor forward(at::Tensor x) override;
  /// The options it was built with.
  const MNASNetOptions& options() const { return options_; }

  Sequential layers{nullptr};      ///< convolutional trunk (17 children)
  Sequential classifier{nullptr};  ///< Dropout, Linear

 private:
  MNASNetOptions options_;
};
/// Handle of MNASNetImpl.
TORCH_MODULE(MNASNet);

/// MNASNet with depth multiplier 0.5, random init unless args.init_weights
/// is false. `args.extra` may hold {"dropout": p, "version": 1 or 2};
/// "image_size" is accepted and ignored.
MNASNet mnasnet0_5(const ArchArgs& args = {});
/// MNASNet with depth multiplier 0.75.
MNASNet mnasnet0_75(const ArchArgs& args = {});
/// MNASNet with depth multiplier 1.0.
MNASNet mnasnet1_0(const ArchArgs& args = {});
/// MNASNet with depth multiplier 1.3.
MNASNet mnasnet1_3(const ArchArgs& args = {});

}  // namespace modelzoo::models
