#pragma once
/// \file
/// MobileNet v3 (Howard et al., 2019) as torchvision 0.14 builds it:
/// `features` = Conv2dNormActivation(3 -> 16, stride 2, Hardswish), one
/// InvertedResidual per row of the large or small table, Conv2dNormActivation
/// (-> 6 x last out channels, 1x1, Hardswish); `avgpool` (adaptive 1x1),
/// flatten, `classifier` = (Linear, Hardswish, Dropout, Linear). BatchNorm
/// layers use eps 0.001 and momentum 0.01; squeeze-and-excitation blocks use
/// ReLU and Hardsigmoid. Parameter names and their order are those of
/// torchvision's state_dict().

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/pimpl.h>

#include "modelzoo/models/blocks.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/models/classifier.h"
#include "modelzoo/models/layers.h"
#include "modelzoo/models/mobilenetv2.h"

namespace modelzoo::models {

/// One block of the table (torchvision's InvertedResidualConfig), with the
/// channel counts already adjusted by the width multiplier.
struct MobileNetV3BlockConfig {
  int64_t input_channels = 0;     ///< channels in
  int64_t kernel = 3;             ///< depthwise kernel size
  int64_t expanded_channels = 0;  ///< channels of the depthwise stage
  int64_t out_channels = 0;       ///< channels out
  bool use_se = false;            ///< squeeze-and-excitation after the depthwise stage
  bool use_hs = false;            ///< Hardswish (else ReLU)
  int64_t stride = 1;             ///< 1 or 2
  int64_t dilation = 1;           ///< depthwise dilation (> 1 forces stride 1)
};

/// The table and the classifier's hidden width of one variant.
struct MobileNetV3Config {
  std::vector<MobileNetV3BlockConfig> blocks;  ///< inverted_residual_setting
  int64_t last_channel = 0;                    ///< hidden units of the classifier
};

/// torchvision's _mobilenet_v3_conf: `arch` is "mobilenet_v3_large" or
/// "mobilenet_v3_small"; `reduced_tail` halves the channels of the last
/// stage, `dilated` gives it dilation 2. modelzoo::Error for another arch or
/// width_mult <= 0.
MobileNetV3Config mobilenet_v3_config(const std::string& arch, double width_mult = 1.0,
                                      bool reduced_tail = false, bool dilated = false);

/// Options of MobileNetV3.
struct MobileNetV3Options {
  /// Required: the table (see mobilenet_v3_config()).
  /* implicit */ MobileNetV3Options(MobileNetV3Config config) : config_(std::move(config)) {}
  TORCH_ARG(MobileNetV3Config, config);
  TORCH_ARG(int64_t, num_classes) = 1000;
  /// Dropout probability inside the classifier.
  TORCH_ARG(double, dropout) = 0.2;
  /// BatchNorm2d eps (torchvision: 0.001).
  TORCH_ARG(double, norm_eps) = 0.001;
  /// BatchNorm2d momentum (torchvision: 0.01).
  TORCH_ARG(double, norm_momentum) = 0.01;
  /// false: parameters stay uninitialised (to be loaded); true: torchvision's
  /// init (kaiming_normal_(fan_out) convolutions, normal(0, 0.01) Linear, zero biases).
  TORCH_ARG(bool, init_weights) = true;
};

/// MobileNet v3's InvertedResidual: child `block` = Sequential of
/// [expansion Conv2dNormActivation 1x1,] depthwise Conv2dNormActivation,
/// [SqueezeExcitation,] projection Conv2dNormActivation (no activation);
/// adds the input when stride is 1 and channels in == out.
class MobileNetV3InvertedResidualImpl : public LayerImpl {
 public:
  /// modelzoo::Error for a stride other than 1 or 2 or non-positive channels.
  MobileNetV3InvertedResidualImpl(const MobileNetV3BlockConfig& cnf, double norm_eps,
                                  double norm_momentum, const InitPolicy& init);
  /// block(x), plus x for residual blocks.
  at::Tensor forward(const at::Tensor& x) override;
  /// Whether the input is added to the output.
  bool use_res_connect() const { return use_res_connect_; }

  Sequential block{nullptr};  ///< the block's layers

 private:
  bool use_res_connect_;
};
/// Handle of MobileNetV3InvertedResidualImpl.
TORCH_MODULE(MobileNetV3InvertedResidual);

/// MobileNet v3; children `features`, `avgpool`, `classifier` as in torchvision.
class MobileNetV3Impl : public ClassifierImpl {
 public:
  /// Builds the network; modelzoo::Error for an empty table, num_classes < 1,
  /// last_channel < 1 or dropout outside [0, 1].
  explicit MobileNetV3Impl(const MobileNetV3Options& options);
  /// features -> avgpool -> flatten(1) -> classifier.
  at::Tensor forward(at::Tensor x) override;
  /// The options it was built with.
  const MobileNetV3Options& options() const { return options_; }

  Sequential features{nullptr};        ///< convolutional trunk
  AdaptiveAvgPool2d avgpool{nullptr};  ///< to 1 x 1
  Sequential classifier{nullptr};      ///< Linear, Hardswish, Dropout, Linear

 private:
  MobileNetV3Options options_;
};
/// Handle of MobileNetV3Impl.
TORCH_MODULE(MobileNetV3);

/// MobileNet v3 large, random init unless args.init_weights is false.
/// `args.extra` may hold {"width_mult": x, "reduced_tail": b, "dilated": b,
/// "dropout": p} ("image_size" is accepted and ignored).
MobileNetV3 mobilenet_v3_large(const ArchArgs& args = {});
/// MobileNet v3 small; extra arguments as mobilenet_v3_large().
MobileNetV3 mobilenet_v3_small(const ArchArgs& args = {});

}  // namespace modelzoo::models
