#pragma once
/// \file
/// BasicConv2d, the unit GoogLeNet and Inception v3 are built from (each
/// torchvision file defines the same class): child `conv` (Conv2d without
/// bias), child `bn` (BatchNorm2d, eps 0.001), then ReLU. Keys read
/// `<name>.conv.weight`, `<name>.bn.weight`, `<name>.bn.running_mean`, ...

#include <ATen/core/Tensor.h>
#include <torch/nn/pimpl.h>

#include "modelzoo/models/layers.h"

namespace modelzoo::models {

/// Conv2d (bias forced off) -> BatchNorm2d(eps=0.001) -> ReLU.
class BasicConv2dImpl : public LayerImpl {
 public:
  /// `conv` gives channels, kernel, stride and padding; its bias flag is
  /// ignored (always False, as torchvision). Parameters per `init`.
  BasicConv2dImpl(const Conv2dOptions& conv, const InitPolicy& init);
  /// relu(bn(conv(x))).
  at::Tensor forward(const at::Tensor& x) override;

  Conv2d conv{nullptr};     ///< the convolution
  BatchNorm2d bn{nullptr};  ///< its normalisation
};
/// Handle of BasicConv2dImpl.
TORCH_MODULE(BasicConv2d);

}  // namespace modelzoo::models
