#pragma once
/// \file
/// VGG (Simonyan & Zisserman, 2014) as torchvision 0.14 builds it:
/// `features` (3x3 convolutions, optionally each followed by BatchNorm, with
/// ReLU and 2x2 max pooling), `avgpool` (adaptive 7x7), flatten, then
/// `classifier` (Linear 25088->4096, ReLU, Dropout, Linear 4096->4096, ReLU,
/// Dropout, Linear 4096->num_classes). Parameter names and their order are
/// those of torchvision's state_dict(), so its weight files load as they are.

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/pimpl.h>

#include "modelzoo/models/catalog.h"
#include "modelzoo/models/classifier.h"
#include "modelzoo/models/layers.h"

namespace modelzoo::models {

/// Options of VGG.
struct VGGOptions {
  /// `cfg`: "A" (VGG-11), "B" (VGG-13), "D" (VGG-16) or "E" (VGG-19).
  /* implicit */ VGGOptions(std::string cfg = "A") : cfg_(std::move(cfg)) {}
  TORCH_ARG(std::string, cfg);
  /// BatchNorm2d after every convolution (the *_bn variants).
  TORCH_ARG(bool, batch_norm) = false;
  TORCH_ARG(int64_t, num_classes) = 1000;
  /// Dropout probability in the classifier.
  TORCH_ARG(double, dropout) = 0.5;
  /// false: parameters stay uninitialised (to be loaded); true: torchvision's init.
  TORCH_ARG(bool, init_weights) = true;
};

/// VGG; children `features`, `avgpool`, `classifier` as in torchvision.
class VGGImpl : public ClassifierImpl {
 public:
  /// Builds the network; modelzoo::Error for an unknown cfg, num_classes < 1
  /// or dropout outside [0, 1].
  explicit VGGImpl(const VGGOptions& options);
  /// features -> avgpool -> flatten(1) -> classifier. Accepts N x 3 x H x W
  /// with H, W >= 32 (the adaptive pool makes any such size work).
  at::Tensor forward(at::Tensor x) override;
  /// The options it was built with.
  const VGGOptions& options() const { return options_; }

  Sequential features{nullptr};          ///< convolutional trunk
  AdaptiveAvgPool2d avgpool{nullptr};    ///< to 7 x 7
  Sequential classifier{nullptr};        ///< the three linear layers

 private:
  VGGOptions options_;
};
/// Handle of VGGImpl.
TORCH_MODULE(VGG);

/// The layer list of a configuration: channel counts, with -1 for max pooling
/// ("M" in torchvision's table). modelzoo::Error for an unknown name.
const std::vector<int64_t>& vgg_config(const std::string& cfg);

/// VGG-11 (cfg "A"), random init unless args.init_weights is false.
/// `args.extra` may hold {"dropout": p} (a number, else modelzoo::Error);
/// other keys (the hub's "image_size") are ignored, as ArchArgs specifies.
/// The other builders take the same arguments.
VGG vgg11(const ArchArgs& args = {});
/// VGG-11 with batch normalisation.
VGG vgg11_bn(const ArchArgs& args = {});
/// VGG-13 (cfg "B").
VGG vgg13(const ArchArgs& args = {});
/// VGG-13 with batch normalisation.
VGG vgg13_bn(const ArchArgs& args = {});
/// VGG-16 (cfg "D").
VGG vgg16(const ArchArgs& args = {});
/// VGG-16 with batch normalisation.
VGG vgg16_bn(const ArchArgs& args = {});
/// VGG-19 (cfg "E").
VGG vgg19(const ArchArgs& args = {});
/// VGG-19 with batch normalisation.
VGG vgg19_bn(const ArchArgs& args = {});

}  // namespace modelzoo::models
