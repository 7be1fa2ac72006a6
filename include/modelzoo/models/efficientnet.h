#pragma once
/// \file
/// EfficientNet (Tan & Le, 2019) B0-B7 and EfficientNetV2 (Tan & Le, 2021)
/// S/M/L as torchvision 0.14 builds them:
/// `features` = [stem Conv2dNormActivation(3 -> c0, 3x3, stride 2, SiLU),
/// one Sequential of MBConv / FusedMBConv blocks per stage,
/// head Conv2dNormActivation(c_last -> last_channel, 1x1, SiLU)],
/// `avgpool` (adaptive 1x1), flatten, `classifier` = [Dropout, Linear].
/// Stochastic depth grows linearly with the block index
/// (stochastic_depth_prob * i / total_blocks) and is inactive in eval mode.
/// BatchNorm: eps 1e-5 / momentum 0.1 for B0-B4, eps 1e-3 / momentum 0.01
/// for B5-B7, eps 1e-3 / momentum 0.1 for V2. Parameter names and order are
/// those of torchvision's state_dict().

#include <cstdint>
#include <string>
#include <utility>
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

/// One stage of an EfficientNet (a row of Table 1 of the EfficientNet paper or
/// Table 4 of the EfficientNetV2 paper), after width/depth scaling.
struct MBConvConfig {
  double expand_ratio = 1.0;   ///< expansion of the hidden width
  int64_t kernel = 3;          ///< depthwise (MBConv) or fused (FusedMBConv) kernel size
  int64_t stride = 1;          ///< stride of the stage's first block (1 or 2)
  int64_t input_channels = 0;  ///< channels into the stage
  int64_t out_channels = 0;    ///< channels out of every block of the stage
  int64_t num_layers = 1;      ///< blocks in the stage
  bool fused = false;          ///< FusedMBConv (V2's early stages) instead of MBConv

  /// MBConvConfig of torchvision: channels scaled by `width_mult` through
  /// _make_divisible(c * width_mult, 8), layers by ceil(n * depth_mult).
  static MBConvConfig mbconv(double expand_ratio, int64_t kernel, int64_t stride,
                             int64_t input_channels, int64_t out_channels, int64_t num_layers,
                             double width_mult = 1.0, double depth_mult = 1.0);
  /// FusedMBConvConfig of torchvision (no scaling).
  static MBConvConfig fused_mbconv(double expand_ratio, int64_t kernel, int64_t stride,
                                   int64_t input_channels, int64_t out_channels,
                                   int64_t num_layers);
  /// _MBConvConfig.adjust_channels: _make_divisible(channels * width_mult, 8).
  static int64_t adjust_channels(int64_t channels, double width_mult);
};

/// Options of EfficientNet.
struct EfficientNetOptions {
  /// Required: the stages and the classifier's dropout probability.
  EfficientNetOptions(std::vector<MBConvConfig> inverted_residual_setting, double dropout)
      : inverted_residual_setting_(std::move(inverted_residual_setting)), dropout_(dropout) {}
  TORCH_ARG(std::vector<MBConvConfig>, inverted_residual_setting);
  /// Dropout probability before the final Linear layer.
  TORCH_ARG(double, dropout);
  /// Drop probability of the last block (training only).
  TORCH_ARG(double, stochastic_depth_prob) = 0.2;
  TORCH_ARG(int64_t, num_classes) = 1000;
  /// Width of the head convolution; nullopt: 4 x the last stage's channels.
  TORCH_ARG(c10::optional<int64_t>, last_channel) = c10::nullopt;
  /// BatchNorm2d eps of every norm layer.
  TORCH_ARG(double, norm_eps) = 1e-5;
  /// BatchNorm2d momentum of every norm layer.
  TORCH_ARG(double, norm_momentum) = 0.1;
  /// false: parameters stay uninitialised (to be loaded); true: torchvision's init.
  TORCH_ARG(bool, init_weights) = true;
};

/// Mobile inverted bottleneck: [1x1 expand conv-BN-SiLU if expand_ratio != 1],
/// depthwise kxk conv-BN-SiLU, SqueezeExcitation (squeeze = max(1, in / 4),
/// SiLU), 1x1 project conv-BN; residual with stochastic depth when stride is 1
/// and channels are kept. Children `block` and `stochastic_depth`.
/// (torchvision.models.efficientnet.MBConv; prefixed here because MaxViT has
/// an MBConv of its own.)
class EfficientNetMBConvImpl : public LayerImpl {
 public:
  /// Builds the block; modelzoo::Error for a stride other than 1 or 2.
  EfficientNetMBConvImpl(const MBConvConfig& config, double stochastic_depth_prob,
                         const NormFactory& norm, const InitPolicy& policy);
  /// block(x) [+ stochastic_depth(...) + x].
  at::Tensor forward(const at::Tensor& x) override;
  /// Whether the block adds its input (stride 1 and equal channels).
  bool use_res_connect() const { return use_res_connect_; }

  Sequential block{nullptr};                  ///< the convolutions
  StochasticDepth stochastic_depth{nullptr};  ///< "row" mode

 private:
  bool use_res_connect_;
};
/// Handle of EfficientNetMBConvImpl.
TORCH_MODULE(EfficientNetMBConv);

/// Fused mobile inverted bottleneck (EfficientNetV2): kxk conv-BN-SiLU
/// expanding, then 1x1 conv-BN projecting (or a single kxk conv-BN-SiLU when
/// expand_ratio is 1); residual as MBConv. Children `block` and `stochastic_depth`.
class FusedMBConvImpl : public LayerImpl {
 public:
  /// Builds the block; modelzoo::Error for a stride other than 1 or 2.
  FusedMBConvImpl(const MBConvConfig& config, double stochastic_depth_prob,
                  const NormFactory& norm, const InitPolicy& policy);
  /// block(x) [+ stochastic_depth(...) + x].
  at::Tensor forward(const at::Tensor& x) override;
  /// Whether the block adds its input (stride 1 and equal channels).
  bool use_res_connect() const { return use_res_connect_; }

  Sequential block{nullptr};                  ///< the convolutions
  StochasticDepth stochastic_depth{nullptr};  ///< "row" mode

 private:
  bool use_res_connect_;
};
/// Handle of FusedMBConvImpl.
TORCH_MODULE(FusedMBConv);

/// EfficientNet v1/v2; children `features`, `avgpool`, `classifier` as in torchvision.
class EfficientNetImpl : public ClassifierImpl {
 public:
  /// Builds the network; modelzoo::Error for an empty setting, num_classes < 1,
  /// or probabilities outside [0, 1].
  explicit EfficientNetImpl(const EfficientNetOptions& options);
  /// features -> avgpool -> flatten(1) -> classifier; any H, W >= 1.
  at::Tensor forward(at::Tensor x) override;
  /// The options it was built with.
  const EfficientNetOptions& options() const { return options_; }

  Sequential features{nullptr};        ///< stem, stages, head convolution
  AdaptiveAvgPool2d avgpool{nullptr};  ///< to 1 x 1
  Sequential classifier{nullptr};      ///< Dropout, Linear

 private:
  EfficientNetOptions options_;
};
/// Handle of EfficientNetImpl.
TORCH_MODULE(EfficientNet);

/// torchvision's _efficientnet_conf(arch): the stages of "efficientnet_b0"
/// ... "efficientnet_b7" (scaled by `width_mult`, `depth_mult`) or
/// "efficientnet_v2_s/m/l" (multipliers ignored), and the head width
/// (nullopt for B*, 1280 for V2). modelzoo::Error for another name.
std::pair<std::vector<MBConvConfig>, c10::optional<int64_t>> efficientnet_config(
    const std::string& arch, double width_mult = 1.0, double depth_mult = 1.0);

/// EfficientNet-B0 (width 1.0, depth 1.0, dropout 0.2). `args.extra` may hold
/// {"dropout", "stochastic_depth_prob"}; "image_size" is accepted and ignored
/// (any input size works).
EfficientNet efficientnet_b0(const ArchArgs& args = {});
/// EfficientNet-B1 (width 1.0, depth 1.1, dropout 0.2).
EfficientNet efficientnet_b1(const ArchArgs& args = {});
/// EfficientNet-B2 (width 1.1, depth 1.2, dropout 0.3).
EfficientNet efficientnet_b2(const ArchArgs& args = {});
/// EfficientNet-B3 (width 1.2, depth 1.4, dropout 0.3).
EfficientNet efficientnet_b3(const ArchArgs& args = {});
/// EfficientNet-B4 (width 1.4, depth 1.8, dropout 0.4).
EfficientNet efficientnet_b4(const ArchArgs& args = {});
/// EfficientNet-B5 (width 1.6, depth 2.2, dropout 0.4, BN eps 1e-3 momentum 0.01).
EfficientNet efficientnet_b5(const ArchArgs& args = {});
/// EfficientNet-B6 (width 1.8, depth 2.6, dropout 0.5, BN eps 1e-3 momentum 0.01).
EfficientNet efficientnet_b6(const ArchArgs& args = {});
/// EfficientNet-B7 (width 2.0, depth 3.1, dropout 0.5, BN eps 1e-3 momentum 0.01).
EfficientNet efficientnet_b7(const ArchArgs& args = {});
/// EfficientNetV2-S (dropout 0.2, BN eps 1e-3).
EfficientNet efficientnet_v2_s(const ArchArgs& args = {});
/// EfficientNetV2-M (dropout 0.3, BN eps 1e-3).
EfficientNet efficientnet_v2_m(const ArchArgs& args = {});
/// EfficientNetV2-L (dropout 0.4, BN eps 1e-3).
EfficientNet efficientnet_v2_l(const ArchArgs& args = {});

}  // namespace modelzoo::models
