#pragma once
/// \file
/// Swin Transformer v1 (Liu et al., 2021) and v2 (Liu et al., 2022) as
/// torchvision 0.14 builds them. The network works on N x H x W x C tensors:
/// `features.0` patchifies (Conv2d, Permute to NHWC, LayerNorm), then stages
/// of SwinTransformerBlock (windowed self-attention whose windows shift by
/// half a window every other block, with a relative position bias and an
/// attention mask across the shifted borders) alternate with patch merging
/// (2 x 2 neighbourhoods concatenated, then Linear 4C -> 2C); `norm`,
/// `permute`, `avgpool`, `flatten` and `head` classify.
///
/// v1: pre-norm blocks, a learnt `relative_position_bias_table` per block,
/// scaled dot-product attention, PatchMerging (norm, then reduction).
/// v2: post-norm blocks, cosine attention scaled by the learnt per-head
/// `logit_scale` (clamped at log 100), a relative position bias produced by the
/// small `cpb_mlp` from the log-spaced `relative_coords_table` buffer, the
/// key part of the qkv bias unused, PatchMergingV2 (reduction, then norm).
/// Windows are padded to whole windows, so any input of at least the patch
/// size works; stochastic depth is active only in training mode.
///
/// Difference from torchvision: the attention and projection dropouts apply
/// in training mode only. torchvision 0.14 calls F.dropout there without
/// passing the module's training flag, so with non-zero attention_dropout or
/// dropout its eval-mode outputs are random; with the builders' defaults (0)
/// both behave the same.

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

/// Options of ShiftedWindowAttention.
struct ShiftedWindowAttentionOptions {
  /// Required: channels, window (h, w), shift (h, w) and number of heads.
  ShiftedWindowAttentionOptions(int64_t dim, std::vector<int64_t> window_size,
                                std::vector<int64_t> shift_size, int64_t num_heads)
      : dim_(dim),
        window_size_(std::move(window_size)),
        shift_size_(std::move(shift_size)),
        num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(std::vector<int64_t>, window_size);
  TORCH_ARG(std::vector<int64_t>, shift_size);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(bool, proj_bias) = true;
  /// Dropout on attention weights (training mode only).
  TORCH_ARG(double, attention_dropout) = 0.0;
  /// Dropout on the output (training mode only).
  TORCH_ARG(double, dropout) = 0.0;
  /// ShiftedWindowAttentionV2: cosine attention and continuous position bias.
  TORCH_ARG(bool, v2) = false;
};

/// torchvision's ShiftedWindowAttention (v1) / ShiftedWindowAttentionV2.
/// v1 holds parameter `relative_position_bias_table` [(2Wh-1)(2Ww-1), heads]
/// and buffer `relative_position_index` [(WhWw)^2]; v2 holds parameter
/// `logit_scale` [heads, 1, 1], buffers `relative_coords_table`
/// [1, 2Wh-1, 2Ww-1, 2] and `relative_position_index`, and child `cpb_mlp`
/// (Linear 2->512, ReLU, Linear 512->heads without bias). Both hold `qkv`
/// (Linear dim -> 3 dim) and `proj` (Linear dim -> dim).
class ShiftedWindowAttentionImpl : public LayerImpl {
 public:
  /// Validates the options (two-element window and shift, dim divisible by
  /// heads; modelzoo::Error otherwise) and allocates parameters per `policy`.
  ShiftedWindowAttentionImpl(const ShiftedWindowAttentionOptions& options, const InitPolicy& policy);
  /// `x`: [B, H, W, C] -> same shape.
  at::Tensor forward(const at::Tensor& x) override;
  /// The bias added to the attention logits: [1, heads, WhWw, WhWw].
  at::Tensor relative_position_bias();
  /// Python-style description.
  void pretty_print(std::ostream& stream) const override;
  /// The options it was built with.
  const ShiftedWindowAttentionOptions& options() const { return options_; }

  Linear qkv{nullptr};                    ///< dim -> 3 dim
  Linear proj{nullptr};                   ///< dim -> dim
  at::Tensor relative_position_bias_table;  ///< v1 only
  at::Tensor relative_coords_table;       ///< v2 only (buffer)
  at::Tensor relative_position_index;     ///< buffer, int64
  at::Tensor logit_scale;                 ///< v2 only
  Sequential cpb_mlp{nullptr};            ///< v2 only

 private:
  ShiftedWindowAttentionOptions options_;
};
/// Handle of ShiftedWindowAttentionImpl.
TORCH_MODULE(ShiftedWindowAttention);

/// Options of SwinTransformerBlock.
struct SwinTransformerBlockOptions {
  /// Required: channels, heads, window (h, w) and shift (h, w).
  SwinTransformerBlockOptions(int64_t dim, int64_t num_heads, std::vector<int64_t> window_size,
                              std::vector<int64_t> shift_size)
      : dim_(dim),
        num_heads_(num_heads),
        window_size_(std::move(window_size)),
        shift_size_(std::move(shift_size)) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(std::vector<int64_t>, window_size);
  TORCH_ARG(std::vector<int64_t>, shift_size);
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(double, dropout) = 0.0;
  TORCH_ARG(double, attention_dropout) = 0.0;
  TORCH_ARG(double, stochastic_depth_prob) = 0.0;
  /// LayerNorm epsilon.
  TORCH_ARG(double, norm_eps) = 1e-5;
  /// SwinTransformerBlockV2 (post-norm, ShiftedWindowAttentionV2).
  TORCH_ARG(bool, v2) = false;
};

/// torchvision's SwinTransformerBlock / SwinTransformerBlockV2: children
/// `norm1`, `attn`, `stochastic_depth`, `norm2`, `mlp` (Linear, GELU,
/// Dropout, Linear, Dropout).
/// v1: x += sd(attn(norm1(x))); x += sd(mlp(norm2(x))).
/// v2: x += sd(norm1(attn(x))); x += sd(norm2(mlp(x))).
class SwinTransformerBlockImpl : public LayerImpl {
 public:
  /// Builds the block.
  SwinTransformerBlockImpl(const SwinTransformerBlockOptions& options, const InitPolicy& policy);
  /// `x`: [B, H, W, C] -> same shape.
  at::Tensor forward(const at::Tensor& x) override;
  /// The options it was built with.
  const SwinTransformerBlockOptions& options() const { return options_; }

  LayerNorm norm1{nullptr};
  ShiftedWindowAttention attn{nullptr};
  StochasticDepth stochastic_depth{nullptr};
  LayerNorm norm2{nullptr};
  MLP mlp{nullptr};

 private:
  SwinTransformerBlockOptions options_;
};
/// Handle of SwinTransformerBlockImpl.
TORCH_MODULE(SwinTransformerBlock);

/// torchvision's PatchMerging (v1: norm over 4C, then `reduction` Linear
/// 4C -> 2C without bias) and PatchMergingV2 (reduction, then norm over 2C).
/// Odd heights and widths are zero-padded by one first.
class PatchMergingImpl : public LayerImpl {
 public:
  /// `dim`: input channels C.
  PatchMergingImpl(int64_t dim, bool v2, double norm_eps, const InitPolicy& policy);
  /// [..., H, W, C] -> [..., ceil(H/2), ceil(W/2), 2C].
  at::Tensor forward(const at::Tensor& x) override;

  Linear reduction{nullptr};  ///< 4C -> 2C, no bias
  LayerNorm norm{nullptr};    ///< over 4C (v1) or 2C (v2)

 private:
  int64_t dim_;
  bool v2_;
};
/// Handle of PatchMergingImpl.
TORCH_MODULE(PatchMerging);

/// Options of SwinTransformer (torchvision's constructor arguments).
struct SwinTransformerOptions {
  /// Required: patch (h, w), embedding width, blocks per stage, heads per
  /// stage and window (h, w).
  SwinTransformerOptions(std::vector<int64_t> patch_size, int64_t embed_dim,
                         std::vector<int64_t> depths, std::vector<int64_t> num_heads,
                         std::vector<int64_t> window_size)
      : patch_size_(std::move(patch_size)),
        embed_dim_(embed_dim),
        depths_(std::move(depths)),
        num_heads_(std::move(num_heads)),
        window_size_(std::move(window_size)) {}
  TORCH_ARG(std::vector<int64_t>, patch_size);
  TORCH_ARG(int64_t, embed_dim);
  TORCH_ARG(std::vector<int64_t>, depths);
  TORCH_ARG(std::vector<int64_t>, num_heads);
  TORCH_ARG(std::vector<int64_t>, window_size);
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(double, dropout) = 0.0;
  TORCH_ARG(double, attention_dropout) = 0.0;
  /// Largest stochastic depth probability (the last block's); block i of n
  /// gets prob * i / (n - 1).
  TORCH_ARG(double, stochastic_depth_prob) = 0.1;
  TORCH_ARG(int64_t, num_classes) = 1000;
  /// Swin v2 blocks and PatchMergingV2.
  TORCH_ARG(bool, v2) = false;
  /// false: parameters stay uninitialised (to be loaded); true: torchvision's init.
  TORCH_ARG(bool, init_weights) = true;
};

/// SwinTransformer; children `features`, `norm`, `permute`, `avgpool`,
/// `flatten`, `head`, as in torchvision.
class SwinTransformerImpl : public ClassifierImpl {
 public:
  /// Builds the network; modelzoo::Error for inconsistent options (depths and
  /// num_heads of different lengths, non-positive sizes, num_classes < 1, ...).
  explicit SwinTransformerImpl(const SwinTransformerOptions& options);
  /// Logits for N x 3 x H x W images (H, W >= patch size).
  at::Tensor forward(at::Tensor x) override;
  /// The options it was built with.
  const SwinTransformerOptions& options() const { return options_; }

  Sequential features{nullptr};      ///< patch embedding, stages and patch merging
  LayerNorm norm{nullptr};
  Permute permute{nullptr};          ///< NHWC -> NCHW
  AdaptiveAvgPool2d avgpool{nullptr};
  Flatten flatten{nullptr};
  Linear head{nullptr};

 private:
  SwinTransformerOptions options_;
};
/// Handle of SwinTransformerImpl.
TORCH_MODULE(SwinTransformer);

/// Swin-T (embed 96, depths 2-2-6-2, heads 3-6-12-24, window 7, stochastic
/// depth 0.2). `args.extra` may hold "dropout", "attention_dropout",
/// "stochastic_depth_prob", "mlp_ratio" and "image_size" (accepted and
/// ignored: Swin takes any input size).
SwinTransformer swin_t(const ArchArgs& args = {});
/// Swin-S (depths 2-2-18-2, stochastic depth 0.3).
SwinTransformer swin_s(const ArchArgs& args = {});
/// Swin-B (embed 128, heads 4-8-16-32, stochastic depth 0.5).
SwinTransformer swin_b(const ArchArgs& args = {});
/// Swin-V2-T (as Swin-T with window 8 and v2 blocks).
SwinTransformer swin_v2_t(const ArchArgs& args = {});
/// Swin-V2-S (as Swin-S with window 8 and v2 blocks).
SwinTransformer swin_v2_s(const ArchArgs& args = {});
/// Swin-V2-B (as Swin-B with window 8 and v2 blocks).
SwinTransformer swin_v2_b(const ArchArgs& args = {});

}  // namespace modelzoo::models
