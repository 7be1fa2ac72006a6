#pragma once
/// \file
/// ShuffleNet v2 (Ma et al., 2018) as torchvision 0.14 builds it: `conv1`
/// (conv 3x3/2, BN, ReLU), `maxpool` (3/2), stages `stage2`..`stage4` of
/// InvertedResidual units (the first of each with stride 2 and two branches,
/// the others splitting the channels in half), `conv5` (1x1, BN, ReLU), the
/// spatial mean and `fc`. Every unit ends with a channel shuffle of 2 groups.
/// torchvision leaves torch.nn's default initialisation in place.

#include <array>
#include <cstdint>

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/pimpl.h>

#include "modelzoo/models/catalog.h"
#include "modelzoo/models/classifier.h"
#include "modelzoo/models/layers.h"

namespace modelzoo::models {

/// torchvision's channel_shuffle: views N x C x H x W as N x groups x C/groups
/// x H x W, swaps the two channel axes and flattens them back. modelzoo::Error
/// unless `x` is 4-D with C divisible by `groups`.
at::Tensor channel_shuffle(const at::Tensor& x, int64_t groups);

/// Units in stage2, stage3, stage4.
using ShuffleNetV2Repeats = std::array<int64_t, 3>;
/// Output channels of conv1, stage2, stage3, stage4 and conv5.
using ShuffleNetV2Channels = std::array<int64_t, 5>;

/// Options of ShuffleNetV2.
struct ShuffleNetV2Options {
  /// Required: units per stage (3 values) and output channels of conv1,
  /// stage2, stage3, stage4 and conv5 (5 values).
  ShuffleNetV2Options(ShuffleNetV2Repeats stages_repeats, ShuffleNetV2Channels stages_out_channels)
      : stages_repeats_(stages_repeats), stages_out_channels_(stages_out_channels) {}
  TORCH_ARG(ShuffleNetV2Repeats, stages_repeats);
  TORCH_ARG(ShuffleNetV2Channels, stages_out_channels);
  TORCH_ARG(int64_t, num_classes) = 1000;
  /// false: parameters stay uninitialised (to be loaded); true: torch.nn's
  /// default initialisation (what torchvision uses).
  TORCH_ARG(bool, init_weights) = true;
};

/// ShuffleNet v2's InvertedResidual: `branch1` (depthwise 3x3, BN, 1x1, BN,
/// ReLU; empty for stride 1) and `branch2` (1x1, BN, ReLU, depthwise 3x3,
/// BN, 1x1, BN, ReLU). Stride 1: the input's first half passes through and
/// the second goes through branch2; stride > 1: both branches see the whole
/// input. The concatenation is channel-shuffled.
class ShuffleNetV2InvertedResidualImpl : public LayerImpl {
 public:
  /// modelzoo::Error for a stride outside 1..3, an odd `oup`, or stride 1
  /// with inp != oup.
  ShuffleNetV2InvertedResidualImpl(int64_t inp, int64_t oup, int64_t stride,
                                   const InitPolicy& init);
  /// See the class comment.
  at::Tensor forward(const at::Tensor& x) override;

  Sequential branch1{nullptr};  ///< empty (no layers) when stride is 1
  Sequential branch2{nullptr};  ///< the main branch

 private:
  int64_t stride_;
};
/// Handle of ShuffleNetV2InvertedResidualImpl.
TORCH_MODULE(ShuffleNetV2InvertedResidual);

/// ShuffleNet v2; children `conv1`, `maxpool`, `stage2`..`stage4`, `conv5`,
/// `fc` as in torchvision.
class ShuffleNetV2Impl : public ClassifierImpl {
 public:
  /// Builds the network; modelzoo::Error for non-positive repeats or
  /// channels, odd stage channels or num_classes < 1.
  explicit ShuffleNetV2Impl(const ShuffleNetV2Options& options);
  /// conv1 -> maxpool -> stage2..4 -> conv5 -> mean over H, W -> fc.
  at::Tensor forward(at::Tensor x) override;
  /// The options it was built with.
  const ShuffleNetV2Options& options() const { return options_; }

  Sequential conv1{nullptr};    ///< stem
  MaxPool2d maxpool{nullptr};   ///< 3 / 2, padding 1
  Sequential stage2{nullptr};   ///< first stage of units
  Sequential stage3{nullptr};   ///< second stage
  Sequential stage4{nullptr};   ///< third stage
  Sequential conv5{nullptr};    ///< 1x1 conv, BN, ReLU
  Linear fc{nullptr};           ///< classifier

 private:
  ShuffleNetV2Options options_;
};
/// Handle of ShuffleNetV2Impl.
TORCH_MODULE(ShuffleNetV2);

/// ShuffleNet v2 x0.5 (stage channels 48, 96, 192), random init unless
/// args.init_weights is false. No extra arguments ("image_size" is accepted
/// and ignored).
ShuffleNetV2 shufflenet_v2_x0_5(const ArchArgs& args = {});
/// ShuffleNet v2 x1.0 (116, 232, 464).
ShuffleNetV2 shufflenet_v2_x1_0(const ArchArgs& args = {});
/// ShuffleNet v2 x1.5 (176, 352, 704).
ShuffleNetV2 shufflenet_v2_x1_5(const ArchArgs& args = {});
/// ShuffleNet v2 x2.0 (244, 488, 976; 2048 channels before fc).
ShuffleNetV2 shufflenet_v2_x2_0(const ArchArgs& args = {});

}  // namespace modelzoo::models
