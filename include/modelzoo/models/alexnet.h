#pragma once
/// \file
/// AlexNet (Krizhevsky, 2014, "One weird trick...") as torchvision 0.14 builds
/// it: `features` (five convolutions with ReLU, three 3x3/stride-2 max pools),
/// `avgpool` (adaptive 6x6), flatten, then `classifier` (Dropout, Linear
/// 9216->4096, ReLU, Dropout, Linear 4096->4096, ReLU, Linear
/// 4096->num_classes). Parameter names and their order are those of
/// torchvision's state_dict(), so its weight files load as they are.

#include <cstdint>

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/pimpl.h>

#include "modelzoo/models/catalog.h"
#include "modelzoo/models/classifier.h"
#include "modelzoo/models/layers.h"

namespace modelzoo::models {

/// Options of AlexNet.
struct AlexNetOptions {
  /// Outputs of the last Linear layer.
  TORCH_ARG(int64_t, num_classes) = 1000;
  /// Dropout probability in the classifier.
  TORCH_ARG(double, dropout) = 0.5;
  /// false: parameters stay uninitialised (to be loaded); true: torch.nn's
  /// default initialisation (torchvision adds no scheme of its own).
  TORCH_ARG(bool, init_weights) = true;
};

/// AlexNet; children `features`, `avgpool`, `classifier` as in torchvision.
class AlexNetImpl : public ClassifierImpl {
 public:
  /// Builds the network; modelzoo::Error for num_classes < 1 or dropout
  /// outside [0, 1].
  explicit AlexNetImpl(const AlexNetOptions& options = {});
  /// features -> avgpool -> flatten(1) -> classifier. Accepts N x 3 x H x W
  /// with H, W >= 63 (smaller inputs pool down to nothing).
  at::Tensor forward(at::Tensor x) override;
  /// The options it was built with.
  const AlexNetOptions& options() const { return options_; }

  Sequential features{nullptr};        ///< convolutional trunk
  AdaptiveAvgPool2d avgpool{nullptr};  ///< to 6 x 6
  Sequential classifier{nullptr};      ///< the three linear layers

 private:
  AlexNetOptions options_;
};
/// Handle of AlexNetImpl.
TORCH_MODULE(AlexNet);

/// AlexNet, random init unless args.init_weights is false. `args.extra` may
/// hold {"dropout": p}; "image_size" is accepted and has no effect.
AlexNet alexnet(const ArchArgs& args = {});

}  // namespace modelzoo::models
