#pragma once
/// \file
/// ConvNeXt (Liu et al., 2022) tiny/small/base/large as torchvision 0.14
/// builds them: `features` = [stem Conv2dNormActivation(3 -> C0, 4x4 stride 4,
/// LayerNorm2d, bias), then per stage a Sequential of CNBlocks followed (except
/// after the last stage) by a downsampling Sequential(LayerNorm2d, Conv2d 2x2
/// stride 2)], `avgpool` (adaptive 1x1), `classifier` = [LayerNorm2d,
/// Flatten, Linear]. Every LayerNorm uses eps 1e-6; GELU is the exact (erf)
/// one; stochastic depth grows linearly to stochastic_depth_prob over the
/// blocks and is inactive in eval mode.

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>
#include <torch/arg.h>
#include <torch/nn/pimpl.h>

#include "modelzoo/models/blocks.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/models/classifier.h"
#include "modelzoo/models/layers.h"

namespace modelzoo::models {

/// One ConvNeXt stage (torchvision.models.convnext.CNBlockConfig).
struct CNBlockConfig {
  int64_t input_channels = 0;                 ///< width of the stage's blocks
  c10::optional<int64_t> out_channels;        ///< width after the downsampling layer; nullopt for the last stage
  int64_t num_layers = 0;                     ///< blocks in the stage
};

/// Options of ConvNeXt.
struct ConvNeXtOptions {
  /// Required: the stages.
  /* implicit */ ConvNeXtOptions(std::vector<CNBlockConfig> block_setting)
      : block_setting_(std::move(block_setting)) {}
  TORCH_ARG(std::vector<CNBlockConfig>, block_setting);
  /// Drop probability of the last block (training only).
  TORCH_ARG(double, stochastic_depth_prob) = 0.0;
  /// Initial value of every CNBlock's layer_scale.
  TORCH_ARG(double, layer_scale) = 1e-6;
  TORCH_ARG(int64_t, num_classes) = 1000;
  /// false: parameters stay uninitialised (to be loaded); true: torchvision's init.
  TORCH_ARG(bool, init_weights) = true;
};

/// CNBlock: `block` = Sequential(depthwise Conv2d 7x7, Permute to NHWC,
/// LayerNorm(eps 1e-6), Linear dim -> 4 dim, GELU, Linear 4 dim -> dim,
/// Permute back); x' = x + stochastic_depth(layer_scale * block(x)). The
/// parameter `layer_scale` has shape [dim, 1, 1].
class CNBlockImpl : public LayerImpl {
 public:
  /// Builds the block; `layer_scale` is the initial scale value.
  CNBlockImpl(int64_t dim, double layer_scale, double stochastic_depth_prob, const InitPolicy& policy);
  /// The residual block on N x dim x H x W.
  at::Tensor forward(const at::Tensor& x) override;

  Sequential block{nullptr};                  ///< the branch
  at::Tensor layer_scale;                     ///< [dim, 1, 1]
  StochasticDepth stochastic_depth{nullptr};  ///< "row" mode
};
/// Handle of CNBlockImpl.
TORCH_MODULE(CNBlock);

/// ConvNeXt; children `features`, `avgpool`, `classifier` as in torchvision.
class ConvNeXtImpl : public ClassifierImpl {
 public:
  /// Builds the network; modelzoo::Error for an empty setting, non-positive
  /// widths or depths, num_classes < 1, or stochastic_depth_prob outside [0, 1].
  explicit ConvNeXtImpl(const ConvNeXtOptions& options);
  /// features -> avgpool -> classifier; H, W >= 32.
  at::Tensor forward(at::Tensor x) override;
  /// The options it was built with.
  const ConvNeXtOptions& options() const { return options_; }

  Sequential features{nullptr};        ///< stem, stages, downsampling layers
  AdaptiveAvgPool2d avgpool{nullptr};  ///< to 1 x 1
  Sequential classifier{nullptr};      ///< LayerNorm2d, Flatten, Linear

 private:
  ConvNeXtOptions options_;
};
/// Handle of ConvNeXtImpl.
TORCH_MODULE(ConvNeXt);

/// ConvNeXt-T (96-192-384-768, depths 3-3-9-3, stochastic depth 0.1).
/// `args.extra` may hold {"stochastic_depth_prob", "layer_scale"};
/// "image_size" is accepted and ignored.
ConvNeXt convnext_tiny(const ArchArgs& args = {});
/// ConvNeXt-S (96-192-384-768, depths 3-3-27-3, stochastic depth 0.4).
ConvNeXt convnext_small(const ArchArgs& args = {});
/// ConvNeXt-B (128-256-512-1024, depths 3-3-27-3, stochastic depth 0.5).
ConvNeXt convnext_base(const ArchArgs& args = {});
/// ConvNeXt-L (192-384-768-1536, depths 3-3-27-3, stochastic depth 0.5).
ConvNeXt convnext_large(const ArchArgs& args = {});

}  // namespace modelzoo::models
