#pragma once
/// \file
/// MaxViT (Tu et al., 2022) as torchvision 0.14 builds it: a convolutional
/// `stem` (two 3x3 convolutions, the first with stride 2), then `blocks` of
/// MaxVitLayers — each an MBConv (BatchNorm pre-norm, 1x1 expand, 3x3
/// depthwise, squeeze-excitation, 1x1 project, with a pooled 1x1 shortcut
/// when the shape changes), then attention within non-overlapping
/// partition_size x partition_size windows ("window" partition), then
/// attention across a partition_size x partition_size grid of strided
/// positions ("grid" partition), both with a learnt relative position bias —
/// and a `classifier` (pool, flatten, LayerNorm, Linear, Tanh, Linear).
///
/// BatchNorm layers use eps 1e-3 and momentum 0.99 (torchvision's setting;
/// Python's momentum weighs the *new* batch statistics by 0.99), attention and
/// MLP LayerNorms eps 1e-5, activations exact GELU (SiLU inside the
/// squeeze-excitation). The partition geometry is fixed when the network is
/// built, so the model accepts only images of its input_size (224 x 224 for
/// the IMAGENET1K_V1 weights); every block's input must be divisible by the
/// partition size.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "modelzoo/models/blocks.h"
#include "modelzoo/models/catalog.h"
#include "modelzoo/models/classifier.h"
#include "modelzoo/models/layers.h"

namespace modelzoo::models {

/// A (height, width) pair of a MaxViT feature map or input.
using MaxVitSize = std::array<int64_t, 2>;

/// Options of MaxVitMBConv (MaxViT's mobile inverted bottleneck, torchvision's
/// maxvit.MBConv; named apart from EfficientNet's MBConv).
struct MaxVitMBConvOptions {
  /// Required: channels in/out, expansion and squeeze ratios, stride (1 or 2).
  MaxVitMBConvOptions(int64_t in_channels, int64_t out_channels, double expansion_ratio,
                double squeeze_ratio, int64_t stride)
      : in_channels_(in_channels),
        out_channels_(out_channels),
        expansion_ratio_(expansion_ratio),
        squeeze_ratio_(squeeze_ratio),
        stride_(stride) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(double, expansion_ratio);
  TORCH_ARG(double, squeeze_ratio);
  TORCH_ARG(int64_t, stride);
  /// Stochastic depth on the residual branch (0: an Identity, as in Python).
  TORCH_ARG(double, p_stochastic_dropout) = 0.0;
  /// The norm layer (torchvision's norm_layer); MaxViT: BatchNorm2d(eps=1e-3, momentum=0.99).
  TORCH_ARG(NormFactory, norm) = batch_norm2d_factory(1e-3, 0.99);
  /// The activation (torchvision's activation_layer); MaxViT: GELU.
  TORCH_ARG(ActivationFactory, activation) = activation_factory<GELU>();
};

/// torchvision.models.maxvit.MBConv: children `proj` (Identity, or
/// Sequential [AvgPool2d(3, stride, 1) when strided,] Conv2d 1x1 with bias),
/// `stochastic_depth`, `layers` (`pre_norm`, `conv_a`, `conv_b`,
/// `squeeze_excitation`, `conv_c`). forward(x) = proj(x) + sd(layers(x)).
class MaxVitMBConvImpl : public LayerImpl {
 public:
  /// Builds the block; modelzoo::Error for a stride other than 1 or 2 or
  /// non-positive sizes.
  MaxVitMBConvImpl(const MaxVitMBConvOptions& options, const InitPolicy& policy);
  /// [B, C_in, H, W] -> [B, C_out, H / stride, W / stride].
  at::Tensor forward(const at::Tensor& x) override;
  /// The options it was built with.
  const MaxVitMBConvOptions& options() const { return options_; }

  LayerPtr proj;              ///< shortcut: Identity or Sequential
  LayerPtr stochastic_depth;  ///< Identity or StochasticDepth
  Sequential layers{nullptr}; ///< the residual branch

 private:
  MaxVitMBConvOptions options_;
};
/// Handle of MaxVitMBConvImpl.
TORCH_MODULE(MaxVitMBConv);

/// torchvision's RelativePositionalMultiHeadAttention over [B, G, P, D]
/// tensors (G groups of P = max_seq_len tokens): children `to_qkv` (Linear
/// D -> 3D), `merge` (Linear D -> D), parameter `relative_position_bias_table`
/// [(2s-1)^2, heads] and buffer `relative_position_index` [P, P] (s =
/// sqrt(P)). Keys are scaled by feat_dim^-0.5, as torchvision does.
class RelativePositionalMultiHeadAttentionImpl : public LayerImpl {
 public:
  /// `feat_dim` must be divisible by `head_dim`; max_seq_len a square.
  RelativePositionalMultiHeadAttentionImpl(int64_t feat_dim, int64_t head_dim, int64_t max_seq_len,
                                           const InitPolicy& policy);
  /// [B, G, P, D] -> [B, G, P, D].
  at::Tensor forward(const at::Tensor& x) override;
  /// [1, heads, P, P].
  at::Tensor relative_positional_bias() const;

  Linear to_qkv{nullptr};
  Linear merge{nullptr};
  at::Tensor relative_position_bias_table;  ///< [(2s-1)^2, heads]
  at::Tensor relative_position_index;       ///< [P, P], int64

 private:
  int64_t feat_dim_, head_dim_, n_heads_, size_, max_seq_len_;
};
/// Handle of RelativePositionalMultiHeadAttentionImpl.
TORCH_MODULE(RelativePositionalMultiHeadAttention);

/// Options of PartitionAttentionLayer.
struct PartitionAttentionOptions {
  /// Required: channels, head width, partition size, "window" or "grid",
  /// and the feature map size (h, w) the layer works on.
  PartitionAttentionOptions(int64_t in_channels, int64_t head_dim, int64_t partition_size,
                            std::string partition_type, MaxVitSize grid_size)
      : in_channels_(in_channels),
        head_dim_(head_dim),
        partition_size_(partition_size),
        partition_type_(std::move(partition_type)),
        grid_size_(grid_size) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, head_dim);
  TORCH_ARG(int64_t, partition_size);
  TORCH_ARG(std::string, partition_type);
  TORCH_ARG(MaxVitSize, grid_size);
  TORCH_ARG(int64_t, mlp_ratio) = 4;
  TORCH_ARG(double, attention_dropout) = 0.0;
  TORCH_ARG(double, mlp_dropout) = 0.0;
  TORCH_ARG(double, p_stochastic_dropout) = 0.0;
  /// LayerNorm epsilon (attention and MLP norms).
  TORCH_ARG(double, norm_eps) = 1e-5;
};

/// torchvision's PartitionAttentionLayer: partitions [B, C, H, W] into
/// windows (or a grid), then x += sd(attn_layer(x)); x += sd(mlp_layer(x));
/// then departitions. Children `attn_layer` (LayerNorm, attention, Dropout),
/// `mlp_layer` (LayerNorm, Linear C->mlp_ratio C, GELU, Linear, Dropout),
/// `stochastic_dropout`.
class PartitionAttentionLayerImpl : public LayerImpl {
 public:
  /// Builds the layer; modelzoo::Error for an unknown partition type or a
  /// grid size not divisible by the partition size.
  PartitionAttentionLayerImpl(const PartitionAttentionOptions& options, const InitPolicy& policy);
  /// [B, C, grid_h, grid_w] -> same shape; modelzoo::Error for another shape.
  at::Tensor forward(const at::Tensor& x) override;
  /// The options it was built with.
  const PartitionAttentionOptions& options() const { return options_; }

  Sequential attn_layer{nullptr};
  Sequential mlp_layer{nullptr};
  StochasticDepth stochastic_dropout{nullptr};

 private:
  PartitionAttentionOptions options_;
  int64_t p_ = 0;  // partition argument of WindowPartition (torchvision's self.p)
};
/// Handle of PartitionAttentionLayerImpl.
TORCH_MODULE(PartitionAttentionLayer);

/// torchvision's MaxVitLayer: child `layers` = `MBconv` (stride as given),
/// `window_attention`, `grid_attention`, applied in that order.
class MaxVitLayerImpl : public LayerImpl {
 public:
  /// Wraps the three sub-layers under torchvision's names.
  MaxVitLayerImpl(MaxVitMBConv mbconv, PartitionAttentionLayer window_attention,
                  PartitionAttentionLayer grid_attention);
  /// layers(x).
  at::Tensor forward(const at::Tensor& x) override;

  Sequential layers{nullptr};  ///< MBconv, window_attention, grid_attention
};
/// Handle of MaxVitLayerImpl.
TORCH_MODULE(MaxVitLayer);

/// torchvision's MaxVitBlock: child `layers` (MaxVitLayers "0", "1", ...; the
/// first one halves the resolution).
class MaxVitBlockImpl : public LayerImpl {
 public:
  /// An empty block whose layers work on a `grid_size` feature map.
  explicit MaxVitBlockImpl(MaxVitSize grid_size);
  /// Applies the layers in order.
  at::Tensor forward(const at::Tensor& x) override;
  /// The feature map size after the block's first (strided) layer.
  const MaxVitSize& grid_size() const { return grid_size_; }

  Sequential layers{nullptr};  ///< MaxVitLayer "0", "1", ...

 private:
  MaxVitSize grid_size_;
};
/// Handle of MaxVitBlockImpl.
TORCH_MODULE(MaxVitBlock);

/// Options of MaxVit (torchvision's constructor arguments).
struct MaxVitOptions {
  /// Required: input (h, w), stem width, partition size, per-block widths
  /// and depths, attention head width, largest stochastic depth probability.
  MaxVitOptions(MaxVitSize input_size, int64_t stem_channels, int64_t partition_size,
                std::vector<int64_t> block_channels, std::vector<int64_t> block_layers,
                int64_t head_dim, double stochastic_depth_prob)
      : input_size_(input_size),
        stem_channels_(stem_channels),
        partition_size_(partition_size),
        block_channels_(std::move(block_channels)),
        block_layers_(std::move(block_layers)),
        head_dim_(head_dim),
        stochastic_depth_prob_(stochastic_depth_prob) {}
  TORCH_ARG(MaxVitSize, input_size);
  TORCH_ARG(int64_t, stem_channels);
  TORCH_ARG(int64_t, partition_size);
  TORCH_ARG(std::vector<int64_t>, block_channels);
  TORCH_ARG(std::vector<int64_t>, block_layers);
  TORCH_ARG(int64_t, head_dim);
  TORCH_ARG(double, stochastic_depth_prob);
  TORCH_ARG(double, squeeze_ratio) = 0.25;
  TORCH_ARG(double, expansion_ratio) = 4.0;
  TORCH_ARG(int64_t, mlp_ratio) = 4;
  TORCH_ARG(double, mlp_dropout) = 0.0;
  TORCH_ARG(double, attention_dropout) = 0.0;
  TORCH_ARG(int64_t, num_classes) = 1000;
  /// false: parameters stay uninitialised (to be loaded); true: torchvision's init.
  TORCH_ARG(bool, init_weights) = true;
};

/// MaxVit; children `stem`, `blocks` (each with `layers.<i>.layers` =
/// `MBconv`, `window_attention`, `grid_attention`), `classifier`.
class MaxVitImpl : public ClassifierImpl {
 public:
  /// Builds the network; modelzoo::Error when a block's input size is not
  /// divisible by partition_size (listing every block's input size), for
  /// block_channels and block_layers of different lengths, num_classes < 1, ...
  explicit MaxVitImpl(const MaxVitOptions& options);
  /// Logits for N x 3 x input_size images (modelzoo::Error for another size).
  at::Tensor forward(at::Tensor x) override;
  /// The options it was built with.
  const MaxVitOptions& options() const { return options_; }

  Sequential stem{nullptr};
  Sequential blocks{nullptr};
  Sequential classifier{nullptr};

 private:
  MaxVitOptions options_;
};
/// Handle of MaxVitImpl.
TORCH_MODULE(MaxVit);

/// MaxViT-T (stem 64, blocks 64-128-256-512 with 2-2-5-2 layers, head width
/// 32, partition 7, stochastic depth 0.2). `args.extra` may hold
/// "image_size" (one number) or "input_size" ([h, w]), default 224;
/// "mlp_dropout", "attention_dropout", "stochastic_depth_prob".
MaxVit maxvit_t(const ArchArgs& args = {});

}  // namespace modelzoo::models
