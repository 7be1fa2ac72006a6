#pragma once
/// \file
/// The detection layers of torchvision.ops, built on modelzoo's layers
/// (models/layers.h, models/blocks.h) so that their state_dict names are
/// torchvision's: FrozenBatchNorm2d, and FeaturePyramidNetwork (Lin et al.,
/// 2017) with its extra blocks LastLevelMaxPool and LastLevelP6P7.

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/pimpl.h>

#include "modelzoo/models/blocks.h"
#include "modelzoo/models/layers.h"
#include "modelzoo/ops/roi_align.h"

namespace modelzoo::ops {

/// torchvision.ops.FrozenBatchNorm2d: BatchNorm2d whose statistics and affine
/// parameters are fixed buffers `weight`, `bias`, `running_mean`,
/// `running_var` (no num_batches_tracked); forward is
/// x * (weight * rsqrt(running_var + eps)) + (bias - running_mean * scale)
/// in training and eval alike.
class FrozenBatchNorm2dImpl : public models::LayerImpl {
 public:
  /// Buffers ones / zeros / zeros / ones of size `num_features`.
  explicit FrozenBatchNorm2dImpl(int64_t num_features, double eps = 1e-5);
  /// The frozen affine transform (or the installed inference kernel: the
  /// identity when it is folded into the convolution before it);
  /// modelzoo::Error when the channels differ.
  at::Tensor forward(const at::Tensor& x) override;
  /// Python-style description.
  void pretty_print(std::ostream& stream) const override;
  /// eps (torchvision's overwrite_eps sets it to 0 for some legacy weights).
  double eps() const { return eps_; }
  /// Sets eps.
  void set_eps(double eps) { eps_ = eps; }

  at::Tensor weight;        ///< [C]
  at::Tensor bias;          ///< [C]
  at::Tensor running_mean;  ///< [C]
  at::Tensor running_var;   ///< [C]

 private:
  double eps_;
};
/// Handle of FrozenBatchNorm2dImpl.
TORCH_MODULE(FrozenBatchNorm2d);

/// A NormFactory making FrozenBatchNorm2d layers (`norm_layer=FrozenBatchNorm2d`).
models::NormFactory frozen_batch_norm2d_factory(double eps = 1e-5);

/// Sets eps of every FrozenBatchNorm2d inside `module` (torchvision's
/// detection._utils.overwrite_eps).
void overwrite_eps(torch::nn::Module& module, double eps);

/// The block FeaturePyramidNetwork appends after its outputs.
enum class ExtraFPNBlock {
  None,         ///< nothing
  LastLevelMaxPool,  ///< "pool": max_pool2d(last output, 1, stride 2)
  LastLevelP6P7,     ///< "p6", "p7": two stride-2 3x3 convolutions (RetinaNet, FCOS)
};

/// Options of FeaturePyramidNetwork.
struct FeaturePyramidNetworkOptions {
  /// Required: channels of each input level (in order) and the output channels.
  FeaturePyramidNetworkOptions(std::vector<int64_t> in_channels_list, int64_t out_channels)
      : in_channels_list_(std::move(in_channels_list)), out_channels_(out_channels) {}
  TORCH_ARG(std::vector<int64_t>, in_channels_list);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(ExtraFPNBlock, extra_block) = ExtraFPNBlock::LastLevelMaxPool;
  /// LastLevelP6P7's input channels (the last backbone level's, or out_channels to start from P5).
  TORCH_ARG(int64_t, p6p7_in_channels) = 256;
  /// Norm after every convolution (nullptr: none, convolutions with bias).
  TORCH_ARG(models::NormFactory, norm) = nullptr;
};

/// torchvision.ops.LastLevelP6P7: children `p6`, `p7` (3x3, stride 2, padding 1).
class LastLevelP6P7Impl : public torch::nn::Module {
 public:
  /// kaiming_uniform_(a=1) weights and zero biases when `policy.enabled`.
  LastLevelP6P7Impl(int64_t in_channels, int64_t out_channels, const models::InitPolicy& policy);
  /// Appends p6 = p6(P5 or C5) and p7 = p7(relu(p6)).
  void forward(FeatureMaps& results, const at::Tensor& c5);

  models::Conv2d p6{nullptr};  ///< first extra level
  models::Conv2d p7{nullptr};  ///< second extra level

 private:
  bool use_p5_;
};
/// Handle of LastLevelP6P7Impl.
TORCH_MODULE(LastLevelP6P7);

/// torchvision.ops.FeaturePyramidNetwork: children `inner_blocks` (1x1
/// lateral Conv2dNormActivation per level), `layer_blocks` (3x3 output
/// Conv2dNormActivation per level) and, for P6P7, `extra_blocks`. Weights
/// kaiming_uniform_(a=1), biases zero when initialised.
class FeaturePyramidNetworkImpl : public torch::nn::Module {
 public:
  /// modelzoo::Error for an empty or non-positive channel list.
  FeaturePyramidNetworkImpl(const FeaturePyramidNetworkOptions& options, const models::InitPolicy& policy);
  /// Top-down pathway over the levels of `x` (as many as in_channels_list),
  /// keeping their names, then the extra block's levels.
  FeatureMaps forward(const FeatureMaps& x);
  /// The options it was built with.
  const FeaturePyramidNetworkOptions& options() const { return options_; }

  models::Sequential inner_blocks{nullptr};  ///< lateral 1x1 blocks (nn.ModuleList)
  models::Sequential layer_blocks{nullptr};  ///< output 3x3 blocks (nn.ModuleList)
  LastLevelP6P7 extra_blocks{nullptr};       ///< only for ExtraFPNBlock::LastLevelP6P7

 private:
  FeaturePyramidNetworkOptions options_;
};
/// Handle of FeaturePyramidNetworkImpl.
TORCH_MODULE(FeaturePyramidNetwork);

/// Key renames for weight files saved before torchvision 0.13's FPN layout
/// (`fpn.inner_blocks.0.weight` -> `fpn.inner_blocks.0.0.weight`), as
/// {regex, replacement} pairs for state_dict::RenameRule.
std::vector<std::pair<std::string, std::string>> fpn_legacy_key_renames();

}  // namespace modelzoo::ops
