#pragma once
/// \file
/// DenseNet-BC (Huang et al., 2016) as torchvision 0.14 builds it: `features`
/// (conv0 7x7/2, norm0, relu0, pool0, then dense blocks `denseblock1`..4
/// separated by `transition1`..3, and a final `norm5`), then ReLU, adaptive
/// 1x1 average pool, flatten and `classifier` (Linear). Parameter names and
/// their order are those of torchvision's state_dict().
///
/// The published weight files predate a PyTorch rule against dots in module
/// names and call a dense layer's parameters `norm.1`, `conv.2`, ... where the
/// model has `norm1`, `conv2`: the catalog's key renames for these
/// architectures (densenet_key_renames()) turn the old names into the new
/// ones, as torchvision's _load_state_dict does.
///
/// The builders (densenet121() ... densenet201()) accept torchvision's
/// keyword arguments in ArchArgs::extra: {"drop_rate": p, "bn_size": n,
/// "memory_efficient": false}; "memory_efficient": true (gradient
/// checkpointing, a training-memory saving) is refused as not supported.
/// "image_size" is accepted and has no effect.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/pimpl.h>

#include "modelzoo/models/catalog.h"
#include "modelzoo/models/classifier.h"
#include "modelzoo/models/layers.h"

namespace modelzoo::models {

/// torchvision's _DenseLayer: the concatenation of every earlier feature map
/// -> norm1 -> relu1 -> conv1 (1x1, bn_size * growth_rate) -> norm2 -> relu2 ->
/// conv2 (3x3, growth_rate) -> dropout (training only, when drop_rate > 0).
class DenseLayerImpl : public torch::nn::Module {
 public:
  /// `num_input_features` is the channel count of the concatenated inputs.
  DenseLayerImpl(int64_t num_input_features, int64_t growth_rate, int64_t bn_size,
                 double drop_rate, const InitPolicy& init);
  /// The new `growth_rate` feature maps from all earlier ones.
  at::Tensor forward(const std::vector<at::Tensor>& inputs);

  BatchNorm2d norm1{nullptr};  ///< over the concatenated inputs
  ReLU relu1{nullptr};         ///< after norm1
  Conv2d conv1{nullptr};       ///< 1x1 bottleneck
  BatchNorm2d norm2{nullptr};  ///< after conv1
  ReLU relu2{nullptr};         ///< after norm2
  Conv2d conv2{nullptr};       ///< 3x3, growth_rate outputs

 private:
  double drop_rate_;
};
/// Handle of DenseLayerImpl.
TORCH_MODULE(DenseLayer);

/// torchvision's _DenseBlock: children `denselayer1`..`denselayerN`; each
/// layer sees the block input and every earlier layer's output, and the
/// block returns all of them concatenated along channels.
class DenseBlockImpl : public LayerImpl {
 public:
  /// `num_layers` layers on `num_input_features` input channels; the output
  /// has num_input_features + num_layers * growth_rate channels.
  DenseBlockImpl(int64_t num_layers, int64_t num_input_features, int64_t bn_size,
                 int64_t growth_rate, double drop_rate, const InitPolicy& init);
  /// cat([x, layer1([x]), layer2([x, l1]), ...], 1).
  at::Tensor forward(const at::Tensor& x) override;
  /// The layers in order.
  const std::vector<DenseLayer>& layers() const { return layers_; }

 private:
  std::vector<DenseLayer> layers_;
};
/// Handle of DenseBlockImpl.
TORCH_MODULE(DenseBlock);

/// torchvision's _Transition: `norm` -> `relu` -> `conv` (1x1) -> `pool`
/// (2x2 average, stride 2).
class TransitionImpl : public LayerImpl {
 public:
  /// Maps num_input_features channels to num_output_features at half the resolution.
  TransitionImpl(int64_t num_input_features, int64_t num_output_features, const InitPolicy& init);
  /// pool(conv(relu(norm(x)))).
  at::Tensor forward(const at::Tensor& x) override;

  BatchNorm2d norm{nullptr};  ///< over the input
  ReLU relu{nullptr};         ///< after norm
  Conv2d conv{nullptr};       ///< 1x1 compression
  AvgPool2d pool{nullptr};    ///< 2x2, stride 2
};
/// Handle of TransitionImpl.
TORCH_MODULE(Transition);

/// One dense block size per stage (four stages in every torchvision DenseNet).
using DenseNetBlockConfig = std::vector<int64_t>;

/// Options of DenseNet (torchvision.models.DenseNet's constructor arguments).
struct DenseNetOptions {
  /// Feature maps each dense layer adds (`k` in the paper).
  TORCH_ARG(int64_t, growth_rate) = 32;
  /// Dense layers per block (any number of blocks >= 1).
  TORCH_ARG(DenseNetBlockConfig, block_config) = DenseNetBlockConfig{6, 12, 24, 16};
  /// Output channels of conv0.
  TORCH_ARG(int64_t, num_init_features) = 64;
  /// Bottleneck width factor: conv1 has bn_size * growth_rate outputs.
  TORCH_ARG(int64_t, bn_size) = 4;
  /// Dropout after each dense layer (training only).
  TORCH_ARG(double, drop_rate) = 0.0;
  /// Outputs of the classifier.
  TORCH_ARG(int64_t, num_classes) = 1000;
  /// false: parameters stay uninitialised (to be loaded); true: torchvision's
  /// init (kaiming_normal_ convolutions, BatchNorm ones/zeros, zero Linear bias).
  TORCH_ARG(bool, init_weights) = true;
};

/// DenseNet; children `features` (a Sequential with named children) and `classifier`.
class DenseNetImpl : public ClassifierImpl {
 public:
  /// Builds the network; modelzoo::Error for non-positive sizes, an empty
  /// block_config, num_classes < 1 or drop_rate outside [0, 1].
  explicit DenseNetImpl(const DenseNetOptions& options = {});
  /// features -> relu -> adaptive 1x1 average pool -> flatten(1) -> classifier.
  /// Accepts N x 3 x H x W with H, W at least min_input_size().
  at::Tensor forward(at::Tensor x) override;
  /// Smallest input height/width the network can pool down (29 with four blocks).
  int64_t min_input_size() const;
  /// The options it was built with.
  const DenseNetOptions& options() const { return options_; }

  Sequential features{nullptr};  ///< conv0 .. norm5
  Linear classifier{nullptr};    ///< num_features -> num_classes

 private:
  DenseNetOptions options_;
};
/// Handle of DenseNetImpl.
TORCH_MODULE(DenseNet);

/// The key renames the published DenseNet files need (ArchInfo::key_renames):
/// `...denselayerN.norm.1.weight` -> `...denselayerN.norm1.weight`, likewise
/// for relu/conv and 1/2, for weight, bias, running_mean and running_var
/// (torchvision's _load_state_dict pattern).
std::vector<std::pair<std::string, std::string>> densenet_key_renames();

/// DenseNet-121 (growth 32, blocks [6, 12, 24, 16], 64 initial features).
DenseNet densenet121(const ArchArgs& args = {});
/// DenseNet-161 (growth 48, blocks [6, 12, 36, 24], 96 initial features).
DenseNet densenet161(const ArchArgs& args = {});
/// DenseNet-169 (growth 32, blocks [6, 12, 32, 32], 64 initial features).
DenseNet densenet169(const ArchArgs& args = {});
/// DenseNet-201 (growth 32, blocks [6, 12, 48, 32], 64 initial features).
DenseNet densenet201(const ArchArgs& args = {});

}  // namespace modelzoo::models
