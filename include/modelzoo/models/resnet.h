#pragma once
/// \file
/// ResNet (He et al., 2015), ResNeXt (Xie et al., 2016) and Wide ResNet
/// (Zagoruyko & Komodakis, 2016) as torchvision 0.14 builds them:
/// `conv1` (7x7, stride 2) -> `bn1` -> `relu` -> `maxpool` (3x3, stride 2) ->
/// `layer1`..`layer4` (Sequentials of residual blocks) -> `avgpool` (adaptive
/// 1x1) -> flatten -> `fc`. Bottleneck blocks put the stride on the 3x3
/// convolution (ResNet v1.5). ResNeXt is the Bottleneck network with grouped
/// 3x3 convolutions, Wide ResNet the one with doubled bottleneck width.
/// Parameter names and their order are those of torchvision's state_dict(),
/// so its weight files load as they are.
///
/// The builders (resnet18() ... wide_resnet101_2()) accept torchvision's
/// keyword arguments in ArchArgs::extra: {"zero_init_residual": bool,
/// "replace_stride_with_dilation": [b, b, b], "groups": n,
/// "width_per_group": n}; "image_size" is accepted and has no effect (the
/// adaptive pool takes any size). The ResNeXt and Wide ResNet builders fix
/// groups/width_per_group and refuse a different value, as torchvision does.

#include <array>
#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/pimpl.h>

#include "modelzoo/models/catalog.h"
#include "modelzoo/models/classifier.h"
#include "modelzoo/models/layers.h"

namespace modelzoo::models {

/// The residual block a ResNet is made of.
enum class ResNetBlock {
  Basic,       ///< two 3x3 convolutions, expansion 1 (ResNet-18/34)
  Bottleneck,  ///< 1x1, 3x3, 1x1 convolutions, expansion 4 (ResNet-50 and up)
};

/// Options of one residual block (torchvision's BasicBlock/Bottleneck arguments).
struct ResNetBlockOptions {
  /// Required: input channels and the block's base width `planes` (the
  /// output has planes * expansion channels).
  ResNetBlockOptions(int64_t inplanes, int64_t planes) : inplanes_(inplanes), planes_(planes) {}
  /// Input channels.
  TORCH_ARG(int64_t, inplanes);
  /// Base width; the output has planes * expansion channels.
  TORCH_ARG(int64_t, planes);
  /// Stride of the first 3x3 convolution (BasicBlock: conv1, Bottleneck: conv2).
  TORCH_ARG(int64_t, stride) = 1;
  /// Groups of the 3x3 convolution (Bottleneck only; BasicBlock requires 1).
  TORCH_ARG(int64_t, groups) = 1;
  /// Width per group (Bottleneck only; BasicBlock requires 64).
  TORCH_ARG(int64_t, base_width) = 64;
  /// Dilation (and padding) of the 3x3 convolution (Bottleneck only; BasicBlock requires 1).
  TORCH_ARG(int64_t, dilation) = 1;
  /// Initialise the last BatchNorm's weight to zero (torchvision's zero_init_residual).
  TORCH_ARG(bool, zero_init_last_bn) = false;
};

/// torchvision's BasicBlock: conv1 (3x3, stride) -> bn1 -> relu -> conv2 (3x3)
/// -> bn2, plus the identity or `downsample(x)`, then relu. Children `conv1`,
/// `bn1`, `relu`, `conv2`, `bn2`, `downsample` (when given), in that order.
class BasicBlockImpl : public LayerImpl {
 public:
  /// Channel expansion of the block's output (1).
  static constexpr int64_t expansion = 1;
  /// Builds the block; `downsample` (may be empty) maps the input to the
  /// output's shape. modelzoo::Error when groups != 1, base_width != 64 or
  /// dilation > 1, as torchvision.
  BasicBlockImpl(const ResNetBlockOptions& options, Sequential downsample, const InitPolicy& init);
  /// The residual forward.
  at::Tensor forward(const at::Tensor& x) override;

  Conv2d conv1{nullptr};         ///< 3x3, stride
  BatchNorm2d bn1{nullptr};      ///< after conv1
  ReLU relu{nullptr};            ///< shared activation
  Conv2d conv2{nullptr};         ///< 3x3
  BatchNorm2d bn2{nullptr};      ///< after conv2
  Sequential downsample{nullptr};  ///< 1x1 conv + BN, or empty
};
/// Handle of BasicBlockImpl.
TORCH_MODULE(BasicBlock);

/// torchvision's Bottleneck: conv1 (1x1) -> bn1 -> relu -> conv2 (3x3, stride,
/// groups, dilation) -> bn2 -> relu -> conv3 (1x1) -> bn3, plus the identity or
/// `downsample(x)`, then relu. The inner width is
/// int(planes * base_width / 64) * groups. Children `conv1`, `bn1`, `conv2`,
/// `bn2`, `conv3`, `bn3`, `relu`, `downsample` (when given), in that order.
class BottleneckImpl : public LayerImpl {
 public:
  /// Channel expansion of the block's output (4).
  static constexpr int64_t expansion = 4;
  /// Builds the block; `downsample` (may be empty) maps the input to the output's shape.
  BottleneckImpl(const ResNetBlockOptions& options, Sequential downsample, const InitPolicy& init);
  /// The residual forward.
  at::Tensor forward(const at::Tensor& x) override;

  Conv2d conv1{nullptr};           ///< 1x1 reduce
  BatchNorm2d bn1{nullptr};        ///< after conv1
  Conv2d conv2{nullptr};           ///< 3x3, stride, groups, dilation
  BatchNorm2d bn2{nullptr};        ///< after conv2
  Conv2d conv3{nullptr};           ///< 1x1 expand
  BatchNorm2d bn3{nullptr};        ///< after conv3
  ReLU relu{nullptr};              ///< shared activation
  Sequential downsample{nullptr};  ///< 1x1 conv + BN, or empty
};
/// Handle of BottleneckImpl.
TORCH_MODULE(Bottleneck);

/// One flag per stage layer2..layer4 (ResNetOptions::replace_stride_with_dilation).
using ResNetDilationFlags = std::array<bool, 3>;

/// Options of ResNet (torchvision.models.ResNet's constructor arguments).
struct ResNetOptions {
  /// Required: the block type and the number of blocks in each of the four stages.
  ResNetOptions(ResNetBlock block, std::vector<int64_t> layers)
      : block_(block), layers_(std::move(layers)) {}
  /// BasicBlock or Bottleneck.
  TORCH_ARG(ResNetBlock, block);
  /// Blocks per stage; exactly four positive counts.
  TORCH_ARG(std::vector<int64_t>, layers);
  /// Outputs of fc.
  TORCH_ARG(int64_t, num_classes) = 1000;
  /// Zero-initialise the last BatchNorm of every residual branch (only
  /// matters with init_weights).
  TORCH_ARG(bool, zero_init_residual) = false;
  /// Groups of the Bottleneck 3x3 convolutions (ResNeXt: 32 or 64).
  TORCH_ARG(int64_t, groups) = 1;
  /// Width per group (ResNeXt: 4 or 8; Wide ResNet: 128).
  TORCH_ARG(int64_t, width_per_group) = 64;
  /// For layer2..layer4: replace the stride-2 downsampling by a dilated convolution.
  TORCH_ARG(ResNetDilationFlags, replace_stride_with_dilation) = {{false, false, false}};
  /// false: parameters stay uninitialised (to be loaded); true: torchvision's init.
  TORCH_ARG(bool, init_weights) = true;
};

/// ResNet; children `conv1`, `bn1`, `relu`, `maxpool`, `layer1`..`layer4`,
/// `avgpool`, `fc` as in torchvision.
class ResNetImpl : public ClassifierImpl {
 public:
  /// Builds the network; modelzoo::Error for a layers list that is not four
  /// positive counts, num_classes < 1, groups or width_per_group < 1, or a
  /// BasicBlock network with groups != 1 / width_per_group != 64 / dilation.
  explicit ResNetImpl(const ResNetOptions& options);
  /// conv1 -> bn1 -> relu -> maxpool -> layer1..4 -> avgpool -> flatten(1) -> fc.
  /// Accepts N x 3 x H x W of any spatial size >= 1.
  at::Tensor forward(at::Tensor x) override;
  /// The options it was built with.
  const ResNetOptions& options() const { return options_; }

  Conv2d conv1{nullptr};              ///< 7x7 stem, stride 2
  BatchNorm2d bn1{nullptr};           ///< after conv1
  ReLU relu{nullptr};                 ///< stem activation
  MaxPool2d maxpool{nullptr};         ///< 3x3, stride 2, padding 1
  Sequential layer1{nullptr};         ///< 64 planes
  Sequential layer2{nullptr};         ///< 128 planes, stride 2 (or dilation)
  Sequential layer3{nullptr};         ///< 256 planes, stride 2 (or dilation)
  Sequential layer4{nullptr};         ///< 512 planes, stride 2 (or dilation)
  AdaptiveAvgPool2d avgpool{nullptr};  ///< to 1 x 1
  Linear fc{nullptr};                 ///< 512 * expansion -> num_classes

 private:
  Sequential make_layer(int64_t planes, int64_t blocks, int64_t stride, bool dilate,
                        const InitPolicy& init);

  ResNetOptions options_;
  int64_t inplanes_ = 64;
  int64_t dilation_ = 1;
};
/// Handle of ResNetImpl.
TORCH_MODULE(ResNet);

/// ResNet-18 (BasicBlock, [2, 2, 2, 2]).
ResNet resnet18(const ArchArgs& args = {});
/// ResNet-34 (BasicBlock, [3, 4, 6, 3]).
ResNet resnet34(const ArchArgs& args = {});
/// ResNet-50 (Bottleneck, [3, 4, 6, 3]).
ResNet resnet50(const ArchArgs& args = {});
/// ResNet-101 (Bottleneck, [3, 4, 23, 3]).
ResNet resnet101(const ArchArgs& args = {});
/// ResNet-152 (Bottleneck, [3, 8, 36, 3]).
ResNet resnet152(const ArchArgs& args = {});
/// ResNeXt-50 32x4d (Bottleneck, [3, 4, 6, 3], groups 32, width 4).
ResNet resnext50_32x4d(const ArchArgs& args = {});
/// ResNeXt-101 32x8d (Bottleneck, [3, 4, 23, 3], groups 32, width 8).
ResNet resnext101_32x8d(const ArchArgs& args = {});
/// ResNeXt-101 64x4d (Bottleneck, [3, 4, 23, 3], groups 64, width 4).
ResNet resnext101_64x4d(const ArchArgs& args = {});
/// Wide ResNet-50-2 (Bottleneck, [3, 4, 6, 3], width 128).
ResNet wide_resnet50_2(const ArchArgs& args = {});
/// Wide ResNet-101-2 (Bottleneck, [3, 4, 23, 3], width 128).
ResNet wide_resnet101_2(const ArchArgs& args = {});

}  // namespace modelzoo::models
