#pragma once
/// \file
/// RegNet (Radosavovic et al., 2020) X and Y as torchvision 0.14 builds them:
/// `stem` (Conv2dNormActivation 3 -> 32, 3x3 stride 2, BN, ReLU),
/// `trunk_output` (Sequential of stages "block1", "block2", ... each a
/// Sequential of ResBottleneckBlocks "block<stage>-<i>"), `avgpool`, flatten,
/// `fc`. The per-stage widths, depths and group widths come from the four
/// RegNet parameters (depth, w_0, w_a, w_m) through BlockParams::from_init_params,
/// which reproduces torchvision's computation (float32 tensor arithmetic
/// included) so that rounding lands on the same widths. RegNet-Y adds a
/// SqueezeExcitation (ratio 0.25 of the block input width) to every block.
/// The SWAG weights of regnet_y_16gf/32gf/128gf use the same architecture at
/// 384 x 384 input.

#include <cstdint>
#include <string>
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

/// Per-stage settings of a RegNet (torchvision.models.regnet.BlockParams).
struct BlockParams {
  std::vector<int64_t> depths;                 ///< blocks per stage
  std::vector<int64_t> widths;                 ///< output width per stage
  std::vector<int64_t> group_widths;           ///< channels per group per stage
  std::vector<double> bottleneck_multipliers;  ///< bottleneck width / output width per stage
  std::vector<int64_t> strides;                ///< stride of each stage's first block
  c10::optional<double> se_ratio;              ///< SE width / block input width (RegNet-Y)

  /// BlockParams.from_init_params: quantised linear widths
  /// w_j = w_0 + w_a * j, snapped to w_0 * w_m^round(log(w_j / w_0) / log(w_m))
  /// and to multiples of 8, grouped into stages of equal width, then widths
  /// adjusted to be divisible by the group width. modelzoo::Error for
  /// w_a < 0, w_0 <= 0, w_m <= 1, w_0 not a multiple of 8, depth < 1 or group_width < 1.
  static BlockParams from_init_params(int64_t depth, int64_t w_0, double w_a, double w_m,
                                      int64_t group_width, double bottleneck_multiplier = 1.0,
                                      c10::optional<double> se_ratio = c10::nullopt);

  /// Number of stages the network is built with (Python zips the lists, so
  /// the shortest one counts).
  std::size_t num_stages() const;
};

/// Options of RegNet.
struct RegNetOptions {
  /// Required: the per-stage settings.
  /* implicit */ RegNetOptions(BlockParams block_params) : block_params_(std::move(block_params)) {}
  TORCH_ARG(BlockParams, block_params);
  TORCH_ARG(int64_t, num_classes) = 1000;
  /// Output channels of the stem.
  TORCH_ARG(int64_t, stem_width) = 32;
  /// BatchNorm2d eps of every norm layer.
  TORCH_ARG(double, norm_eps) = 1e-5;
  /// BatchNorm2d momentum of every norm layer.
  TORCH_ARG(double, norm_momentum) = 0.1;
  /// false: parameters stay uninitialised (to be loaded); true: torchvision's init.
  TORCH_ARG(bool, init_weights) = true;
};

/// ResBottleneckBlock: x' = relu(proj(x) + f(x)) when the width or stride
/// changes, else relu(x + f(x)); f = BottleneckTransform, a Sequential
/// "a" (1x1 conv-BN-ReLU), "b" (3x3 grouped conv-BN-ReLU, stride), "se"
/// (RegNet-Y only), "c" (1x1 conv-BN). Children `proj` (if any), `f`,
/// `activation`.
class ResBottleneckBlockImpl : public LayerImpl {
 public:
  /// Builds the block; modelzoo::Error when the bottleneck width is not
  /// divisible into groups of `group_width`.
  ResBottleneckBlockImpl(int64_t width_in, int64_t width_out, int64_t stride,
                         const NormFactory& norm, int64_t group_width,
                         double bottleneck_multiplier, c10::optional<double> se_ratio,
                         const InitPolicy& policy);
  /// The residual block.
  at::Tensor forward(const at::Tensor& x) override;

  Conv2dNormActivation proj{nullptr};  ///< 1x1 projection, null when shapes are kept
  Sequential f{nullptr};               ///< bottleneck transform
  ReLU activation{nullptr};            ///< after the sum
};
/// Handle of ResBottleneckBlockImpl.
TORCH_MODULE(ResBottleneckBlock);

/// RegNet; children `stem`, `trunk_output`, `avgpool`, `fc` as in torchvision.
class RegNetImpl : public ClassifierImpl {
 public:
  /// Builds the network; modelzoo::Error for no stages, num_classes < 1 or
  /// inconsistent block parameters.
  explicit RegNetImpl(const RegNetOptions& options);
  /// stem -> trunk_output -> avgpool -> flatten(1) -> fc; any H, W >= 1.
  at::Tensor forward(at::Tensor x) override;
  /// The options it was built with.
  const RegNetOptions& options() const { return options_; }

  Conv2dNormActivation stem{nullptr};  ///< SimpleStemIN
  Sequential trunk_output{nullptr};    ///< the stages
  AdaptiveAvgPool2d avgpool{nullptr};  ///< to 1 x 1
  Linear fc{nullptr};                  ///< classifier

 private:
  RegNetOptions options_;
};
/// Handle of RegNetImpl.
TORCH_MODULE(RegNet);

/// RegNetY-400MF (depth 16, w_0 48, w_a 27.89, w_m 2.09, group width 8, SE 0.25).
/// `args.extra` may hold "image_size" (accepted and ignored: any size works).
RegNet regnet_y_400mf(const ArchArgs& args = {});
/// RegNetY-800MF (14, 56, 38.84, 2.4, 16, SE).
RegNet regnet_y_800mf(const ArchArgs& args = {});
/// RegNetY-1.6GF (27, 48, 20.71, 2.65, 24, SE).
RegNet regnet_y_1_6gf(const ArchArgs& args = {});
/// RegNetY-3.2GF (21, 80, 42.63, 2.66, 24, SE).
RegNet regnet_y_3_2gf(const ArchArgs& args = {});
/// RegNetY-8GF (17, 192, 76.82, 2.19, 56, SE).
RegNet regnet_y_8gf(const ArchArgs& args = {});
/// RegNetY-16GF (18, 200, 106.23, 2.48, 112, SE).
RegNet regnet_y_16gf(const ArchArgs& args = {});
/// RegNetY-32GF (20, 232, 115.89, 2.53, 232, SE).
RegNet regnet_y_32gf(const ArchArgs& args = {});
/// RegNetY-128GF (27, 456, 160.83, 2.52, 264, SE); about 645M parameters (2.6 GB float32).
RegNet regnet_y_128gf(const ArchArgs& args = {});
/// RegNetX-400MF (22, 24, 24.48, 2.54, 16).
RegNet regnet_x_400mf(const ArchArgs& args = {});
/// RegNetX-800MF (16, 56, 35.73, 2.28, 16).
RegNet regnet_x_800mf(const ArchArgs& args = {});
/// RegNetX-1.6GF (18, 80, 34.01, 2.25, 24).
RegNet regnet_x_1_6gf(const ArchArgs& args = {});
/// RegNetX-3.2GF (25, 88, 26.31, 2.25, 48).
RegNet regnet_x_3_2gf(const ArchArgs& args = {});
/// RegNetX-8GF (23, 80, 49.56, 2.88, 120).
RegNet regnet_x_8gf(const ArchArgs& args = {});
/// RegNetX-16GF (22, 216, 55.59, 2.1, 128).
RegNet regnet_x_16gf(const ArchArgs& args = {});
/// RegNetX-32GF (23, 320, 69.86, 2.0, 168).
RegNet regnet_x_32gf(const ArchArgs& args = {});

}  // namespace modelzoo::models
