#pragma once
/// \file
/// MobileNet v2 (Sandler et al., 2018) as torchvision 0.14 builds it:
/// `features` = Conv2dNormActivation(3 -> 32, stride 2, ReLU6), the inverted
/// residual blocks of the (t, c, n, s) table, Conv2dNormActivation(-> 1280,
/// 1x1, ReLU6); then adaptive average pooling to 1x1, flatten, and
/// `classifier` = (Dropout, Linear). Every channel count goes through
/// make_divisible(c * width_mult, round_nearest). Parameter names and their
/// order are those of torchvision's state_dict().

#include <array>
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

/// torchvision.models._utils._make_divisible(v, divisor, min_value): `v`
/// rounded to the nearest multiple of `divisor` (at least `min_value`, which
/// defaults to `divisor`), plus one more `divisor` when rounding down lost
/// more than 10%. Every MobileNet width multiplier goes through it.
/// modelzoo::Error for a divisor < 1 or a negative `v`.
int64_t make_divisible(double v, int64_t divisor, c10::optional<int64_t> min_value = c10::nullopt);

/// One row of MobileNet v2's table: expansion t, channels c, repeats n, stride s.
using MobileNetV2Stage = std::array<int64_t, 4>;

/// torchvision's default table: {1,16,1,1}, {6,24,2,2}, {6,32,3,2}, {6,64,4,2},
/// {6,96,3,1}, {6,160,3,2}, {6,320,1,1}.
const std::vector<MobileNetV2Stage>& mobilenet_v2_default_setting();

/// Options of MobileNetV2.
struct MobileNetV2Options {
  TORCH_ARG(int64_t, num_classes) = 1000;
  /// Channel multiplier of every layer (the last one only grows, never shrinks).
  TORCH_ARG(double, width_mult) = 1.0;
  /// Channel counts are rounded to multiples of this (1 turns rounding off).
  TORCH_ARG(int64_t, round_nearest) = 8;
  /// Dropout probability before the last Linear.
  TORCH_ARG(double, dropout) = 0.2;
  /// The (t, c, n, s) table.
  TORCH_ARG(std::vector<MobileNetV2Stage>, inverted_residual_setting) =
      mobilenet_v2_default_setting();
  /// false: parameters stay uninitialised (to be loaded); true: torchvision's
  /// init (kaiming_normal_(fan_out) convolutions, normal(0, 0.01) Linear, zero biases).
  TORCH_ARG(bool, init_weights) = true;
};

/// MobileNet v2's InvertedResidual: child `conv` = Sequential of
/// [Conv2dNormActivation 1x1 expansion (when t != 1),] depthwise
/// Conv2dNormActivation, Conv2d 1x1 projection, BatchNorm2d; adds the input
/// when stride is 1 and channels in == out.
class MobileNetV2InvertedResidualImpl : public LayerImpl {
 public:
  /// modelzoo::Error for a stride other than 1 or 2.
  MobileNetV2InvertedResidualImpl(int64_t inp, int64_t oup, int64_t stride, int64_t expand_ratio,
                                  const InitPolicy& init);
  /// conv(x), plus x for residual blocks.
  at::Tensor forward(const at::Tensor& x) override;
  /// Whether the input is added to the output.
  bool use_res_connect() const { return use_res_connect_; }

  Sequential conv{nullptr};  ///< the block's layers

 private:
  bool use_res_connect_;
};
/// Handle of MobileNetV2InvertedResidualImpl.
TORCH_MODULE(MobileNetV2InvertedResidual);

/// MobileNet v2; children `features`, `classifier` as in torchvision.
class MobileNetV2Impl : public ClassifierImpl {
 public:
  /// Builds the network; modelzoo::Error for an empty or malformed table,
  /// num_classes < 1, width_mult <= 0, round_nearest < 1 or dropout outside [0, 1].
  explicit MobileNetV2Impl(const MobileNetV2Options& options = {});
  /// features -> adaptive_avg_pool2d(1) -> flatten(1) -> classifier.
  at::Tensor forward(at::Tensor x) override;
  /// The options it was built with.
  const MobileNetV2Options& options() const { return options_; }
  /// Channels entering the classifier (1280 for width_mult <= 1).
  int64_t last_channel() const { return last_channel_; }

  Sequential features{nullptr};    ///< convolutional trunk
  Sequential classifier{nullptr};  ///< Dropout, Linear

 private:
  MobileNetV2Options options_;
  int64_t last_channel_ = 0;
};
/// Handle of MobileNetV2Impl.
TORCH_MODULE(MobileNetV2);

/// MobileNet v2, random init unless args.init_weights is false. `args.extra`
/// may hold {"width_mult": x, "round_nearest": n, "dropout": p}
/// ("image_size" is accepted and ignored: any size works).
MobileNetV2 mobilenet_v2(const ArchArgs& args = {});

}  // namespace modelzoo::models
